// Turning "no room left" into an error that says how much room is needed and how much there is.
import { statfs } from "node:fs/promises";
import { DiskFullError, ModelsDirNotWritableError } from "./errors.js";

/** ENOSPC: the filesystem is full; EDQUOT: the user's quota is; EFBIG: the file hit a size limit. */
const DISK_FULL_CODES = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);
const NOT_WRITABLE_CODES = new Set(["EACCES", "EPERM", "EROFS"]);

export function isDiskFull(e: unknown): boolean {
  return DISK_FULL_CODES.has((e as NodeJS.ErrnoException | null)?.code ?? "");
}

export function isNotWritable(e: unknown): boolean {
  return NOT_WRITABLE_CODES.has((e as NodeJS.ErrnoException | null)?.code ?? "");
}

/** Bytes this user may still write on the filesystem holding `dir`, or undefined if it cannot be asked. */
export async function availableBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function bytesPhrase(n: number): string {
  return `${n} bytes (${formatBytes(n)})`;
}

export async function diskFullError(what: string, dir: string, neededBytes: number, keptBytes: number, code?: string): Promise<DiskFullError> {
  const available = await availableBytes(dir);
  const avail = available === undefined ? "an unknown amount" : bytesPhrase(available);
  const kept = keptBytes > 0 ? `; the ${bytesPhrase(keptBytes)} already written are kept and the next pull resumes from them` : "";
  return new DiskFullError(`no room for ${what}${code ? ` (${code})` : ""}: it needs ${bytesPhrase(neededBytes)} more, and ${dir} has ${avail} available${kept}`, neededBytes, available);
}

export function notWritableError(path: string, e: unknown): ModelsDirNotWritableError {
  const code = (e as NodeJS.ErrnoException).code ?? "error";
  const why = code === "EROFS" ? "the filesystem is read-only" : "permission denied";
  return new ModelsDirNotWritableError(`cannot write to ${path}: ${why} (${code}); choose another --models-dir or TESSERA_MODELS_DIR`);
}
