// "Add a device": the links a phone or laptop on the LAN opens to join the cluster as a browser device
// (GET /join-link, which needs the API key), each with a copy button and its QR code. The QR code is
// shown as an <img> of an SVG data URL, so nothing from the response is ever parsed as HTML here.
/* global navigator, document, setTimeout */
import { apiJson } from "./api.js";
import { el } from "./format.js";

const COPIED_MS = 1500;

/** Copies `text`; the Clipboard API exists only on secure origins (a LAN http:// page is not one). */
async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.focus();
    input.select();
    return document.execCommand("copy");
  }
}

function linkRow(link) {
  const input = el("input", { class: "join-url", type: "text", readonly: "", value: link.url, "aria-label": `join link for ${link.address}` });
  const button = el("button", { type: "button", class: "copy", text: "Copy" });
  button.addEventListener("click", async () => {
    const ok = await copy(link.url, input);
    button.textContent = ok ? "Copied" : "Select and copy";
    setTimeout(() => (button.textContent = "Copy"), COPIED_MS);
  });
  const qr = el("img", { class: "qr", alt: `QR code of the join link for ${link.address}`, src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(link.qr_svg)}` });
  return el("div", { class: "join-link", "data-address": link.address },
    el("div", { class: "row" }, input, button),
    qr);
}

/** Fills `box` with the links of a GET /join-link answer. */
export function renderJoinLinks(box, body) {
  const intro = body.reachable_from_lan
    ? "Open one of these links on the device (scan its QR code with a phone's camera), on the same network as this node. Its browser needs WebGPU; it then runs layers like any node."
    : "Open this link in a browser with WebGPU.";
  const parts = [
    el("p", { class: "muted small", text: intro }),
    body.note ? el("p", { class: "warning join-note", text: body.note }) : null,
    body.open_cluster
      ? el("p", { class: "muted small", text: "This is an open cluster: the links carry no key, and any device that reaches this node may join." })
      : el("p", { class: "muted small", text: "Each link carries the cluster key: share it only with devices you trust." }),
    el("div", { class: "join-links" }, body.links.map(linkRow)),
  ];
  box.replaceChildren(...parts.filter(Boolean));
}

/** Wires the header's button to the panel: each opening asks the node again (its addresses may change). */
export function setupAddDevice(button, panel, box, close) {
  const load = async () => {
    box.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
    try {
      renderJoinLinks(box, await apiJson("/join-link"));
    } catch (err) {
      box.replaceChildren(el("p", { class: "error join-error", text: String(err.message ?? err) }));
    }
  };
  button.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) void load();
  });
  close.addEventListener("click", () => {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
  });
}
