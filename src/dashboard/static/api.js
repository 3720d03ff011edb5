// The dashboard's only way to the node: fetch, with the API key (when one is set) as a Bearer token.
// Server-sent events are read from fetch's body stream rather than EventSource, because EventSource
// cannot send an Authorization header.
/* global fetch, Headers, TextDecoder, AbortController, localStorage, setTimeout */

const KEY_STORAGE = "tessera.apiKey";

export function apiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? "";
  } catch {
    return ""; // storage can be disabled; the key then lives only for this page
  }
}

export function setApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // as above
  }
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** fetch() against this node with the key attached. */
export function api(path, init = {}) {
  const headers = new Headers(init.headers);
  const key = apiKey();
  if (key) headers.set("authorization", `Bearer ${key}`);
  return fetch(path, { ...init, headers });
}

/** The error a failed response carries, in OpenAI's shape where it has one. */
export async function responseError(res) {
  const body = await res.json().catch(() => null);
  const message = body?.error?.message ?? `${res.status} ${res.statusText}`;
  return new ApiError(res.status, res.status === 401 ? `${message} (type the API key at the top right)` : message);
}

export async function apiJson(path, init) {
  const res = await api(path, init);
  if (!res.ok) throw await responseError(res);
  return res.json();
}

function parseBlock(block) {
  let event = "message";
  let id;
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  return data.length === 0 ? null : { event, id, data: data.join("\n") };
}

/** Reads a text/event-stream body to its end, calling onMessage({ event, id, data }) for each message. */
export async function readSse(res, onMessage) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const msg = parseBlock(buf.slice(0, cut));
      buf = buf.slice(cut + 2);
      if (msg) onMessage(msg);
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Follows GET /events from index `since`: each indexed cluster event goes to onEvent, and a dropped
 * stream is resumed from the next index after a growing pause. onStatus hears "live", "lost" (with
 * the error) and "connecting". Returns a function that stops following.
 */
export function followEvents(since, onEvent, onStatus) {
  let next = since;
  let stopped = false;
  let controller;
  let pause = 500;
  (async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await api(`/events?since=${next}`, { signal: controller.signal, headers: { accept: "text/event-stream" } });
        if (!res.ok) throw await responseError(res);
        onStatus("live");
        pause = 500;
        await readSse(res, (m) => {
          if (m.event !== "event") return;
          const e = JSON.parse(m.data);
          next = e.index + 1;
          onEvent(e);
        });
        if (!stopped) onStatus("lost", new Error("the node closed the event stream"));
      } catch (err) {
        if (stopped) return;
        onStatus("lost", err);
      }
      if (stopped) return;
      await sleep(pause);
      pause = Math.min(pause * 2, 10_000);
      onStatus("connecting");
    }
  })();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
