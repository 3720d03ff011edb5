// A tensor manifest: the sha256 of a complete GGUF file, of its header and of every tensor's bytes,
// computed in one streaming pass. A peer that fetches only some tensors verifies each against it. The
// manifest is serialised once, deterministically, and the sha256 of those bytes is its identity: a node
// publishes that id, and whoever receives the bytes from any holder checks them against it.
// It is kept beside the model as `<file>.tensors.json`, written atomically.
import { createHash } from "node:crypto";
import { open, readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { writeFileAtomic } from "../net/atomic-file.js";
import { openGguf } from "../gguf/reader.js";
import type { GgufHeader } from "../gguf/format.js";
import { tensorByteRanges, type ByteRange } from "./tensor-ranges.js";

export const MANIFEST_FORMAT = "tessera-tensor-manifest/1";
export const MANIFEST_SUFFIX = ".tensors.json";
/** Enough for any real model (a big MoE has a few thousand tensors) yet bounded for an untrusted peer. */
export const MAX_MANIFEST_TENSORS = 1 << 16;
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const READ_CHUNK = 4 * 1024 * 1024;

export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, "a sha256 is 64 lowercase hex digits");

const SpanSchema = z.strictObject({
  start: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  length: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  sha256: Sha256Schema,
});

const TensorEntrySchema = z.strictObject({
  name: z.string().min(1).max(1024),
  start: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  length: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** null only in a provisional manifest (see provisional-manifest.ts), never in one from a peer. */
  sha256: Sha256Schema.nullable(),
});

export const TensorManifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  fileSize: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  fileSha256: Sha256Schema,
  /** [0, dataOffset) of the file. */
  header: SpanSchema,
  /** In file order. */
  tensors: z.array(TensorEntrySchema).max(MAX_MANIFEST_TENSORS),
});
export type TensorManifest = z.infer<typeof TensorManifestSchema>;
export type ManifestTensor = TensorManifest["tensors"][number];

/** A manifest together with the exact bytes it travels and is stored as, and their sha256 (its id). */
export interface ManifestRecord {
  readonly manifest: TensorManifest;
  readonly bytes: Uint8Array;
  readonly sha256: string;
}

export class ManifestError extends Error {
  override readonly name = "ManifestError";
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function manifestPath(modelPath: string): string {
  return modelPath + MANIFEST_SUFFIX;
}

/** Serialises a manifest (key order is fixed by construction) and names it by its sha256. */
export function manifestRecord(manifest: TensorManifest): ManifestRecord {
  const bytes = new TextEncoder().encode(JSON.stringify(manifest));
  return { manifest, bytes, sha256: sha256Hex(bytes) };
}

/**
 * Parses manifest bytes from an untrusted source: schema, then layout (spans inside the file, in order,
 * not overlapping, names unique). The id is the sha256 of the bytes as received.
 */
export function parseManifest(bytes: Uint8Array): ManifestRecord {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ManifestError(`manifest of ${bytes.length} bytes is over the ${MAX_MANIFEST_BYTES}-byte limit`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new ManifestError("manifest is not UTF-8 JSON");
  }
  const parsed = TensorManifestSchema.safeParse(json);
  if (!parsed.success) {
    const why = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new ManifestError(`invalid manifest: ${why}`);
  }
  const m = parsed.data;
  if (m.header.start !== 0 || m.header.length > m.fileSize) throw new ManifestError("manifest header span is not [0, n) inside the file");
  let end = m.header.length;
  const names = new Set<string>();
  for (const t of m.tensors) {
    if (names.has(t.name)) throw new ManifestError(`manifest lists tensor ${t.name} twice`);
    names.add(t.name);
    if (t.start < end) throw new ManifestError(`manifest tensor ${t.name} overlaps the span before it`);
    end = t.start + t.length;
    if (end > m.fileSize) throw new ManifestError(`manifest tensor ${t.name} runs past the end of the file`);
  }
  return { manifest: m, bytes, sha256: sha256Hex(bytes) };
}

/** A manifest every tensor of which has a sha256: the only kind taken from a peer or served. */
export function isFullyHashed(manifest: TensorManifest): boolean {
  return manifest.tensors.every((t) => t.sha256 !== null);
}

/** Does this manifest describe the tensor layout of `header` exactly (names, offsets, sizes)? */
export function manifestMatchesHeader(manifest: TensorManifest, header: GgufHeader): boolean {
  if (header.fileSize !== manifest.fileSize || header.dataOffset !== manifest.header.length) return false;
  const ranges = tensorByteRanges(header, header.tensors.map((t) => t.name)).tensors;
  if (ranges.length !== manifest.tensors.length) return false;
  return ranges.every((r, i) => {
    const t = manifest.tensors[i];
    return t.name === r.name && t.start === r.start && t.length === r.length;
  });
}

/** Hashes the whole file, its header and every tensor in one sequential read. */
export async function computeManifest(modelPath: string): Promise<TensorManifest> {
  const file = await openGguf(modelPath);
  const header = file.header;
  await file.close();
  const layout = tensorByteRanges(header, header.tensors.map((t) => t.name));
  const spans: (ByteRange & { name?: string; hash: ReturnType<typeof createHash> })[] = [
    { ...layout.header, hash: createHash("sha256") },
    ...layout.tensors.map((t) => ({ ...t, hash: createHash("sha256") })),
  ];
  const whole = createHash("sha256");
  const handle = await open(modelPath, "r");
  try {
    const buf = new Uint8Array(READ_CHUNK);
    let pos = 0;
    let first = 0; // spans before this one end at or before pos
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      whole.update(chunk);
      const end = pos + bytesRead;
      for (let i = first; i < spans.length && spans[i].start < end; i++) {
        const s = spans[i];
        const from = Math.max(s.start, pos);
        const to = Math.min(s.start + s.length, end);
        if (to > from) s.hash.update(chunk.subarray(from - pos, to - pos));
        if (s.start + s.length <= end && i === first) first++;
      }
      pos = end;
    }
    if (pos !== header.fileSize) throw new ManifestError(`${modelPath} changed size while it was hashed (${pos} of ${header.fileSize} bytes)`);
  } finally {
    await handle.close();
  }
  const [head, ...tensors] = spans;
  return {
    format: MANIFEST_FORMAT,
    fileSize: header.fileSize,
    fileSha256: whole.digest("hex"),
    header: { start: 0, length: head.length, sha256: head.hash.digest("hex") },
    tensors: tensors.map((t) => ({ name: t.name ?? "", start: t.start, length: t.length, sha256: t.hash.digest("hex") })),
  };
}

/**
 * The manifest of a complete model: its sidecar when that is newer than the file and of the right size,
 * otherwise computed (one pass over the file) and written to the sidecar atomically.
 */
export async function loadOrCreateManifest(modelPath: string): Promise<ManifestRecord> {
  const side = manifestPath(modelPath);
  const fileStat = await stat(modelPath);
  const sideStat = await stat(side).catch(() => undefined);
  if (sideStat && sideStat.mtimeMs >= fileStat.mtimeMs) {
    try {
      const record = parseManifest(new Uint8Array(await readFile(side)));
      if (record.manifest.fileSize === fileStat.size && isFullyHashed(record.manifest)) return record;
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      // An unreadable sidecar is rebuilt below.
    }
  }
  const record = manifestRecord(await computeManifest(modelPath));
  await writeFileAtomic(side, record.bytes, 0o644);
  return record;
}
