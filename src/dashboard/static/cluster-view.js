// Reading the /state reply: nodes in a steady order, their freshest telemetry, and links paired up.
// Everything here tolerates missing fields, since profiles and telemetry arrive after a node joins.
import { isNum, shortId } from "./format.js";

const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});

/** Nodes sorted by name then id, so cards and graph positions do not jump around. */
export function sortedNodes(state) {
  return Object.values(obj(state?.nodes)).sort((a, b) => (a.name === b.name ? (a.id < b.id ? -1 : 1) : a.name < b.name ? -1 : 1));
}

export function nodeName(state, id) {
  return state?.nodes?.[id]?.name ?? shortId(id);
}

/** The newest telemetry sample known for a node: the live one when the log's copy is older. */
export function telemetryOf(state, id) {
  const live = obj(state?.live_telemetry)[id];
  const logged = state?.nodes?.[id]?.telemetry;
  if (live && (!logged || !(logged.at > live.at))) return live;
  return logged ?? null;
}

export function gpusOf(state, id) {
  const n = state?.nodes?.[id];
  const t = telemetryOf(state, id);
  if (Array.isArray(t?.gpus) && t.gpus.length > 0) return t.gpus;
  return Array.isArray(n?.gpus) ? n.gpus : Array.isArray(n?.device?.gpus) ? n.device.gpus : [];
}

/** Why the device is held back right now, in words (the same reasons /metrics counts as throttling). */
export function throttleReasons(t) {
  const reasons = [];
  const th = obj(t?.thermal);
  if (th.state === "serious" || th.state === "critical") reasons.push(`thermal state ${th.state}`);
  if (isNum(th.cpuSpeedLimit) && th.cpuSpeedLimit < 0.9) reasons.push(`CPU held to ${Math.round(th.cpuSpeedLimit * 100)}% of its top speed`);
  if (obj(t?.power).lowPowerMode === true) reasons.push("low power mode");
  return reasons;
}

/**
 * The links between pairs of nodes, one per pair: the two probed directions' round trips, averaged
 * where both are known. Only pairs whose nodes are both in the state are kept.
 */
export function pairedLinks(state) {
  const pairs = new Map();
  for (const e of Object.values(obj(state?.edges))) {
    if (!state.nodes?.[e.from] || !state.nodes?.[e.to]) continue;
    const [a, b] = e.from < e.to ? [e.from, e.to] : [e.to, e.from];
    const key = `${a}|${b}`;
    const p = pairs.get(key) ?? { a, b, latencies: [], throughputs: [] };
    if (isNum(e.latencyMs)) p.latencies.push(e.latencyMs);
    if (isNum(e.throughputBps)) p.throughputs.push(e.throughputBps);
    pairs.set(key, p);
  }
  return [...pairs.values()].map((p) => ({
    a: p.a,
    b: p.b,
    latencyMs: p.latencies.length ? p.latencies.reduce((x, y) => x + y, 0) / p.latencies.length : null,
    throughputBps: p.throughputs.length ? Math.min(...p.throughputs) : null,
  }));
}
