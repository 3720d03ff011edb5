// The index of the models a node holds: every GGUF file under the models directory, with its size,
// sha256 (cached in a sidecar by size and mtime) and the header facts placement needs.
import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { metaOptNumber, metaOptString } from "../gguf/format.js";
import type { GgufHeader } from "../gguf/format.js";
import { readGgufHeader } from "../gguf/reader.js";
import { typeName } from "../gguf/types.js";
import type { ModelIndexEntry } from "./index-entry.js";
import { modelName } from "./model-ref.js";
import { hashFile, readSidecar, writeSidecar } from "./sidecar.js";
import { listGgufFiles } from "./walk.js";

export interface ScanOptions {
  /** Told about each .gguf file that is left out of the index, and why (a broken header, say). */
  readonly onSkip?: (path: string, reason: string) => void;
}

/** Header facts: architecture, layer count and tensor types by bytes. */
export function headerFacts(header: GgufHeader): Pick<ModelIndexEntry, "architecture" | "layers" | "tensorTypes" | "tensorCount"> {
  const md = header.metadata;
  const arch = metaOptString(md, "general.architecture") ?? null;
  const blocks = arch === null ? undefined : metaOptNumber(md, `${arch}.block_count`);
  const bytes = new Map<string, number>();
  for (const t of header.tensors) bytes.set(typeName(t.type), (bytes.get(typeName(t.type)) ?? 0) + t.byteSize);
  const tensorTypes = [...bytes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([name]) => name);
  const layers = blocks !== undefined && Number.isSafeInteger(blocks) && blocks >= 0 ? blocks : null;
  return { architecture: arch, layers, tensorTypes, tensorCount: header.tensors.length };
}

/**
 * The sha256 of `path`, from its sidecar when size and mtime still match, else hashed now and cached.
 * A sidecar that cannot be written (read-only directory) only means hashing again next time.
 */
export async function cachedSha256(path: string): Promise<{ sha256: string; hub: ModelIndexEntry["hub"] }> {
  const st = await stat(path);
  const side = await readSidecar(path);
  if (side && side.size === st.size && side.mtimeMs === st.mtimeMs) return { sha256: side.sha256, hub: side.hub };
  const sha256 = await hashFile(path);
  // The Hub origin only still holds if the bytes are the ones that were pulled.
  const hub = side?.sha256 === sha256 ? side.hub : undefined;
  const after = await stat(path);
  if (after.size === st.size && after.mtimeMs === st.mtimeMs) {
    await writeSidecar(path, { size: st.size, mtimeMs: st.mtimeMs, sha256, ...(hub ? { hub } : {}) }).catch(() => undefined);
  }
  return { sha256, hub };
}

/** The index entry of one file in `modelsDir`. Throws when its header cannot be read. */
export async function indexModelFile(modelsDir: string, path: string): Promise<ModelIndexEntry> {
  const dir = resolve(modelsDir);
  const abs = resolve(path);
  const header = await readGgufHeader(abs);
  const { sha256, hub } = await cachedSha256(abs);
  return {
    name: modelName(dir, abs, hub),
    file: basename(abs),
    path: abs,
    size: header.fileSize,
    sha256,
    ...headerFacts(header),
    ...(hub ? { hub } : {}),
  };
}

/** Every model in `modelsDir`, sorted by name. A missing directory holds none. */
export async function scanModels(modelsDir: string, options: ScanOptions = {}): Promise<ModelIndexEntry[]> {
  const out: ModelIndexEntry[] = [];
  for (const f of await listGgufFiles(resolve(modelsDir))) {
    try {
      out.push(await indexModelFile(modelsDir, f.abs));
    } catch (e) {
      options.onSkip?.(f.abs, e instanceof Error ? e.message : String(e));
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
