// Pure parsing and validation of a GGUF (v2/v3, little-endian) header from bytes already in memory.
// Files are untrusted: every count is bounded by the bytes left in the file before anything is
// allocated, every tensor is checked against the file size, and every failure is a GgufError.
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufError, GgufValueType } from "./format.js";
import type { GgufArrayValue, GgufHeader, GgufMetaValue, GgufScalar, TensorInfo } from "./format.js";
import { HeaderCursor, NeedMoreBytes, quote } from "./cursor.js";
import type { Label } from "./cursor.js";
import { isValueType, minEncodedBytes, valueTypeName, withItemType } from "./meta.js";
import { isKnownType, typeLayout, typeName } from "./types.js";

export const GGUF_MAX_DIMS = 4;
/** Arrays of arrays are legal GGUF but unused in practice; a cap keeps hostile nesting off the stack. */
export const GGUF_MAX_ARRAY_DEPTH = 8;
/** Smallest tensor info: empty name (8), n_dims (4), one dim (8), type (4), offset (8). */
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
/** Smallest key/value: empty key (8), value type (4), a one-byte value. */
const MIN_KV_BYTES = 8 + 4 + 1;

/**
 * Parses the header of a GGUF file of `fileSize` bytes from `bytes`, which holds the file's first
 * bytes (a prefix is enough if it covers the header). Throws GgufError for a malformed file, and
 * NeedMoreBytes (not a GgufError) if the header runs past `bytes` but not past `fileSize`.
 */
export function parseGgufHeader(bytes: Uint8Array, fileSize: number): GgufHeader {
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) throw new GgufError(`invalid file size ${fileSize}`);
  try {
    return parse(new HeaderCursor(bytes, fileSize));
  } catch (e) {
    if (e instanceof GgufError || e instanceof NeedMoreBytes) throw e;
    // A bug or a resource limit (RangeError from V8) must still reach callers as a GgufError.
    throw new GgufError(`internal error while parsing GGUF header: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function parse(c: HeaderCursor): GgufHeader {
  const magic = c.u32("magic");
  if (magic !== GGUF_MAGIC) {
    throw new GgufError(`bad magic 0x${magic.toString(16).padStart(8, "0")} at byte offset 0: not a GGUF file`);
  }
  const version = c.u32("version");
  checkVersion(version);
  const tensorCount = c.count("tensor count", MIN_TENSOR_INFO_BYTES);
  const kvCount = c.count("metadata key/value count", MIN_KV_BYTES);

  const metadata = new Map<string, GgufMetaValue>();
  for (let i = 0; i < kvCount; i++) {
    const at = c.pos;
    const key = c.string(`metadata key #${i}`);
    if (metadata.has(key)) throw new GgufError(`duplicate metadata key ${quote(key)} at byte offset ${at}`);
    metadata.set(key, readValue(c, key));
  }
  const alignment = readAlignment(metadata);

  const raw: RawTensor[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const t = readTensorInfo(c, i);
    if (names.has(t.name)) throw new GgufError(`duplicate tensor name ${quote(t.name)} at byte offset ${t.at}`);
    names.add(t.name);
    raw.push(t);
  }

  const dataOffset = alignUp(c.pos, alignment);
  if (raw.length > 0 && dataOffset > c.fileSize) {
    throw new GgufError(`truncated file: data section would start at byte offset ${dataOffset}, file ends at ${c.fileSize}`);
  }
  const tensors = raw.map((t) => validateTensor(t, alignment, dataOffset, c.fileSize));
  checkOverlaps(tensors);
  return { version, alignment, metadata, tensors, dataOffset, fileSize: c.fileSize };
}

function checkVersion(version: number): void {
  if (version === 2 || version === 3) return;
  if (version === 1) throw new GgufError("GGUF version 1 is not supported (only versions 2 and 3)");
  // A big-endian file shows its version byte-swapped: 2 or 3 in the top byte.
  const swapped = version >>> 24;
  if ((version & 0xffffff) === 0 && (swapped === 2 || swapped === 3)) {
    throw new GgufError(`GGUF version ${version} looks like a big-endian file; only little-endian GGUF is supported`);
  }
  throw new GgufError(`unsupported GGUF version ${version} (only versions 2 and 3)`);
}

function readValue(c: HeaderCursor, key: string): GgufMetaValue {
  const at = c.pos;
  const type = c.u32(() => `value type of ${quote(key)}`);
  if (!isValueType(type)) throw new GgufError(`unknown value type ${type} for metadata ${quote(key)} at byte offset ${at}`);
  if (type === GgufValueType.ARRAY) {
    const itemType = readItemType(c, key);
    return { type, itemType, value: readArrayItems(c, key, itemType, 1) };
  }
  return { type, value: readScalar(c, type, () => `${valueTypeName(type)} value of ${quote(key)}`, key) };
}

function readItemType(c: HeaderCursor, key: string): GgufValueType {
  const at = c.pos;
  const itemType = c.u32(() => `array item type of ${quote(key)}`);
  if (!isValueType(itemType)) {
    throw new GgufError(`unknown array item type ${itemType} for metadata ${quote(key)} at byte offset ${at}`);
  }
  return itemType;
}

function readArrayItems(c: HeaderCursor, key: string, itemType: GgufValueType, depth: number): GgufArrayValue {
  if (depth > GGUF_MAX_ARRAY_DEPTH) {
    throw new GgufError(`metadata ${quote(key)} nests arrays deeper than ${GGUF_MAX_ARRAY_DEPTH} at byte offset ${c.pos}`);
  }
  const n = c.count(() => `length of ${valueTypeName(itemType)} array ${quote(key)}`, minEncodedBytes(itemType));
  if (itemType === GgufValueType.ARRAY) {
    const out: GgufArrayValue[] = [];
    for (let i = 0; i < n; i++) {
      const inner = readItemType(c, key);
      out.push(withItemType(readArrayItems(c, key, inner, depth + 1), inner));
    }
    return out;
  }
  const what = () => `${valueTypeName(itemType)} item of array ${quote(key)}`;
  const out: GgufScalar[] = [];
  for (let i = 0; i < n; i++) out.push(readScalar(c, itemType, what, key));
  return out;
}

function readScalar(c: HeaderCursor, type: GgufValueType, what: Label, key: string): GgufScalar {
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8(what);
    case GgufValueType.INT8:
      return c.i8(what);
    case GgufValueType.UINT16:
      return c.u16(what);
    case GgufValueType.INT16:
      return c.i16(what);
    case GgufValueType.UINT32:
      return c.u32(what);
    case GgufValueType.INT32:
      return c.i32(what);
    case GgufValueType.FLOAT32:
      return c.f32(what);
    case GgufValueType.UINT64:
      return c.u64(what);
    case GgufValueType.INT64:
      return c.i64(what);
    case GgufValueType.FLOAT64:
      return c.f64(what);
    case GgufValueType.STRING:
      return c.string(what);
    case GgufValueType.BOOL: {
      // Strict: writers store 0 or 1, so anything else means the bytes are not what we think they are.
      const at = c.pos;
      const b = c.u8(what);
      if (b > 1) throw new GgufError(`bool value ${b} of ${quote(key)} at byte offset ${at} is neither 0 nor 1`);
      return b === 1;
    }
    case GgufValueType.ARRAY:
      throw new GgufError(`array where a scalar was expected in ${quote(key)}`);
  }
}

const INTEGER_TYPES: ReadonlySet<GgufValueType> = new Set([
  GgufValueType.UINT8,
  GgufValueType.INT8,
  GgufValueType.UINT16,
  GgufValueType.INT16,
  GgufValueType.UINT32,
  GgufValueType.INT32,
  GgufValueType.UINT64,
  GgufValueType.INT64,
]);

function readAlignment(metadata: ReadonlyMap<string, GgufMetaValue>): number {
  const v = metadata.get("general.alignment");
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  // The spec says UINT32; any integer type is accepted since the value is what matters.
  if (!INTEGER_TYPES.has(v.type)) throw new GgufError(`general.alignment must be an integer, got ${valueTypeName(v.type)}`);
  const a = v.value;
  // Capped at 2^30 so alignUp stays exact; real files use 32 (or another small power of two).
  if (typeof a !== "number" || a <= 0 || a > 2 ** 30 || (a & (a - 1)) !== 0) {
    throw new GgufError(`general.alignment ${a} is not a power of two between 1 and 2^30`);
  }
  return a;
}

interface RawTensor {
  readonly at: number;
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: number;
  readonly offset: number | bigint;
}

function readTensorInfo(c: HeaderCursor, i: number): RawTensor {
  const at = c.pos;
  const name = c.string(`name of tensor #${i}`);
  const nDimsAt = c.pos;
  const nDims = c.u32(() => `n_dims of tensor ${quote(name)}`);
  if (nDims < 1 || nDims > GGUF_MAX_DIMS) {
    throw new GgufError(`tensor ${quote(name)} has n_dims ${nDims} at byte offset ${nDimsAt} (must be 1 to ${GGUF_MAX_DIMS})`);
  }
  const dims: number[] = [];
  for (let d = 0; d < nDims; d++) {
    const dimAt = c.pos;
    const dim = c.u64(() => `dimension ${d} of tensor ${quote(name)}`);
    if (typeof dim === "bigint" || dim < 1) {
      throw new GgufError(`tensor ${quote(name)} has dimension ${d} = ${dim} at byte offset ${dimAt} (must be a positive safe integer)`);
    }
    dims.push(dim);
  }
  const type = c.u32(() => `type of tensor ${quote(name)}`);
  const offset = c.u64(() => `offset of tensor ${quote(name)}`);
  return { at, name, dims, type, offset };
}

function validateTensor(t: RawTensor, alignment: number, dataOffset: number, fileSize: number): TensorInfo {
  const where = `tensor ${quote(t.name)} (info at byte offset ${t.at})`;
  if (!isKnownType(t.type)) throw new GgufError(`${where} has unknown or unsupported ggml type ${t.type}`);
  const { blockSize, typeSize } = typeLayout(t.type);
  let elements = 1;
  for (const d of t.dims) {
    // Both factors are safe integers, so a product past 2^53 still compares as past it.
    elements *= d;
    if (elements > Number.MAX_SAFE_INTEGER) throw new GgufError(`${where} has too many elements (${t.dims.join(" x ")})`);
  }
  const rowLength = t.dims[0] ?? 1;
  if (rowLength % blockSize !== 0) {
    throw new GgufError(`${where} row length ${rowLength} is not a multiple of ${typeName(t.type)}'s block size ${blockSize}`);
  }
  const byteSize = (elements / blockSize) * typeSize;
  const room = fileSize - dataOffset;
  if (typeof t.offset === "bigint" || t.offset > room) {
    throw new GgufError(`${where} offset ${t.offset} is out of range: the data section holds ${room} bytes`);
  }
  if (t.offset % alignment !== 0) throw new GgufError(`${where} offset ${t.offset} is not aligned to ${alignment}`);
  if (byteSize > room - t.offset) {
    throw new GgufError(
      `${where} data (offset ${t.offset} + size ${byteSize}) runs past the end of the file: the data section holds ${room} bytes`,
    );
  }
  return { name: t.name, dims: t.dims, type: t.type, offset: t.offset, elements, byteSize };
}

function checkOverlaps(tensors: readonly TensorInfo[]): void {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (prev.offset + prev.byteSize > cur.offset) {
      throw new GgufError(`tensors ${quote(prev.name)} and ${quote(cur.name)} overlap in the data section (offsets ${prev.offset} and ${cur.offset})`);
    }
  }
}

export function alignUp(n: number, alignment: number): number {
  const rem = n % alignment;
  return rem === 0 ? n : n + alignment - rem;
}
