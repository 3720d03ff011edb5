// Downloading one file into the models directory so that a crash, a cut connection or a full disk never
// leaves something that looks like a complete model. Bytes go to `<file>.part`; an interrupted transfer
// resumes from the part's length with an HTTP Range request; the whole file is checked against the
// Hub's hash; only then is the part fsynced and renamed to its final name. A small `.part.json` beside
// it records which version the part belongs to, so a part of an older version is not continued.
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../net/atomic-file.js";
import { availableBytes, diskFullError, isDiskFull, isNotWritable, notWritableError } from "./disk-space.js";
import { ChecksumMismatchError, DownloadInterruptedError, HubError } from "./errors.js";
import { hubFetch, hubStatusError, type HubConfig } from "./hub-client.js";
import { acquireLock } from "./lock.js";
import { SHA256_HEX } from "./sidecar.js";

export interface DownloadSpec {
  readonly url: string;
  /** Request headers (authorization); Range is added here. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Final path of the file. */
  readonly dest: string;
  /** Exact size the file must have. */
  readonly size: number;
  /** Expected sha256 (hex), from the Hub's LFS metadata. */
  readonly sha256?: string | undefined;
  /** Expected git blob id (sha1 of "blob <size>\0" + content), for files the Hub keeps in git itself. */
  readonly gitOid?: string | undefined;
  /** How messages name the file (`owner/repo:file.gguf`). */
  readonly label: string;
  /** For error messages about status codes (which endpoint, whether a token was sent). */
  readonly hub: HubConfig;
}

export interface DownloadProgress {
  /** Bytes of the file that are on disk or on their way (the resumed prefix included). */
  readonly received: number;
  readonly total: number;
  /** Where this transfer started: the length of the part that was resumed. */
  readonly resumedFrom: number;
}

export interface DownloadOptions {
  readonly onProgress?: (p: DownloadProgress) => void;
  readonly signal?: AbortSignal;
  /** A transfer with no bytes for this long is treated as interrupted (default 60 s). */
  readonly idleTimeoutMs?: number;
}

export interface DownloadResult {
  readonly sha256: string;
  /** Length of the part this transfer continued from (0 for a fresh download). */
  readonly resumedFrom: number;
  /** Bytes received over the network by this call. */
  readonly bytesFetched: number;
}

/** Received bytes are written in pieces of about this size, not one syscall per network chunk. */
const WRITE_BATCH = 4 << 20;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export const PartMetaSchema = z.object({
  /** The model's name once complete (`owner/repo:file.gguf`). */
  name: z.string().min(1).max(1400).optional(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(SHA256_HEX).optional(),
  gitOid: z.string().max(128).optional(),
});

export function partPath(dest: string): string {
  return `${dest}.part`;
}

export function partMetaPath(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.part.json`);
}

function lockPath(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.lock`);
}

/** Downloads `spec.url` to `spec.dest` (see the module comment). Throws a named error on every failure. */
export async function downloadFile(spec: DownloadSpec, options: DownloadOptions = {}): Promise<DownloadResult> {
  if (!spec.sha256 && !spec.gitOid) throw new HubError(`the Hub gives no checksum for ${spec.label}, so it cannot be verified`);
  const dir = dirname(spec.dest);
  await mkdir(dir, { recursive: true }).catch((e: unknown) => {
    throw isNotWritable(e) ? notWritableError(dir, e) : e;
  });
  const release = await acquireLock(lockPath(spec.dest), spec.label).catch(async (e: unknown) => {
    if (isNotWritable(e)) throw notWritableError(dir, e);
    if (isDiskFull(e)) throw await diskFullError(spec.label, dir, spec.size, 0, (e as NodeJS.ErrnoException).code);
    throw e;
  });
  try {
    return await transfer(spec, options);
  } finally {
    await release();
  }
}

/** Length of the existing part, when it belongs to the same version of the file; else 0. */
async function resumableLength(spec: DownloadSpec): Promise<number> {
  let size: number;
  try {
    size = (await stat(partPath(spec.dest))).size;
  } catch {
    return 0;
  }
  if (size === 0 || size > spec.size) return 0;
  try {
    const meta = PartMetaSchema.parse(JSON.parse(await readFile(partMetaPath(spec.dest), "utf8")));
    return meta.size === spec.size && meta.sha256 === spec.sha256 && meta.gitOid === spec.gitOid ? size : 0;
  } catch {
    return 0;
  }
}

/** The sha256 always (the index needs it), and the git blob hash when that is what the Hub gives. */
class FileHashes {
  readonly sha256 = createHash("sha256");
  readonly git: Hash | undefined;
  constructor(size: number, withGit: boolean) {
    this.git = withGit ? createHash("sha1").update(`blob ${size}\0`) : undefined;
  }
  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.git?.update(chunk);
  }
}

async function hashPrefix(path: string, length: number, hashes: FileHashes): Promise<void> {
  let read = 0;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20 })) {
    hashes.update(chunk as Buffer);
    read += (chunk as Buffer).length;
  }
  if (read !== length) throw new Error(`${path} shrank while it was read (${read} of ${length} bytes)`);
}

/** Parses `bytes START-END/TOTAL`. */
function parseContentRange(value: string | null): { start: number; end: number; total: number | undefined } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? "");
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === "*" ? undefined : Number(m[3]) };
}

async function writeAll(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function openPart(spec: DownloadSpec, resume: boolean): Promise<FileHandle> {
  const dir = dirname(spec.dest);
  try {
    if (!resume) await writeFileAtomic(partMetaPath(spec.dest), JSON.stringify({ name: spec.label, size: spec.size, sha256: spec.sha256, gitOid: spec.gitOid }) + "\n", 0o644);
    return await open(partPath(spec.dest), resume ? "r+" : "w", 0o644);
  } catch (e) {
    if (isNotWritable(e)) throw notWritableError(dir, e);
    if (isDiskFull(e)) throw await diskFullError(spec.label, dir, spec.size, 0, (e as NodeJS.ErrnoException).code);
    throw e;
  }
}

async function transfer(spec: DownloadSpec, options: DownloadOptions): Promise<DownloadResult> {
  const dir = dirname(spec.dest);
  let offset = await resumableLength(spec);
  // Restarting from zero happens at most once: when the server ignores or refuses our Range.
  for (let restarted = false; ; restarted = true) {
    const needed = spec.size - offset;
    const available = await availableBytes(dir);
    if (available !== undefined && available < needed) throw await diskFullError(spec.label, dir, needed, offset);

    const hashes = new FileHashes(spec.size, !spec.sha256);
    if (offset > 0) await hashPrefix(partPath(spec.dest), offset, hashes);

    const idle = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
    const headers: Record<string, string> = { ...spec.headers, "accept-encoding": "identity" };
    if (offset > 0 && offset < spec.size) headers.range = `bytes=${offset}-`;
    const res = offset === spec.size ? undefined : await hubFetch(spec.url, { headers, redirect: "follow", signal });

    if (res && res.status === 200 && offset > 0) {
      // The server ignored the Range header: the body is the whole file, so the part starts over.
      offset = 0;
      await res.body?.cancel();
      if (restarted) throw new HubError(`the server keeps sending ${spec.label} from its start`);
      continue;
    }
    if (res && res.status === 416 && !restarted) {
      // The server has no bytes past our part: the part is not a prefix of this file.
      offset = 0;
      await res.body?.cancel();
      continue;
    }
    if (res && res.status !== 200 && res.status !== 206) throw await hubStatusError(res, spec.label, spec.hub);
    if (res) checkResponseRange(res, spec, offset);

    const fh = await openPart(spec, offset > 0);
    let received: number;
    try {
      received = await receive(res, fh, spec, offset, hashes, options, idle);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (received < spec.size) throw new DownloadInterruptedError(`the download of ${spec.label} stopped at ${received} of ${spec.size} bytes; run the pull again to resume`, received, spec.size);
    const sha256 = hashes.sha256.digest("hex");
    const git = hashes.git?.digest("hex");
    if ((spec.sha256 && sha256 !== spec.sha256) || (spec.gitOid && git !== undefined && git !== spec.gitOid)) {
      // A corrupt part cannot be repaired by resuming it, so none of it is kept.
      await rm(partPath(spec.dest), { force: true });
      await rm(partMetaPath(spec.dest), { force: true });
      const [got, want] = spec.sha256 ? [sha256, spec.sha256] : [git, spec.gitOid];
      throw new ChecksumMismatchError(`${spec.label} is corrupt: its ${spec.sha256 ? "sha256" : "git hash"} is ${got}, the Hub says ${want}; the download was discarded`);
    }
    await rename(partPath(spec.dest), spec.dest);
    await syncDir(dir);
    await rm(partMetaPath(spec.dest), { force: true });
    return { sha256, resumedFrom: offset, bytesFetched: received - offset };
  }
}

function checkResponseRange(res: Response, spec: DownloadSpec, offset: number): void {
  const length = res.headers.get("content-length");
  if (res.status === 206) {
    const range = parseContentRange(res.headers.get("content-range"));
    if (!range || range.start !== offset || range.end !== spec.size - 1 || (range.total !== undefined && range.total !== spec.size)) {
      throw new HubError(`the server answered the range request for ${spec.label} with Content-Range ${JSON.stringify(res.headers.get("content-range"))}, expected bytes ${offset}-${spec.size - 1}/${spec.size}`);
    }
  }
  if (length !== null && Number(length) !== spec.size - offset) {
    throw new HubError(`the server sends ${length} bytes of ${spec.label}, but ${spec.size - offset} were expected (the Hub's file list says ${spec.size})`);
  }
}

/** Streams the body into the part from `offset`; returns how far the file got. Disk errors are thrown. */
async function receive(res: Response | undefined, fh: FileHandle, spec: DownloadSpec, offset: number, hashes: FileHashes, options: DownloadOptions, idle: AbortController): Promise<number> {
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let received = offset;
  let written = offset;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const buf = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    try {
      await writeAll(fh, buf, written);
    } catch (e) {
      if (isDiskFull(e)) throw await diskFullError(spec.label, dirname(spec.dest), spec.size - written, written, (e as NodeJS.ErrnoException).code);
      throw e;
    }
    written += buf.length;
  };
  options.onProgress?.({ received, total: spec.size, resumedFrom: offset });
  if (!res?.body) return received;
  const reader = res.body.getReader();
  let timer = setTimeout(() => idle.abort(), idleMs);
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch {
        break; // a cut connection, an abort or an idle timeout: keep what arrived, report the shortfall
      }
      if (chunk.done) break;
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), idleMs);
      const bytes = chunk.value;
      if (received + bytes.length > spec.size) throw new HubError(`the server sent more than the ${spec.size} bytes of ${spec.label}`);
      hashes.update(bytes);
      pending.push(bytes);
      pendingBytes += bytes.length;
      received += bytes.length;
      if (pendingBytes >= WRITE_BATCH) await flush();
      options.onProgress?.({ received, total: spec.size, resumedFrom: offset });
    }
    await flush();
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
  return written;
}

/** fsync of the folder, so the rename itself survives a power cut; not every platform allows it. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // Windows cannot open a folder this way; the rename is still atomic there.
  } finally {
    await fh?.close();
  }
}
