// The node's HTTP API (port 52415 by default): cluster routes for tests, the CLI and, later, the
// dashboard. Without an API key it listens on 127.0.0.1 only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { IndexedEvent } from "../cluster/index.js";
import type { TesseraNode } from "../runtime/node.js";
import type { RunnerManager } from "../runtime/runners.js";
import { error, HttpError, json, readJson, sendError } from "./http.js";
import { createInstance, CreateInstanceBody, deleteInstance } from "./instances.js";
import { instancePreviews, type PlanRequest } from "./placement.js";
import { pingPeer, sendToPeer } from "./peers.js";
import { OpenAiApi } from "./openai.js";
import { apiKeyCheck } from "./auth.js";
import type { ModelInstanceOptions } from "./model-instance.js";
import { TelemetryApi } from "./telemetry.js";
import { isDashboardPath, serveDashboard } from "../dashboard/serve.js";
import { isJoinPath, serveJoin, type JoinServeContext } from "../join/serve.js";
import { PeerRangeSource } from "../shard/peer-range-source.js";
import { JoinRelay } from "../join/relay.js";
import { JOIN_LINK_PATH, serveJoinLink } from "./join-link.js";
import { predictionsFor } from "../dashboard/predictions.js";
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

async function route(node: TesseraNode, runners: RunnerManager, telemetry: TelemetryApi, req: IncomingMessage, res: ServerResponse, url: URL, openai: OpenAiApi): Promise<void> {
  const method = req.method ?? "GET";
  const path = url.pathname;
  // The dashboard's static files (/, /dashboard/*); its data comes from the routes below.
  if (isDashboardPath(path)) return serveDashboard(method, path, res);
  if (await telemetry.handle(method, path, url, res)) return;
  const instanceMatch = /^\/instance\/([^/]+)$/.exec(path);
  if (method === "GET" && path === "/node_id") return json(res, 200, { node_id: node.nodeId });
  if (method === "GET" && path === "/state") return json(res, 200, stateView(node, telemetry.history));
  if (method === "GET" && path === "/events") return streamEvents(node, req, res, url);
  if (method === "GET" && path === "/v1/models") return json(res, 200, await openai.models());
  if (method === "GET" && path === "/runners") return json(res, 200, { node_id: node.nodeId, runners: runners.describe(), model_bytes_served: runners.holdings.bytesServed });
  if (method === "GET" && path === "/instance/predictions") return json(res, 200, await predictionsFor(node.state, runners));
  if (method === "GET" && path === "/instance/previews") return json(res, 200, await instancePreviews(node, runners, planQuery(url), countQuery(url)));
  if (method === "POST" && path === "/instance") return json(res, 201, await createInstance(node, runners, await readJson(req, CreateInstanceBody)));
  if (method === "DELETE" && instanceMatch) return json(res, 200, await deleteInstance(node, decodeURIComponent(instanceMatch[1])));
  if (method === "POST" && path === "/v1/chat/completions") return openai.chatCompletions(req, res);
  if (method === "POST" && path === "/v1/completions") return openai.completions(req, res);
  const cancelMatch = /^\/v1\/cancel\/([^/]+)$/.exec(path);
  if (method === "POST" && cancelMatch) return json(res, 200, openai.cancel(decodeURIComponent(cancelMatch[1])));
  const peerMatch = /^\/peers\/([^/]+)\/(send|ping)$/.exec(path);
  if (method === "POST" && peerMatch?.[2] === "send") return json(res, 200, await sendToPeer(node, peerMatch[1], req));
  if (method === "POST" && peerMatch?.[2] === "ping") return json(res, 200, await pingPeer(node, peerMatch[1], req));
  const known = ["/node_id", "/state", "/events", "/v1/models", "/runners", "/instance/previews", "/instance", "/v1/chat/completions", "/v1/completions"];
  if (known.includes(path) || instanceMatch || peerMatch || cancelMatch) return error(res, 405, `${method} is not allowed on ${path}`);
  return error(res, 404, `no route ${path}`, "invalid_request_error", { code: "not_found" });
}

export interface ApiOptions {
  /** With a key, every route but the dashboard's static files needs `Authorization: Bearer KEY`. */
  readonly apiKey?: string;
  /** How long completion requests wait for a model's instance to be placed and ready. */
  readonly instances?: ModelInstanceOptions;
}

/** `telemetry` defaults to one following the node's log with a 10 s staleness limit. */
export function createApiServer(node: TesseraNode, runners: RunnerManager, telemetry?: TelemetryApi, options: ApiOptions = {}): Server {
  const t = telemetry ?? new TelemetryApi(node, followHistory(node).history, { staleMs: 10_000 });
  const openai = new OpenAiApi(node, runners, options.instances);
  const authorize = apiKeyCheck(options.apiKey);
  // Browser devices (/join) connect over a WebSocket on this server; the relay vouches for them.
  const relay = new JoinRelay(node);
  runners.attachRelay(relay);
  const joinContext: JoinServeContext = {
    nodeId: node.nodeId, modelsDir: runners.options.modelsDir, clusterKey: node.clusterKey, state: () => node.state,
    // A page's model reads this node cannot serve itself are relayed from peers that hold the file.
    peerSource: (peerId, modelId) => new PeerRangeSource(node.host.node, peerId, modelId),
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const handled = (async () => {
      // The browser device's page and model ranges: authenticated by the cluster key, not the API key.
      if (isJoinPath(url.pathname)) return serveJoin(joinContext, req, res, url.pathname);
      authorize(req, url.pathname);
      // The dashboard's "Add a device" links: they carry the cluster key, so they need the API key.
      if (url.pathname === JOIN_LINK_PATH) return serveJoinLink(server, node.clusterKey, req, res);
      await route(node, runners, t, req, res, url, openai);
    })();
    handled.catch((e: unknown) => {
      if (!res.headersSent) sendError(res, e);
      else res.end();
    });
  });
  server.on("upgrade", (req, socket, head) => relay.upgrade(req, socket, head));
  server.on("close", () => relay.stop());
  return server;
}

export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return typeof address === "object" && address ? address.port : port;
}
