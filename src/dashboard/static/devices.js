// One card per device: what it is (name, OS, backend) and what it is doing (memory, utilisation,
// temperature, power, battery), with a warning while it is throttled.
import { ago, bytes, el, fillLevel, isNum, percent, tempLevel } from "./format.js";
import { gpusOf, sortedNodes, telemetryOf, throttleReasons } from "./cluster-view.js";

function bar(role, fraction, label, detail) {
  const f = isNum(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  return el("div", { class: "meter", "data-role": role },
    el("div", { class: "bar-label" }, el("span", { text: label }), el("span", { text: detail })),
    el("div", { class: "bar", "data-level": fillLevel(fraction), role: "meter", "aria-valuemin": 0, "aria-valuemax": 1, "aria-valuenow": isNum(fraction) ? f.toFixed(3) : undefined },
      el("span", { style: { width: `${(f * 100).toFixed(1)}%` } })));
}

function osOf(device) {
  const id = device?.identity;
  if (!id) return "—";
  return `${id.distro ?? id.os ?? "?"} (${id.os ?? "?"} ${id.arch ?? ""})`.trim();
}

function backendOf(device, gpus) {
  const b = device?.benchmark;
  const kinds = (device?.placement?.backends ?? []).map((x) => (x.kind === "cpu" && b?.backend ? b.backend : x.kind));
  const named = gpus.map((g) => g.name).filter(Boolean);
  const text = [...new Set(kinds)].join(", ") || "—";
  return named.length ? `${text} · ${named.join(", ")}` : text;
}

function memoryOf(node, t) {
  const m = t?.memory ?? node.device?.memory;
  if (!m || !isNum(m.totalBytes) || m.totalBytes <= 0) return { fraction: null, text: "—" };
  const used = m.totalBytes - (m.availableBytes ?? 0);
  return { fraction: used / m.totalBytes, text: `${bytes(used)} / ${bytes(m.totalBytes)}` };
}

function temperatureOf(t, gpus) {
  const temps = [t?.thermal?.temperatureC, ...gpus.map((g) => g.temperatureC)].filter(isNum);
  return temps.length ? Math.max(...temps) : null;
}

function powerOf(t, gpus) {
  const watts = [t?.power?.cpuPowerW, ...gpus.map((g) => g.powerDrawW)].filter(isNum);
  return watts.length ? `${watts.reduce((a, b) => a + b, 0).toFixed(1)} W` : "—";
}

function batteryOf(t) {
  const p = t?.power;
  if (isNum(p?.batteryPercent)) return `${Math.round(p.batteryPercent)}%${p.charging === true ? " charging" : p.source === "battery" ? " on battery" : ""}`;
  return p?.source === "mains" ? "mains" : "—";
}

const STATUS_TEXT = { alive: "alive", timed_out: "lost", left: "left" };

function card(state, node) {
  const t = telemetryOf(state, node.id);
  const gpus = gpusOf(state, node.id);
  const mem = memoryOf(node, t);
  const temp = temperatureOf(t, gpus);
  const reasons = node.status === "alive" ? throttleReasons(t) : [];
  const kv = (k, v, attrs = {}) => [el("dt", { text: k }), el("dd", attrs, v)];
  return el("article", { class: "card device", "data-node-id": node.id, "data-status": node.status },
    el("div", { class: "card-title" },
      el("strong", { class: "device-name", text: node.name, title: node.id }),
      el("span", {}, state.master_id === node.id ? el("span", { class: "badge", text: "master" }) : null, " ",
        el("span", { class: "badge status", "data-status": node.status, text: STATUS_TEXT[node.status] ?? node.status }))),
    reasons.length ? el("div", { class: "warning thermal-warning", role: "alert", text: `⚠ throttled: ${reasons.join("; ")}` }) : null,
    el("dl", { class: "kv" },
      kv("OS", osOf(node.device), { class: "os" }),
      kv("Backend", backendOf(node.device, gpus), { class: "backend" })),
    bar("memory", mem.fraction, "Memory", mem.text),
    bar("cpu", t?.cpu?.utilisation, "CPU", `${percent(t?.cpu?.utilisation)}${isNum(t?.cpu?.ownUtilisation) ? ` (Tessera ${percent(t.cpu.ownUtilisation)})` : ""}`),
    ...gpus.map((g, i) => bar("gpu", g.utilisation, `GPU ${g.index ?? i}`, percent(g.utilisation))),
    gpus.length ? null : el("div", { class: "bar-label" }, el("span", { text: "GPU" }), el("span", { text: "none" })),
    el("dl", { class: "kv" },
      kv("Temperature", isNum(temp) ? `${temp.toFixed(0)} °C` : "—", { class: "temp", "data-level": tempLevel(temp) }),
      kv("Power", powerOf(t, gpus), { class: "power" }),
      kv("Battery", batteryOf(t), { class: "battery" }),
      kv("Sample", ago(t?.at), { class: "age" })));
}

export function renderDevices(root, state) {
  root.replaceChildren(...sortedNodes(state).map((n) => card(state, n)));
}
