// The node's HTTP API (port 52415 by default): cluster routes for tests, the CLI and, later, the
// dashboard. Without an API key it listens on 127.0.0.1 only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { IndexedEvent } from "../cluster/index.js";
import type { TesseraNode } from "../runtime/node.js";
import type { RunnerManager } from "../runtime/runners.js";
import { error, HttpError, json, readJson } from "./http.js";
import { createInstance, CreateInstanceBody, deleteInstance } from "./instances.js";
import { instancePreviews, type PlanRequest } from "./placement.js";
import { chatCompletions, completions, listModels } from "./openai.js";
import { TelemetryApi } from "./telemetry.js";
import { followHistory } from "../runtime/telemetry.js";
import type { TelemetryHistory } from "../runtime/telemetry-history.js";

export const DEFAULT_API_PORT = 52415;

/** The state as tests and clients compare it: plus the log position, term, master and a hash. */
export function stateView(node: TesseraNode, history?: TelemetryHistory): unknown {
  // The log keeps a node's telemetry only when it changes enough (or every 30 s); the newest sample
  // heard from each node, logged or not, is shown beside the replicated state.
  const live: Record<string, unknown> = {};
  if (history) {
    for (const id of Object.keys(node.state.nodes)) {
      const p = history.latest(id);
      if (p) live[id] = p.telemetry;
    }
  }
  return {
    ...node.state,
    live_telemetry: live,
    last_event_index: node.state.lastEventIndex,
    term: node.currentTerm,
    master_id: node.masterId,
    node_id: node.nodeId,
    hash: node.hash(),
  };
}

function streamEvents(node: TesseraNode, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const sinceText = url.searchParams.get("since") ?? "0";
  const since = Number(sinceText);
  if (!Number.isSafeInteger(since) || since < 0) return error(res, 400, `since must be a non-negative integer, got ${JSON.stringify(sinceText)}`);
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const send = (events: readonly IndexedEvent[]) => {
    for (const e of events) if (e.index >= since) res.write(`id: ${e.index}\nevent: event\ndata: ${JSON.stringify(e)}\n\n`);
  };
  send(node.applied.slice(since));
  const off = node.onApplied(send);
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
  req.on("close", () => {
    off();
    clearInterval(keepAlive);
  });
}

function intQuery(url: URL, name: string, min: number, max: number): number | undefined {
  const text = url.searchParams.get(name);
  if (text === null) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

/** ?model=…&context=…&sequences=…&min_nodes=…&max_nodes=…&exclude=id,id */
function planQuery(url: URL): PlanRequest {
  const model = url.searchParams.get("model");
  if (!model) throw new HttpError(400, "model is required, e.g. /instance/previews?model=llama.gguf");
  const excluded = url.searchParams.get("exclude")?.split(",").filter((x) => x.length > 0);
  const minNodes = intQuery(url, "min_nodes", 1, 64);
  const maxNodes = intQuery(url, "max_nodes", 1, 64);
  const constraints = { ...(excluded ? { excluded } : {}), ...(minNodes ? { minNodes } : {}), ...(maxNodes ? { maxNodes } : {}) };
  return { model, contextLength: intQuery(url, "context", 1, 1 << 24), sequences: intQuery(url, "sequences", 1, 1024), constraints };
}

const countQuery = (url: URL): number => intQuery(url, "count", 1, 16) ?? 3;

async function route(node: TesseraNode, runners: RunnerManager, telemetry: TelemetryApi, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? "GET";
  const path = url.pathname;
  if (await telemetry.handle(method, path, url, res)) return;
  const instanceMatch = /^\/instance\/([^/]+)$/.exec(path);
  if (method === "GET" && path === "/node_id") return json(res, 200, { node_id: node.nodeId });
  if (method === "GET" && path === "/state") return json(res, 200, stateView(node, telemetry.history));
  if (method === "GET" && path === "/events") return streamEvents(node, req, res, url);
  if (method === "GET" && path === "/v1/models") return json(res, 200, listModels(runners));
  if (method === "GET" && path === "/runners") return json(res, 200, { node_id: node.nodeId, runners: runners.describe() });
  if (method === "GET" && path === "/instance/previews") return json(res, 200, await instancePreviews(node, runners, planQuery(url), countQuery(url)));
  if (method === "POST" && path === "/instance") return json(res, 201, await createInstance(node, runners, await readJson(req, CreateInstanceBody)));
  if (method === "DELETE" && instanceMatch) return json(res, 200, await deleteInstance(node, decodeURIComponent(instanceMatch[1])));
  if (method === "POST" && path === "/v1/chat/completions") return chatCompletions(req, res, runners);
  if (method === "POST" && path === "/v1/completions") return completions(req, res, runners);
  const known = ["/node_id", "/state", "/events", "/v1/models", "/runners", "/instance/previews", "/instance", "/v1/chat/completions", "/v1/completions"];
  if (known.includes(path) || instanceMatch) return error(res, 405, `${method} is not allowed on ${path}`);
  return error(res, 404, `no route ${path}`, "not_found");
}

/** `telemetry` defaults to one following the node's log with a 10 s staleness limit. */
export function createApiServer(node: TesseraNode, runners: RunnerManager, telemetry?: TelemetryApi): Server {
  const t = telemetry ?? new TelemetryApi(node, followHistory(node).history, { staleMs: 10_000 });
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    route(node, runners, t, req, res, url).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof Error ? e.message : String(e);
      if (!res.headersSent) error(res, status, message, e instanceof HttpError ? e.type : "server_error");
      else res.end();
    });
  });
}

export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return typeof address === "object" && address ? address.port : port;
}
