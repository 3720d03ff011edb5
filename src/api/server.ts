// The node's HTTP API (port 52415 by default): cluster routes for tests, the CLI and, later, the
// dashboard. Without an API key it listens on 127.0.0.1 only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { IndexedEvent } from "../cluster/index.js";
import type { TesseraNode } from "../runtime/node.js";

export const DEFAULT_API_PORT = 52415;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function error(res: ServerResponse, status: number, message: string, type = "invalid_request_error"): void {
  json(res, status, { error: { message, type, code: null } });
}

/** The state as tests and clients compare it: plus the log position, term, master and a hash. */
export function stateView(node: TesseraNode): unknown {
  return {
    ...node.state,
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

export function createApiServer(node: TesseraNode): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET") return error(res, 405, `${req.method} is not allowed on ${url.pathname}`);
    switch (url.pathname) {
      case "/node_id":
        return json(res, 200, { node_id: node.nodeId });
      case "/state":
        return json(res, 200, stateView(node));
      case "/events":
        return streamEvents(node, req, res, url);
      default:
        return error(res, 404, `no route ${url.pathname}`, "not_found");
    }
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
