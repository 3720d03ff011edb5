// The topology graph: devices on a circle, one edge per linked pair labelled with its round-trip time.
import { bytes, ms, nodeColour, svg } from "./format.js";
import { pairedLinks, sortedNodes } from "./cluster-view.js";

const W = 600;
const H = 360;
const R = 40;

function positions(nodes) {
  const out = new Map();
  const cx = W / 2;
  const cy = H / 2;
  const radius = nodes.length <= 1 ? 0 : Math.min(W, H) / 2 - R - 24;
  nodes.forEach((n, i) => {
    // Two devices side by side; more around a circle from the top.
    const a = (nodes.length === 2 ? Math.PI : -Math.PI / 2) + (2 * Math.PI * i) / Math.max(1, nodes.length);
    out.set(n.id, { x: cx + radius * Math.cos(a), y: cy + radius * Math.sin(a) });
  });
  return out;
}

export function renderTopology(root, state) {
  const nodes = sortedNodes(state);
  const at = positions(nodes);
  const edges = pairedLinks(state).map((l) => {
    const p = at.get(l.a);
    const q = at.get(l.b);
    const label = l.latencyMs === null ? "unmeasured" : ms(l.latencyMs);
    return svg("g", { class: "link", "data-a": l.a, "data-b": l.b },
      svg("line", { class: "edge", x1: p.x, y1: p.y, x2: q.x, y2: q.y }),
      svg("text", { class: "edge-label", x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 - 4, text: label }),
      svg("title", { text: `round trip ${label}${l.throughputBps === null ? "" : `, ${bytes(l.throughputBps)}/s`}` }));
  });
  const circles = nodes.map((n) => {
    const p = at.get(n.id);
    const master = state.master_id === n.id;
    return svg("g", { class: master ? "node master" : "node", "data-node-id": n.id, "data-status": n.status, transform: `translate(${p.x} ${p.y})` },
      svg("circle", { r: R, style: { fill: nodeColour(n.id), fillOpacity: "0.25" } }),
      svg("text", { y: 2, text: n.name }),
      svg("text", { class: "sub", y: 16, text: n.status === "alive" ? (master ? "master" : "") : "lost" }),
      svg("title", { text: `${n.name} ${n.id} (${n.status})` }));
  });
  root.replaceChildren(...edges, ...circles);
}
