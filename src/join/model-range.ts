// Byte ranges of a model, for a /join page loading its layers. The page names the model, never a path:
// an instance id from the cluster state (its model file, as this node resolves it) or the name of a
// model this node or a peer lists as held. Every answer is one `bytes=a-b` range, capped.
// The serving node reads its own copy when it holds the whole file. When it holds none, or only the
// shard its own stage needs, it relays the range from peers that hold the whole file, over the same
// /tessera/model-range/1.0.0 streams shard fetches use, so a page may join through any node.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { wholeModelHolders, type ClusterState } from "../cluster/index.js";
import { HttpError } from "../api/http.js";
import { resolveModelRef } from "../models/index.js";
import type { RangeSource } from "../shard/range-source.js";

/** Largest range one request may ask for; the page reads big tensors in pieces of this size. */
export const MAX_RANGE_BYTES = 64 << 20;

export interface ModelLookup {
  readonly nodeId: string;
  readonly modelsDir: string;
  state(): ClusterState;
  /** A model-range source for `modelId` (a tensor-manifest sha256) on peer `peerId`; without it, no relaying. */
  readonly peerSource?: (peerId: string, modelId: string) => RangeSource;
}

/** Where a range of a model comes from: this node's file, or peers holding the whole file (in order). */
export type ModelSource =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "peers"; readonly peers: readonly string[]; readonly modelId: string; readonly size: number };

/**
 * The bytes behind `name`: an instance's model, or a model this node or an alive peer holds; never a
 * path the caller gives. This node's whole copy comes first; else the peers that hold the same file.
 */
export async function modelSourceFor(lookup: ModelLookup, name: string): Promise<ModelSource> {
  const state = lookup.state();
  const shown = JSON.stringify(name.slice(0, 200));
  const instance = state.instances[name];
  const named = (id: string) => state.nodes[id]?.status === "alive" && state.nodes[id]?.models?.some((m) => m.name === name);
  const ref = instance?.model ?? (Object.keys(state.nodes).some(named) ? name : undefined);
  if (ref === undefined) throw new HttpError(404, `no instance or held model is named ${shown}`);
  let localError: string;
  try {
    return { kind: "file", path: (await resolveModelRef(ref, lookup.modelsDir)).path };
  } catch (e) {
    localError = e instanceof Error ? e.message : String(e);
  }
  const holders = lookup.peerSource ? wholeModelHolders(state, ref, lookup.nodeId) : [];
  if (holders.length === 0) throw new HttpError(404, `neither this node nor an alive peer holds the whole model of ${shown} (${localError})`);
  // Holders of the same file (same manifest) can stand in for each other; the first decides which file.
  const { tensorManifest, sizeBytes } = holders[0].held;
  const peers = holders.filter((h) => h.held.tensorManifest === tensorManifest).map((h) => h.nodeId);
  return { kind: "peers", peers, modelId: tensorManifest!, size: sizeBytes };
}

/** Parses a single `bytes=start-end` (or `bytes=start-`) range within a file of `size` bytes. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } {
  const m = /^bytes=(\d{1,16})-(\d{0,16})$/.exec(header ?? "");
  if (!m) throw new HttpError(416, "send one Range header of the form bytes=START-END");
  const start = Number(m[1]);
  const end = Math.min(m[2] === "" ? size - 1 : Number(m[2]), size - 1);
  if (start >= size || end < start) throw new HttpError(416, `range ${header} is outside the ${size}-byte file`);
  if (end - start + 1 > MAX_RANGE_BYTES) throw new HttpError(416, `range ${header} is longer than ${MAX_RANGE_BYTES} bytes`);
  return { start, end };
}

/** Starts the 206 answer for bytes [start, end] of a `size`-byte model. */
function writeRangeHead(res: ServerResponse, start: number, end: number, size: number): void {
  res.writeHead(206, {
    "content-type": "application/octet-stream",
    "content-length": end - start + 1,
    "content-range": `bytes ${start}-${end}/${size}`,
    "cache-control": "no-store",
  });
}

/** Answers 206 with the bytes of the requested range of `path`. */
export async function sendRange(path: string, rangeHeader: string | undefined, res: ServerResponse, head: boolean): Promise<void> {
  const { size } = await stat(path);
  const { start, end } = parseRange(rangeHeader, size);
  writeRangeHead(res, start, end, size);
  if (head) return void res.end();
  await new Promise<void>((resolve) => {
    const stream = createReadStream(path, { start, end });
    stream.on("error", () => {
      res.destroy();
      resolve();
    });
    stream.on("end", () => resolve());
    stream.pipe(res);
  });
}

/**
 * Answers 206 with the requested range of a model that peers hold, relayed as it arrives. A peer that
 * fails hands over to the next, which continues from the first byte not yet sent; when all fail, the
 * answer is 502 if nothing was sent, else the connection is cut short (the page sees a short body).
 */
export async function sendPeerRange(
  lookup: ModelLookup, source: Extract<ModelSource, { kind: "peers" }>, rangeHeader: string | undefined, res: ServerResponse, head: boolean,
): Promise<void> {
  const { start, end } = parseRange(rangeHeader, source.size);
  const length = end - start + 1;
  if (head) {
    writeRangeHead(res, start, end, source.size);
    return void res.end();
  }
  // The page going away stops the relay.
  const gone = new AbortController();
  res.on("close", () => gone.abort(new Error("the page closed the request")));
  let sent = 0;
  const failures: string[] = [];
  for (const peer of source.peers) {
    if (gone.signal.aborted) return;
    const from = lookup.peerSource!(peer, source.modelId);
    try {
      // The source delivers the bytes in order from the offset asked (it checks each frame's offset).
      await from.read([{ start: start + sent, length: length - sent }], async (_offset, bytes) => {
        if (!res.headersSent) writeRangeHead(res, start, end, source.size);
        sent += bytes.length;
        if (!res.write(bytes)) await drained(res);
      }, gone.signal);
      return void res.end();
    } catch (e) {
      failures.push(e instanceof Error ? e.message : String(e));
    } finally {
      await from.close().catch(() => undefined);
    }
  }
  if (gone.signal.aborted) return;
  if (!res.headersSent) throw new HttpError(502, `no peer holding the model could send bytes ${start}-${end}: ${failures.join("; ").slice(0, 2000)}`);
  res.destroy();
}

/** Resolves when the response can take more bytes, or has closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
