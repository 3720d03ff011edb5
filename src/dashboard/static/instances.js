// Instances and where their layers live: one bar per instance, a segment per pipeline stage sized by
// its share of the layers, and the predicted decode rate beside the one measured by this page's chats.
import { el, nodeColour, rate } from "./format.js";
import { nodeName } from "./cluster-view.js";

function runnerStatus(state, instanceId, nodeId) {
  return state.runners?.[`${instanceId}#${nodeId}`]?.status ?? "unknown";
}

function stageBar(state, inst) {
  const total = inst.placement.at(-1)?.end ?? 0;
  return el("div", {},
    el("div", { class: "muted small", text: `${total} layers in ${inst.placement.length} stage${inst.placement.length === 1 ? "" : "s"}` }),
    el("div", { class: "placement", role: "list" }, ...stageSegments(state, inst)));
}

function stageSegments(state, inst) {
  return inst.placement.map((s, i) => {
    const status = runnerStatus(state, inst.instanceId, s.nodeId);
    const name = nodeName(state, s.nodeId);
    return el("div", {
      class: "stage", role: "listitem", "data-node-id": s.nodeId, "data-start": s.start, "data-end": s.end, "data-status": status,
      title: `stage ${i}: ${name}, runner ${status}`,
      style: { flex: `${s.end - s.start} 1 0`, background: nodeColour(s.nodeId), opacity: status === "ready" || status === "running" ? "1" : "0.55" },
    }, el("strong", { text: name }), el("span", { class: "layers", text: `layers [${s.start}, ${s.end})` }));
  });
}

function rates(prediction, measured) {
  const predicted = prediction?.predicted
    ? rate(prediction.predicted.tok_per_sec)
    : prediction?.reason ? `— (${prediction.reason})` : "—";
  const got = measured ? `${rate(measured.tokPerSec)} (last chat, ${measured.tokens} tokens)` : "— (chat with it to measure)";
  return el("div", { class: "rates" },
    el("span", {}, "Predicted ", el("strong", { class: "predicted", text: predicted })),
    el("span", {}, "Measured ", el("strong", { class: "measured", text: got })));
}

/** predictions: Map instanceId → /instance/predictions entry; measured: Map instanceId → { tokPerSec, tokens }. */
export function renderInstances(root, state, predictions, measured) {
  const list = Object.values(state.instances ?? {}).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  if (list.length === 0) {
    root.replaceChildren(el("p", { class: "muted", text: "No instances. Place one with `tessera place` or POST /instance." }));
    return;
  }
  root.replaceChildren(...list.map((inst) => {
    const statuses = inst.placement.map((s) => runnerStatus(state, inst.instanceId, s.nodeId));
    const ready = statuses.filter((s) => s === "ready" || s === "running").length;
    return el("article", { class: "instance", "data-instance-id": inst.instanceId },
      el("div", { class: "instance-head" },
        el("strong", { text: inst.instanceId }),
        el("span", { class: "muted", text: inst.model.split(/[\\/]/).at(-1) }),
        el("span", { class: "badge", "data-state": ready === statuses.length ? "live" : "connecting", text: `${ready}/${statuses.length} stages ready` }),
        inst.replaces ? el("span", { class: "muted small", text: `replaces ${inst.replaces}` }) : null),
      stageBar(state, inst),
      rates(predictions.get(inst.instanceId), measured.get(inst.instanceId)));
  }));
}
