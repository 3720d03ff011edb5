// Byte ranges of a model this node holds, for a /join page loading its layers. The page names the
// model, never a path: an instance id from the cluster state (its model file, as this node resolves
// it) or the name of a model this node lists as held. Every answer is one `bytes=a-b` range, capped.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import type { ClusterState } from "../cluster/index.js";
import { HttpError } from "../api/http.js";
import { resolveModelRef } from "../models/index.js";

/** Largest range one request may ask for; the page reads big tensors in pieces of this size. */
export const MAX_RANGE_BYTES = 64 << 20;

export interface ModelLookup {
  readonly nodeId: string;
  readonly modelsDir: string;
  state(): ClusterState;
}

/** The file behind `name`: an instance's model, or a model this node holds; never a path the caller gives. */
export async function modelFileFor(lookup: ModelLookup, name: string): Promise<string> {
  const state = lookup.state();
  const instance = state.instances[name];
  const held = state.nodes[lookup.nodeId]?.models?.find((m) => m.name === name);
  const ref = instance?.model ?? held?.name;
  if (ref === undefined) throw new HttpError(404, `no instance or held model is named ${JSON.stringify(name.slice(0, 200))}`);
  try {
    return (await resolveModelRef(ref, lookup.modelsDir)).path;
  } catch (e) {
    throw new HttpError(404, `this node does not hold the whole model of ${name.slice(0, 200)}: ${e instanceof Error ? e.message : String(e)}`);
  }
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

/** Answers 206 with the bytes of the requested range of `path`. */
export async function sendRange(path: string, rangeHeader: string | undefined, res: ServerResponse, head: boolean): Promise<void> {
  const { size } = await stat(path);
  const { start, end } = parseRange(rangeHeader, size);
  res.writeHead(206, {
    "content-type": "application/octet-stream",
    "content-length": end - start + 1,
    "content-range": `bytes ${start}-${end}/${size}`,
    "cache-control": "no-store",
  });
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
