// The /join routes every node serves: the page (GET /join), its bundled script (built by
// scripts/build-browser.mjs into dist/browser), and ranges of model files for the page's layers
// (GET /join/model/<instance id or held model name>, with the cluster key in x-tessera-cluster-key),
// from this node's copy or relayed from peers holding the whole file.
// They bypass the API key: the page authenticates with the cluster key from its join link instead.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { error, HttpError } from "../api/http.js";
import { modelSourceFor, sendPeerRange, sendRange, type ModelLookup } from "./model-range.js";

export const JOIN_PATH = "/join";
const MODEL_PREFIX = "/join/model/";

/** The built page: dist/browser beside dist/join. */
const BROWSER_ROOT = fileURLToPath(new URL("../browser/", import.meta.url));

const FILES: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  "/join": { file: "join.html", type: "text/html; charset=utf-8" },
  "/join/": { file: "join.html", type: "text/html; charset=utf-8" },
  "/join/join.js": { file: "join.js", type: "text/javascript; charset=utf-8" },
  "/join/join.js.map": { file: "join.js.map", type: "application/json; charset=utf-8" },
};

export function isJoinPath(pathname: string): boolean {
  return pathname === JOIN_PATH || pathname.startsWith(`${JOIN_PATH}/`);
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** Does `given` equal the cluster key? Constant time; an open cluster (no key) lets everyone in. */
export function clusterKeyMatches(clusterKey: string | undefined, given: string | undefined): boolean {
  if (clusterKey === undefined) return true;
  return given !== undefined && timingSafeEqual(digest(clusterKey), digest(given));
}

export interface JoinServeContext extends ModelLookup {
  readonly clusterKey: string | undefined;
}

export async function serveJoin(ctx: JoinServeContext, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") return error(res, 405, `${method} is not allowed on ${pathname}`);
  if (pathname.startsWith(MODEL_PREFIX)) {
    const header = req.headers["x-tessera-cluster-key"];
    if (!clusterKeyMatches(ctx.clusterKey, typeof header === "string" ? header : undefined)) throw new HttpError(401, "model ranges need the cluster key (x-tessera-cluster-key)");
    let name: string;
    try {
      name = decodeURIComponent(pathname.slice(MODEL_PREFIX.length));
    } catch {
      throw new HttpError(400, "the model name is not valid percent-encoding");
    }
    const source = await modelSourceFor(ctx, name);
    if (source.kind === "file") return sendRange(source.path, req.headers.range, res, method === "HEAD");
    return sendPeerRange(ctx, source, req.headers.range, res, method === "HEAD");
  }
  const known = FILES[pathname];
  if (!known) return error(res, 404, `no join file ${pathname}`, "not_found");
  let body: Buffer;
  try {
    body = await readFile(BROWSER_ROOT + known.file);
  } catch {
    return error(res, 404, `the join page is not built (run npm run build): ${known.file} is missing`, "not_found");
  }
  res.writeHead(200, { "content-type": known.type, "content-length": body.length, "cache-control": "no-cache", "x-content-type-options": "nosniff" });
  res.end(method === "HEAD" ? undefined : body);
}
