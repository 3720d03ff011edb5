// Writing GGUF files: a validated layout (header bytes + tensor offsets) is planned in memory, then
// either assembled into one buffer (encodeGguf, for small files and tests) or streamed tensor by
// tensor into a temporary file that is fsynced and renamed into place (writeGguf).
import { open, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufError, GgufValueType } from "./format.js";
import type { GgufArrayValue, GgufMetaValue, GgufScalar } from "./format.js";
import { bytesFor, isKnownType, typeLayout, typeName } from "./types.js";
import type { GgmlType } from "./types.js";
import { ByteWriter } from "./byte-writer.js";
import { checkScalar, isValueType, itemTypeOf, meta, valueTypeName } from "./meta.js";
import { GGUF_MAX_ARRAY_DEPTH, GGUF_MAX_DIMS, alignUp } from "./parse-header.js";

export { meta, withItemType, itemTypeOf } from "./meta.js";

export interface GgufTensorSpec {
  readonly name: string;
  /** ggml's ne order: row length first. */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  readonly data: Uint8Array;
}

export interface GgufWriteSpec {
  /** GGUF version; 3 by default. v2 and v3 are byte-identical for little-endian files. */
  readonly version?: 2 | 3;
  /** Data alignment; defaults to general.alignment from the metadata, else 32. */
  readonly alignment?: number;
  /** Key/value pairs in file order; a GgufMetadata map works as-is. */
  readonly metadata: Iterable<readonly [string, GgufMetaValue]>;
  /** Tensors in file order; each is placed at the next aligned offset. */
  readonly tensors: readonly GgufTensorSpec[];
}

interface Plan {
  /** Magic through the last tensor info, without the padding before the data section. */
  readonly header: Uint8Array;
  readonly dataOffset: number;
  /** Offsets relative to dataOffset, one per spec tensor. */
  readonly offsets: readonly number[];
  readonly totalSize: number;
}

/** Encodes a whole GGUF file into one buffer. Meant for small files; use writeGguf for models. */
export function encodeGguf(spec: GgufWriteSpec): Uint8Array {
  const plan = planGguf(spec);
  const out = new Uint8Array(plan.totalSize); // zero-filled, so the padding is zeros
  out.set(plan.header, 0);
  spec.tensors.forEach((t, i) => out.set(t.data, plan.dataOffset + plan.offsets[i]!));
  return out;
}

/**
 * Writes a GGUF file atomically: into `path.tmp-<pid>-<random>`, fsynced, then renamed over `path`.
 * Tensor data is written from the callers' buffers one by one, never gathered into one buffer.
 */
export async function writeGguf(path: string, spec: GgufWriteSpec): Promise<void> {
  const plan = planGguf(spec);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  const handle = await open(tmp, "wx");
  let renamed = false;
  try {
    let pos = await writeAll(handle, plan.header, 0);
    for (const [i, t] of spec.tensors.entries()) {
      const start = plan.dataOffset + plan.offsets[i]!;
      pos = await writeAll(handle, new Uint8Array(start - pos), pos);
      pos = await writeAll(handle, t.data, pos);
    }
    await writeAll(handle, new Uint8Array(plan.totalSize - pos), pos);
    await handle.sync();
    await handle.close();
    await rename(tmp, path);
    renamed = true;
    await syncDirectory(dirname(path));
  } finally {
    if (!renamed) {
      await handle.close().catch(() => undefined); // already closed if rename was what failed
      await unlink(tmp).catch(() => undefined);
    }
  }
}

/** Makes the rename itself durable. Best effort: some platforms cannot open or fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The file is complete and in place either way; only durability across a crash is weaker.
  }
}

const WRITE_CHUNK = 1 << 30; // fs writes are capped at 2 GiB - 1

async function writeAll(handle: FileHandle, bytes: Uint8Array, pos: number): Promise<number> {
  for (let done = 0; done < bytes.length; ) {
    const len = Math.min(bytes.length - done, WRITE_CHUNK);
    const { bytesWritten } = await handle.write(bytes, done, len, pos + done);
    if (bytesWritten <= 0) throw new Error(`write made no progress at byte ${pos + done}`);
    done += bytesWritten;
  }
  return pos + bytes.length;
}

function planGguf(spec: GgufWriteSpec): Plan {
  const version = spec.version ?? 3;
  if (version !== 2 && version !== 3) throw new GgufError(`cannot write GGUF version ${String(version)} (only 2 and 3)`);
  const metadata = collectMetadata(spec.metadata);
  const alignment = resolveAlignment(spec.alignment, metadata);
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !metadata.has("general.alignment")) {
    metadata.set("general.alignment", meta.u32(alignment));
  }

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(version);
  w.u64(spec.tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, value);
  }

  const offsets: number[] = [];
  const names = new Set<string>();
  let dataSize = 0;
  for (const t of spec.tensors) {
    checkTensor(t, names);
    const offset = alignUp(dataSize, alignment);
    offsets.push(offset);
    dataSize = offset + t.data.length;
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
  }
  const header = w.bytes();
  const dataOffset = alignUp(header.length, alignment);
  return { header, dataOffset, offsets, totalSize: dataOffset + alignUp(dataSize, alignment) };
}

function collectMetadata(entries: Iterable<readonly [string, GgufMetaValue]>): Map<string, GgufMetaValue> {
  const out = new Map<string, GgufMetaValue>();
  for (const [key, value] of entries) {
    if (typeof key !== "string") throw new GgufError(`metadata key ${String(key)} is not a string`);
    if (out.has(key)) throw new GgufError(`duplicate metadata key "${key}"`);
    checkValue(key, value);
    out.set(key, value);
  }
  return out;
}

function resolveAlignment(requested: number | undefined, metadata: ReadonlyMap<string, GgufMetaValue>): number {
  const stored = metadata.get("general.alignment");
  if (stored !== undefined && stored.type !== GgufValueType.UINT32) {
    throw new GgufError(`general.alignment must be stored as UINT32, not ${valueTypeName(stored.type)}`);
  }
  const fromMeta = stored === undefined ? undefined : Number(stored.value);
  if (requested !== undefined && fromMeta !== undefined && requested !== fromMeta) {
    throw new GgufError(`alignment ${requested} disagrees with metadata general.alignment ${fromMeta}`);
  }
  const a = requested ?? fromMeta ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(a) || a <= 0 || a > 2 ** 30 || (a & (a - 1)) !== 0) {
    throw new GgufError(`alignment ${a} is not a power of two between 1 and 2^30`);
  }
  return a;
}

function checkValue(key: string, v: GgufMetaValue): void {
  if (!isValueType(v.type)) throw new GgufError(`metadata "${key}": unknown value type ${String(v.type)}`);
  if (v.type === GgufValueType.ARRAY) checkArray(key, v.itemType, v.value, 1);
  else checkScalar(v.type, v.value, `metadata "${key}"`);
}

function checkArray(key: string, itemType: GgufValueType, values: GgufArrayValue, depth: number): void {
  if (depth > GGUF_MAX_ARRAY_DEPTH) throw new GgufError(`metadata "${key}": arrays nested deeper than ${GGUF_MAX_ARRAY_DEPTH}`);
  if (!isValueType(itemType)) throw new GgufError(`metadata "${key}": unknown array item type ${String(itemType)}`);
  if (!Array.isArray(values)) throw new GgufError(`metadata "${key}": array value is not an array`);
  for (const item of values as readonly (GgufScalar | GgufArrayValue)[]) {
    if (itemType !== GgufValueType.ARRAY) checkScalar(itemType, item, `metadata "${key}" item`);
    else if (!Array.isArray(item)) throw new GgufError(`metadata "${key}": item of an ARRAY array is not an array`);
    else checkArray(key, itemTypeOf(item as GgufArrayValue), item as GgufArrayValue, depth + 1);
  }
}

function writeValue(w: ByteWriter, v: GgufMetaValue): void {
  w.u32(v.type);
  if (v.type === GgufValueType.ARRAY) writeArray(w, v.itemType, v.value);
  else writeScalar(w, v.type, v.value);
}

function writeArray(w: ByteWriter, itemType: GgufValueType, values: GgufArrayValue): void {
  w.u32(itemType);
  w.u64(values.length);
  if (itemType === GgufValueType.ARRAY) {
    for (const inner of values as readonly GgufArrayValue[]) writeArray(w, itemTypeOf(inner), inner);
  } else {
    for (const item of values as readonly GgufScalar[]) writeScalar(w, itemType, item);
  }
}

function writeScalar(w: ByteWriter, type: GgufValueType, v: GgufScalar): void {
  switch (type) {
    case GgufValueType.UINT8:
      return w.u8(v as number);
    case GgufValueType.INT8:
      return w.i8(v as number);
    case GgufValueType.UINT16:
      return w.u16(v as number);
    case GgufValueType.INT16:
      return w.i16(v as number);
    case GgufValueType.UINT32:
      return w.u32(v as number);
    case GgufValueType.INT32:
      return w.i32(v as number);
    case GgufValueType.FLOAT32:
      return w.f32(v as number);
    case GgufValueType.UINT64:
      return w.u64(v as number | bigint);
    case GgufValueType.INT64:
      return w.i64(v as number | bigint);
    case GgufValueType.FLOAT64:
      return w.f64(v as number);
    case GgufValueType.BOOL:
      return w.u8(v ? 1 : 0);
    case GgufValueType.STRING:
      return w.string(v as string);
    case GgufValueType.ARRAY:
      throw new GgufError("array where a scalar was expected");
  }
}

function checkTensor(t: GgufTensorSpec, names: Set<string>): void {
  const where = `tensor "${t.name}"`;
  if (typeof t.name !== "string") throw new GgufError(`tensor name ${String(t.name)} is not a string`);
  if (names.has(t.name)) throw new GgufError(`duplicate tensor name "${t.name}"`);
  names.add(t.name);
  if (t.dims.length < 1 || t.dims.length > GGUF_MAX_DIMS) {
    throw new GgufError(`${where} has ${t.dims.length} dims (must be 1 to ${GGUF_MAX_DIMS})`);
  }
  let elements = 1;
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 1) throw new GgufError(`${where} has dimension ${d} (must be a positive integer)`);
    elements *= d;
  }
  if (!Number.isSafeInteger(elements)) throw new GgufError(`${where} has too many elements`);
  if (!isKnownType(t.type)) throw new GgufError(`${where} has unknown ggml type ${String(t.type)}`);
  const { blockSize } = typeLayout(t.type);
  if (t.dims[0]! % blockSize !== 0) {
    throw new GgufError(`${where} row length ${t.dims[0]} is not a multiple of ${typeName(t.type)}'s block size ${blockSize}`);
  }
  const expected = bytesFor(t.type, elements);
  if (t.data.length !== expected) {
    throw new GgufError(`${where} has ${t.data.length} bytes of data; ${t.dims.join("x")} ${typeName(t.type)} needs ${expected}`);
  }
}
