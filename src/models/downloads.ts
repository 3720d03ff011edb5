// Downloads in progress in a models directory: each `.part` with the size and hash it is heading for,
// so that a node can publish how far along it is (placement may prefer the node nearest to done).
import { readFile, readdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { z } from "zod";
import { partMetaPath, PartMetaSchema } from "./download.js";
import { modelName } from "./model-ref.js";
import { SHA256_HEX } from "./sidecar.js";

export const ModelDownloadSchema = z.object({
  /** What the file will be called once complete (`owner/repo:file.gguf`). */
  name: z.string().min(1).max(1400),
  /** Final absolute path. */
  path: z.string().min(1).max(4096),
  receivedBytes: z.number().int().nonnegative(),
  totalBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(SHA256_HEX).optional(),
});
export type ModelDownload = z.infer<typeof ModelDownloadSchema>;

async function partsUnder(dir: string, depth: number, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    if (e.isDirectory() && depth < 8) await partsUnder(join(dir, e.name), depth + 1, out);
    else if (/\.gguf\.part$/i.test(e.name)) out.push(join(dir, e.name));
  }
}

/** Every unfinished download under `modelsDir` whose target is known, sorted by name. */
export async function scanDownloads(modelsDir: string): Promise<ModelDownload[]> {
  const dir = resolve(modelsDir);
  const parts: string[] = [];
  await partsUnder(dir, 0, parts);
  const out: ModelDownload[] = [];
  for (const part of parts) {
    const dest = join(dirname(part), basename(part).slice(0, -".part".length));
    try {
      const meta = PartMetaSchema.parse(JSON.parse(await readFile(partMetaPath(dest), "utf8")));
      const received = (await stat(part)).size;
      if (received > meta.size) continue;
      out.push({ name: meta.name ?? modelName(dir, dest), path: dest, receivedBytes: received, totalBytes: meta.size, ...(meta.sha256 ? { sha256: meta.sha256 } : {}) });
    } catch {
      // A part without its record cannot say what it will become; it is not reported.
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
