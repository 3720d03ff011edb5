// Small pure helpers: element building (text only, never HTML from the cluster) and number formats.
/* global document */

const SVG_NS = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = String(v);
    else if (k === "style" && typeof v === "object") Object.assign(node.style, v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** An HTML element: el("div", { class: "x", text: "hi" }, ...children). */
export const el = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
/** The same for SVG. */
export const svg = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

export const isNum = (x) => typeof x === "number" && Number.isFinite(x);

export function bytes(n) {
  if (!isNum(n)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : n < 10 ? 2 : 1)} ${units[i]}`;
}

export const percent = (f) => (isNum(f) ? `${Math.round(f * 100)}%` : "—");

export function ms(x) {
  if (!isNum(x)) return "—";
  return x < 10 ? `${x.toFixed(2)} ms` : `${Math.round(x)} ms`;
}

export const rate = (tokPerSec) => (isNum(tokPerSec) ? `${tokPerSec < 100 ? tokPerSec.toFixed(1) : Math.round(tokPerSec)} tok/s` : "—");

/** The short tail of a libp2p peer id, enough to tell nodes apart. */
export const shortId = (id) => (typeof id === "string" ? `…${id.slice(-6)}` : "?");

/** A steady colour per node, so a device has the same hue in the topology and the placement bars. */
export function nodeColour(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360} 60% 62%)`;
}

/** Levels for temperatures (°C): below 70 fine, below 85 warm, above that hot. */
export const tempLevel = (c) => (!isNum(c) ? "unknown" : c < 70 ? "ok" : c < 85 ? "warn" : "hot");

/** Levels for fractions filled (memory, load). */
export const fillLevel = (f) => (!isNum(f) ? "unknown" : f < 0.75 ? "ok" : f < 0.9 ? "warn" : "hot");

export function ago(at, now = Date.now()) {
  if (!isNum(at)) return "never";
  const s = Math.max(0, (now - at) / 1000);
  return s < 60 ? `${Math.round(s)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}
