// What the store remembers about each model file, in a small hidden file beside it
// (`.<file>.tessera.json`): its sha256, keyed by size and mtime so that a rescan of an unchanged file
// does not read gigabytes again, and where it came from when it was pulled from the Hub. One sidecar
// per file, written atomically, so two processes working on different models never overwrite each
// other's facts; a missing or unreadable sidecar only costs a rehash.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../net/atomic-file.js";

export const SHA256_HEX = /^[0-9a-f]{64}$/;

export const HubOriginSchema = z.object({
  repo: z.string().min(3).max(200),
  revision: z.string().min(1).max(256),
  /** Path of the file inside the repository. */
  file: z.string().min(1).max(1024),
});
export type HubOrigin = z.infer<typeof HubOriginSchema>;

const SidecarSchema = z.object({
  format: z.literal(1),
  size: z.number().int().nonnegative(),
  mtimeMs: z.number().nonnegative(),
  sha256: z.string().regex(SHA256_HEX),
  hub: HubOriginSchema.optional(),
});
export type Sidecar = z.infer<typeof SidecarSchema>;

export function sidecarPath(modelPath: string): string {
  return join(dirname(modelPath), `.${basename(modelPath)}.tessera.json`);
}

/** The sidecar of `modelPath`, or undefined when there is none or it cannot be trusted. */
export async function readSidecar(modelPath: string): Promise<Sidecar | undefined> {
  try {
    const parsed = SidecarSchema.safeParse(JSON.parse(await readFile(sidecarPath(modelPath), "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeSidecar(modelPath: string, sidecar: Omit<Sidecar, "format">): Promise<void> {
  await writeFileAtomic(sidecarPath(modelPath), JSON.stringify({ format: 1, ...sidecar }) + "\n", 0o644);
}

export async function removeSidecar(modelPath: string): Promise<void> {
  await rm(sidecarPath(modelPath), { force: true });
}

/** The sha256 of a whole file, read as a stream (hex). */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
