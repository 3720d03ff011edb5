// POST /peers/:id/send and POST /peers/:id/ping: the node's peer tools (runtime/peer-tools.ts) for
// `tessera send` and `tessera ping`. The peer must be a member of this cluster other than this node.
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { NodeIdSchema } from "../cluster/bounded.js";
import type { TesseraNode } from "../runtime/node.js";
import { DEFAULT_PING_BYTES, DEFAULT_PING_COUNT, MAX_MESSAGE_CHARS, MAX_PING_BYTES, MAX_PING_COUNT } from "../runtime/peer-tools.js";
import { HttpError, readJson } from "./http.js";

export const SendBody = z.strictObject({ text: z.string().min(1).max(MAX_MESSAGE_CHARS) });
export const PingBody = z.strictObject({
  count: z.number().int().min(1).max(MAX_PING_COUNT).optional(),
  bytes: z.number().int().min(0).max(MAX_PING_BYTES).optional(),
});

/** `raw` is the id as it appears in the path, still URL-encoded. */
function memberPeer(node: TesseraNode, raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, "the node id in the path is not valid URL encoding");
  }
  if (!NodeIdSchema.safeParse(id).success) throw new HttpError(400, `not a node id: ${JSON.stringify(id.slice(0, 140))}`);
  if (id === node.nodeId) throw new HttpError(400, "that is this node; name another member");
  if (node.state.nodes[id] === undefined) throw new HttpError(404, `no node ${id} in this cluster`, "not_found");
  return id;
}

/** A failure to reach the peer is the peer's (502), not this node's. */
async function reach<T>(id: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw new HttpError(502, `cannot reach ${id}: ${e instanceof Error ? e.message : String(e)}`, "peer_error");
  }
}

export async function sendToPeer(node: TesseraNode, id: string, req: IncomingMessage): Promise<unknown> {
  const peer = memberPeer(node, id);
  const body = await readJson(req, SendBody);
  const r = await reach(peer, () => node.peerTools.send(peer, body.text));
  return { peer_id: r.peer, name: node.state.nodes[peer]?.name ?? null, rtt_ms: r.rttMs, logged: r.logged };
}

export async function pingPeer(node: TesseraNode, id: string, req: IncomingMessage): Promise<unknown> {
  const peer = memberPeer(node, id);
  const body = await readJson(req, PingBody);
  const r = await reach(peer, () => node.peerTools.ping(peer, { count: body.count ?? DEFAULT_PING_COUNT, bytes: body.bytes ?? DEFAULT_PING_BYTES }));
  return {
    peer_id: r.peer,
    name: node.state.nodes[peer]?.name ?? null,
    count: r.count,
    rtt_ms: r.rttMs,
    bytes: r.bytes,
    transfer_ms: r.transferMs,
    throughput_bps: r.throughputBps,
  };
}
