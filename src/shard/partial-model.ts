// A model held in part: a sparse file of the complete model's size with the GGUF header and only some
// tensors written at their original offsets (so loadShard opens it unchanged and reads what it needs),
// plus a state sidecar naming the manifest and the tensors present and verified. Both carry a
// `.partial` suffix, so nothing that scans for complete models takes one for a model; once every
// tensor is in and the whole file hashes to the manifest's sha256, it is renamed to its final name.
// Crash safety: tensor bytes are fsynced before the state that lists them is (atomically) replaced,
// so the state never claims bytes that are not on disk.
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../net/atomic-file.js";
import { computeManifest, manifestPath, manifestRecord, parseManifest, Sha256Schema, type ManifestRecord, type ManifestTensor } from "./tensor-manifest.js";

export const PARTIAL_SUFFIX = ".partial";
export const PARTIAL_STATE_SUFFIX = ".partial.state.json";
const STATE_FORMAT = "tessera-partial-model/1";

const PartialStateSchema = z.strictObject({
  format: z.literal(STATE_FORMAT),
  manifestSha256: Sha256Schema,
  /** The manifest's own bytes (as text), so the partial verifies without asking the holder again. */
  manifest: z.string(),
  header: z.boolean(),
  present: z.array(z.string()),
});

export class PartialModelError extends Error {
  override readonly name = "PartialModelError";
}

/**
 * Checks a model's file name inside the models directory: relative, no `.`/`..` segments, no empty
 * segments or backslashes, no NUL. Returns the absolute path it names.
 */
export function modelFilePath(modelsDir: string, name: string): string {
  const segments = name.split("/");
  const bad = name.length === 0 || name.length > 1024 || isAbsolute(name) || name.includes("\\") || name.includes("\0") ||
    segments.some((s) => s === "" || s === "." || s === "..");
  if (bad) throw new PartialModelError(`model file name ${JSON.stringify(name)} is not a plain relative path`);
  const root = resolve(modelsDir);
  const full = resolve(root, ...segments);
  const rel = relative(root, full);
  if (rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) throw new PartialModelError(`model file name ${JSON.stringify(name)} leaves the models directory`);
  return full;
}

export class PartialModel {
  private readonly present: Set<string>;
  private readonly byName: ReadonlyMap<string, ManifestTensor>;

  private constructor(
    /** The sparse data file: open this with loadShard. */
    readonly path: string,
    /** Where the complete model goes once every tensor is in. */
    readonly finalPath: string,
    readonly record: ManifestRecord,
    private readonly handle: FileHandle,
    private headerPresent: boolean,
    present: readonly string[],
  ) {
    this.byName = new Map(record.manifest.tensors.map((t) => [t.name, t]));
    this.present = new Set(present.filter((n) => this.byName.has(n)));
  }

  /**
   * Opens (or creates) the partial copy of `name` under `modelsDir` for the model `record` describes.
   * A partial of another manifest (another model or version under the same name) is discarded.
   */
  static async open(modelsDir: string, name: string, record: ManifestRecord): Promise<PartialModel> {
    const finalPath = modelFilePath(modelsDir, name);
    const path = finalPath + PARTIAL_SUFFIX;
    await mkdir(dirname(path), { recursive: true });
    const state = await readState(finalPath + PARTIAL_STATE_SUFFIX);
    const size = await stat(path).then((s) => s.size, () => -1);
    const reuse = state !== undefined && state.manifestSha256 === record.sha256 && size === record.manifest.fileSize;
    const handle = await open(path, reuse ? "r+" : "w+");
    try {
      // Truncating to the full size makes the file sparse: unwritten tensors take no disk blocks.
      if (!reuse) await handle.truncate(record.manifest.fileSize);
      const partial = new PartialModel(path, finalPath, record, handle, reuse ? state.header : false, reuse ? state.present : []);
      if (!reuse) await partial.commit();
      return partial;
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** The manifest a partial of `name` was started for, if there is one (so a resume needs no peer for it). */
  static async existingManifest(modelsDir: string, name: string): Promise<ManifestRecord | undefined> {
    const state = await readState(modelFilePath(modelsDir, name) + PARTIAL_STATE_SUFFIX);
    return state ? parseManifest(new TextEncoder().encode(state.manifest)) : undefined;
  }

  get statePath(): string {
    return this.finalPath + PARTIAL_STATE_SUFFIX;
  }

  get hasHeader(): boolean {
    return this.headerPresent;
  }

  has(tensor: string): boolean {
    return this.present.has(tensor);
  }

  /** Tensors present and verified, in manifest order. */
  presentTensors(): string[] {
    return this.record.manifest.tensors.filter((t) => this.present.has(t.name)).map((t) => t.name);
  }

  get complete(): boolean {
    return this.headerPresent && this.present.size === this.record.manifest.tensors.length;
  }

  /** Writes bytes at an absolute file offset (within the model's size); marks nothing present. */
  async writeAt(position: number, bytes: Uint8Array): Promise<void> {
    if (position < 0 || position + bytes.length > this.record.manifest.fileSize) {
      throw new PartialModelError(`write of ${bytes.length} bytes at ${position} is outside the ${this.record.manifest.fileSize}-byte model`);
    }
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, position + done);
      done += bytesWritten;
    }
  }

  /** Records verified spans in memory; commit() makes that durable. */
  markHeader(): void {
    this.headerPresent = true;
  }

  markTensor(tensor: string): void {
    if (!this.byName.has(tensor)) throw new PartialModelError(`the manifest has no tensor ${tensor}`);
    this.present.add(tensor);
  }

  /** Flushes the written bytes, then replaces the state sidecar that lists them. */
  async commit(): Promise<void> {
    await this.handle.datasync();
    const state: z.infer<typeof PartialStateSchema> = {
      format: STATE_FORMAT,
      manifestSha256: this.record.sha256,
      manifest: new TextDecoder().decode(this.record.bytes),
      header: this.headerPresent,
      present: this.presentTensors(),
    };
    await writeFileAtomic(this.statePath, JSON.stringify(state), 0o644);
  }

  /**
   * Once complete: hashes the file (whole, header, every tensor: one pass) and, if it is the manifest's
   * file, moves it to its final name with its true manifest as the sidecar. Returns the final path, or
   * undefined if it is not complete yet. A mismatch (say the padding between tensors differs from the
   * holder's) throws and leaves the partial as it is, still usable for its shards.
   */
  async promote(): Promise<string | undefined> {
    if (!this.complete) return undefined;
    await this.handle.datasync();
    const real = manifestRecord(await computeManifest(this.path));
    const want = this.record.manifest;
    // The whole file's sha256 covers every byte, also those of a provisional manifest's unhashed tensors.
    if (real.manifest.fileSha256 !== want.fileSha256) {
      throw new PartialModelError(`every tensor of ${this.path} is in, but the file hashes to ${real.manifest.fileSha256}, not ${want.fileSha256}`);
    }
    // The manifest sidecar first: a complete file must never appear without it (it would be re-hashed).
    await writeFileAtomic(manifestPath(this.finalPath), real.bytes, 0o644);
    await rename(this.path, this.finalPath);
    await rm(this.statePath, { force: true });
    return this.finalPath;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  /** Closes and deletes the partial (data and state): for bytes that turned out wrong with no way to tell which. */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.statePath, { force: true });
    await rm(this.path, { force: true });
  }
}

/** The state sidecar, if it exists and is well-formed (anything else means starting over). */
async function readState(path: string): Promise<z.infer<typeof PartialStateSchema> | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    const state = PartialStateSchema.parse(JSON.parse(text));
    // The embedded manifest must be the one the state names.
    if (parseManifest(new TextEncoder().encode(state.manifest)).sha256 !== state.manifestSha256) return undefined;
    return state;
  } catch {
    return undefined;
  }
}

/** Paths a partial of `name` uses, e.g. for a store that lists or removes partials. */
export function partialPaths(modelsDir: string, name: string): { data: string; state: string; final: string } {
  const final = modelFilePath(modelsDir, name);
  return { data: final + PARTIAL_SUFFIX, state: final + PARTIAL_STATE_SUFFIX, final };
}
