// The event log: each indexed cluster event in words, newest at the bottom, scrolling with the stream
// unless the reader has scrolled up. Frequent telemetry and heartbeat events can be hidden.
import { bytes, el, ms, shortId } from "./format.js";
import { nodeName } from "./cluster-view.js";

const MAX_ENTRIES = 1000;
const QUIET = new Set(["NodeSeen", "NodeTelemetryUpdated", "DeviceGPUStateUpdated", "GPUBandwidthMeasured"]);

export function describe(state, e) {
  const n = (id) => nodeName(state, id);
  switch (e.type) {
    case "NodeJoined": return `${e.name} (${shortId(e.nodeId)}) joined`;
    case "NodeTimedOut": return `${n(e.nodeId)} timed out`;
    case "NodeLeft": return `${n(e.nodeId)} left`;
    case "NodeSeen": return `${n(e.nodeId)} seen`;
    case "TopologyEdgeCreated": return `link ${n(e.from)} → ${n(e.to)}${e.latencyMs === undefined ? "" : ` ${ms(e.latencyMs)}`}`;
    case "TopologyEdgeDeleted": return `link ${n(e.from)} → ${n(e.to)} removed`;
    case "MasterElected": return `${n(e.nodeId)} is master (term ${e.term})`;
    case "DeviceGPUStateUpdated": return `${n(e.nodeId)}: ${e.gpus.length} GPU${e.gpus.length === 1 ? "" : "s"}`;
    case "NodeTelemetryUpdated": return `${n(e.nodeId)}: telemetry`;
    case "NodeProfileUpdated": return `${n(e.nodeId)}: device profile`;
    case "GPUBandwidthMeasured": return `${n(e.from)} → ${n(e.to)}: ${ms(e.latencyMs)}, ${bytes(e.throughputBps)}/s`;
    case "InstanceCreated": return `instance ${e.instanceId} of ${e.model.split(/[\\/]/).at(-1)}: ${e.placement.map((s) => `${n(s.nodeId)} [${s.start}, ${s.end})`).join(" → ")}`;
    case "InstanceDeleted": return `instance ${e.instanceId} deleted`;
    case "RunnerStatusUpdated": return `runner ${e.instanceId} on ${n(e.nodeId)}: ${e.status}${e.error ? ` (${e.error})` : ""}`;
    default: return JSON.stringify(e);
  }
}

export class EventLog {
  constructor(list, quietToggle) {
    this.list = list;
    this.toggle = quietToggle;
    const apply = () => list.classList.toggle("hide-quiet", quietToggle.checked);
    quietToggle.addEventListener("change", apply);
    apply();
  }

  add(state, indexed) {
    const list = this.list;
    const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    const e = indexed.event;
    list.append(el("li", { class: QUIET.has(e.type) ? "quiet" : null, "data-index": indexed.index, "data-type": e.type },
      el("span", { class: "idx", text: `#${indexed.index}` }),
      el("span", { class: "type", text: e.type }),
      el("span", { class: "what", text: describe(state, e) })));
    while (list.childElementCount > MAX_ENTRIES) list.firstElementChild.remove();
    if (stick) list.scrollTop = list.scrollHeight;
  }
}
