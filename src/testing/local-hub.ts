// A local stand-in for the Hugging Face Hub, for tests: it serves the Hub's file-tree route (with LFS
// metadata: sha256 and size) and its resolve route (LFS files redirect to a "CDN" route, as on the
// Hub) from directories on disk, with HTTP Range support. Switches let a test require a token, cut a
// response after N bytes, corrupt a byte, or ignore Range; every request and every body byte sent is
// recorded so a test can prove what went over the wire. Listens on 127.0.0.1, port 0.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface LocalHubOptions {
  /** Repositories served: `owner/name` → a directory whose files (recursively) are that repo's files. */
  readonly repos: Readonly<Record<string, string>>;
  /** When set, the API and resolve routes answer 401 unless sent `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Files whose name matches are stored "in LFS" (have lfs metadata and redirect); default `.gguf` files. */
  readonly lfs?: (path: string) => boolean;
  /** Entries per page of the tree route; more pages are linked with a `Link: <…>; rel="next"` header. */
  readonly treePageSize?: number;
}

export interface ServedRequest {
  readonly method: string;
  readonly url: string;
  readonly route: "tree" | "resolve" | "cdn" | "unknown";
  readonly authorization: string | undefined;
  readonly range: string | undefined;
  status: number;
  /** Bytes of file content written in this response's body. */
  bodyBytes: number;
}

interface FileFacts {
  readonly abs: string;
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256: string;
  readonly gitOid: string;
  readonly lfs: boolean;
}

export interface LocalHub {
  /** The value for HF_ENDPOINT. */
  readonly url: string;
  readonly requests: readonly ServedRequest[];
  /** Bytes of file content sent so far, over all responses. */
  bytesServed(): number;
  /** The next `count` file responses stop after `bytes` body bytes, by closing the connection. */
  cutNextResponses(bytes: number, count?: number): void;
  /** The byte at `offset` of `repo`'s `file` is served flipped; the metadata keeps the true hash. */
  corruptByte(repo: string, file: string, offset: number): void;
  /** When on, Range headers are ignored and whole files are sent with 200. */
  ignoreRange(on: boolean): void;
  close(): Promise<void>;
}

async function walkFiles(dir: string, prefix = ""): Promise<{ path: string; abs: string }[]> {
  const out: { path: string; abs: string }[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith(".")) continue;
    const abs = join(dir, e.name);
    const path = prefix ? `${prefix}/${e.name}` : e.name;
    const st = await stat(abs).catch(() => undefined);
    if (st?.isDirectory()) out.push(...(await walkFiles(abs, path)));
    else if (st?.isFile()) out.push({ path, abs });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function hashBoth(abs: string, size: number): Promise<{ sha256: string; gitOid: string }> {
  const sha256 = createHash("sha256");
  const git = createHash("sha1").update(`blob ${size}\0`);
  for await (const chunk of createReadStream(abs)) {
    sha256.update(chunk as Buffer);
    git.update(chunk as Buffer);
  }
  return { sha256: sha256.digest("hex"), gitOid: git.digest("hex") };
}

/** Parses one `bytes=` range against `size`: a range, "unsatisfiable", or undefined (serve it all). */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? "");
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const n = Number(m[2]);
    return n === 0 ? "unsatisfiable" : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return "unsatisfiable";
  if (end < start) return undefined;
  return { start, end };
}

export async function startLocalHub(options: LocalHubOptions): Promise<LocalHub> {
  const isLfs = options.lfs ?? ((p: string) => /\.gguf$/i.test(p));
  const cdnSecret = randomBytes(8).toString("hex");
  const requests: ServedRequest[] = [];
  const factsCache = new Map<string, FileFacts>();
  const corrupt = new Map<string, Set<number>>();
  let cuts: { bytes: number; count: number } | undefined;
  let rangeIgnored = false;
  const commit = createHash("sha1").update(cdnSecret).digest("hex");

  async function repoFiles(repo: string): Promise<FileFacts[] | undefined> {
    const dir = options.repos[repo];
    if (dir === undefined) return undefined;
    const out: FileFacts[] = [];
    for (const f of await walkFiles(dir)) {
      const st = await stat(f.abs);
      const key = `${repo}\0${f.path}`;
      let facts = factsCache.get(key);
      if (!facts || facts.size !== st.size || facts.mtimeMs !== st.mtimeMs) {
        facts = { abs: f.abs, path: f.path, size: st.size, mtimeMs: st.mtimeMs, ...(await hashBoth(f.abs, st.size)), lfs: isLfs(f.path) };
        factsCache.set(key, facts);
      }
      out.push(facts);
    }
    return out;
  }

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  function authorized(req: IncomingMessage): boolean {
    return options.token === undefined || req.headers.authorization === `Bearer ${options.token}`;
  }

  async function serveTree(req: IncomingMessage, res: ServerResponse, url: URL, parts: string[], log: ServedRequest): Promise<void> {
    // /api/models/{owner}/{name}/tree/{revision}[/{path}]
    const repo = `${parts[2]}/${parts[3]}`;
    const files = await repoFiles(repo);
    if (files === undefined) return json(res, 404, { error: "Repository not found" }, { "x-error-code": "RepoNotFound" });
    if (!authorized(req)) return json(res, 401, { error: "Invalid credentials in Authorization header" });
    const under = parts.slice(6).join("/");
    const recursive = url.searchParams.get("recursive") === "true" || url.searchParams.get("recursive") === "1";
    const dirs = new Set<string>();
    const entries: unknown[] = [];
    for (const f of files) {
      if (under && !f.path.startsWith(`${under}/`)) continue;
      const rest = under ? f.path.slice(under.length + 1) : f.path;
      const slash = rest.indexOf("/");
      if (slash >= 0 && !recursive) {
        dirs.add((under ? `${under}/` : "") + rest.slice(0, slash));
        continue;
      }
      const segments = f.path.split("/");
      for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join("/"));
      const entry = { type: "file", oid: f.gitOid, size: f.size, path: f.path };
      // On the Hub an LFS file's top-level size and oid are those of its pointer; lfs holds the content's.
      entries.push(f.lfs ? { ...entry, oid: createHash("sha1").update(f.sha256).digest("hex"), size: 134, lfs: { oid: f.sha256, size: f.size, pointerSize: 134 } } : entry);
    }
    const all = [...[...dirs].filter((d) => !under || d.startsWith(`${under}/`)).map((d) => ({ type: "directory", oid: createHash("sha1").update(d).digest("hex"), size: 0, path: d })), ...entries];
    const pageSize = options.treePageSize ?? all.length;
    const cursor = Number(url.searchParams.get("cursor") ?? "0");
    const page = all.slice(cursor, cursor + Math.max(1, pageSize));
    const headers: Record<string, string> = {};
    if (cursor + pageSize < all.length) {
      const next = new URL(url.href);
      next.searchParams.set("cursor", String(cursor + pageSize));
      headers.link = `<${next.href}>; rel="next"`;
    }
    log.status = 200;
    json(res, 200, page, headers);
  }

  async function serveResolve(req: IncomingMessage, res: ServerResponse, parts: string[], log: ServedRequest): Promise<void> {
    // /{owner}/{name}/resolve/{revision}/{path}
    const repo = `${parts[0]}/${parts[1]}`;
    const files = await repoFiles(repo);
    if (files === undefined) return json(res, 404, { error: "Repository not found" }, { "x-error-code": "RepoNotFound" });
    if (!authorized(req)) return json(res, 401, { error: "Invalid credentials in Authorization header" });
    const path = parts.slice(4).join("/");
    const file = files.find((f) => f.path === path);
    if (!file) return json(res, 404, { error: "Entry not found" }, { "x-error-code": "EntryNotFound" });
    if (file.lfs) {
      const location = `/lfs-cdn/${file.sha256}?repo=${encodeURIComponent(repo)}&file=${encodeURIComponent(path)}&sig=${cdnSecret}`;
      res.writeHead(302, { location, "x-repo-commit": commit, "x-linked-size": String(file.size), "x-linked-etag": `"${file.sha256}"`, etag: `"${file.gitOid}"` });
      res.end();
      return;
    }
    sendFile(req, res, repo, file, log);
  }

  async function serveCdn(req: IncomingMessage, res: ServerResponse, url: URL, parts: string[], log: ServedRequest): Promise<void> {
    if (url.searchParams.get("sig") !== cdnSecret) return json(res, 403, { error: "bad signature" });
    const repo = url.searchParams.get("repo") ?? "";
    const file = (await repoFiles(repo))?.find((f) => f.path === url.searchParams.get("file") && f.sha256 === parts[1]);
    if (!file) return json(res, 404, { error: "Entry not found" });
    sendFile(req, res, repo, file, log);
  }

  function sendFile(req: IncomingMessage, res: ServerResponse, repo: string, file: FileFacts, log: ServedRequest): void {
    const range = rangeIgnored ? undefined : parseRange(req.headers.range, file.size);
    if (range === "unsatisfiable") {
      log.status = 416;
      res.writeHead(416, { "content-range": `bytes */${file.size}` });
      res.end();
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? file.size - 1;
    log.status = range ? 206 : 200;
    res.writeHead(log.status, {
      "content-type": "application/octet-stream",
      "content-length": String(end - start + 1),
      "accept-ranges": "bytes",
      etag: `"${file.lfs ? file.sha256 : file.gitOid}"`,
      ...(range ? { "content-range": `bytes ${start}-${end}/${file.size}` } : {}),
    });
    if (req.method === "HEAD" || file.size === 0) {
      res.end();
      return;
    }
    let limit = Infinity;
    if (cuts && cuts.count > 0) {
      limit = cuts.bytes;
      if (--cuts.count === 0) cuts = undefined;
    }
    const flips = corrupt.get(`${repo}\0${file.path}`);
    const stream = createReadStream(file.abs, { start, end });
    let at = start;
    stream.on("data", (data) => {
      const chunk = Buffer.from(data as Buffer);
      for (const off of flips ?? []) if (off >= at && off < at + chunk.length) chunk[off - at]! ^= 0xff;
      at += chunk.length;
      const room = limit - log.bodyBytes;
      if (chunk.length >= room) {
        // The cut: send exactly `limit` bytes, then drop the connection mid-body.
        stream.destroy();
        log.bodyBytes += room;
        res.write(chunk.subarray(0, room), () => res.destroy());
        return;
      }
      log.bodyBytes += chunk.length;
      if (!res.write(chunk)) {
        stream.pause();
        res.once("drain", () => stream.resume());
      }
    });
    stream.on("end", () => res.end());
    stream.on("error", () => res.destroy());
    res.on("close", () => stream.destroy());
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
    const parts = url.pathname.split("/").slice(1).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    const route = parts[0] === "api" && parts[1] === "models" && parts[4] === "tree" ? "tree" : parts[2] === "resolve" ? "resolve" : parts[0] === "lfs-cdn" ? "cdn" : "unknown";
    const log: ServedRequest = { method: req.method ?? "GET", url: req.url ?? "", route, authorization: req.headers.authorization, range: req.headers.range, status: 0, bodyBytes: 0 };
    requests.push(log);
    const done = (p: Promise<void>) => p.catch(() => json(res, 500, { error: "internal error" }));
    res.on("finish", () => {
      if (log.status === 0) log.status = res.statusCode;
    });
    if (route === "tree") done(serveTree(req, res, url, parts, log));
    else if (route === "resolve") done(serveResolve(req, res, parts, log));
    else if (route === "cdn") done(serveCdn(req, res, url, parts, log));
    else json(res, 404, { error: "not a Hub route" });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    bytesServed: () => requests.reduce((n, r) => n + r.bodyBytes, 0),
    cutNextResponses(bytes: number, count = 1) {
      cuts = { bytes, count };
    },
    corruptByte(repo: string, file: string, offset: number) {
      const key = `${repo}\0${file}`;
      corrupt.set(key, new Set([...(corrupt.get(key) ?? []), offset]));
    },
    ignoreRange(on: boolean) {
      rangeIgnored = on;
    },
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
