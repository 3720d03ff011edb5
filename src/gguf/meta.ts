// Building GGUF metadata values, and the per-type facts (sizes, ranges) the reader and writer share.
import { GgufError, GgufValueType } from "./format.js";
import type { GgufArrayValue, GgufMetaValue, GgufScalar } from "./format.js";

/** Fixed encoded size of each scalar type; strings and arrays are variable. */
export const SCALAR_BYTES: ReadonlyMap<GgufValueType, number> = new Map([
  [GgufValueType.UINT8, 1],
  [GgufValueType.INT8, 1],
  [GgufValueType.BOOL, 1],
  [GgufValueType.UINT16, 2],
  [GgufValueType.INT16, 2],
  [GgufValueType.UINT32, 4],
  [GgufValueType.INT32, 4],
  [GgufValueType.FLOAT32, 4],
  [GgufValueType.UINT64, 8],
  [GgufValueType.INT64, 8],
  [GgufValueType.FLOAT64, 8],
]);

/** Smallest possible encoding of one value of `t`: a string is at least its u64 length, an array its type and count. */
export function minEncodedBytes(t: GgufValueType): number {
  if (t === GgufValueType.STRING) return 8;
  if (t === GgufValueType.ARRAY) return 4 + 8;
  const n = SCALAR_BYTES.get(t);
  if (n === undefined) throw new RangeError(`unknown GGUF value type ${t}`);
  return n;
}

export function isValueType(t: number): t is GgufValueType {
  return t === GgufValueType.STRING || t === GgufValueType.ARRAY || SCALAR_BYTES.has(t as GgufValueType);
}

export function valueTypeName(t: number): string {
  return GgufValueType[t] ?? `value type #${t}`;
}

// The shared GgufArrayValue shape cannot say what type the items of an inner (nested) array have, so
// that is kept beside the array, invisibly: the reader tags every inner array it builds and the writer
// looks the tag up. An untagged inner array gets its item type inferred (see inferItemType).
const innerItemTypes = new WeakMap<object, GgufValueType>();

/** Records that `values`, used as an inner array of a nested GGUF array, holds items of `itemType`. */
export function withItemType<T extends GgufArrayValue>(values: T, itemType: GgufValueType): T {
  innerItemTypes.set(values, itemType);
  return values;
}

/** The item type recorded for an inner array, or one inferred from its values. */
export function itemTypeOf(values: GgufArrayValue): GgufValueType {
  return innerItemTypes.get(values) ?? inferItemType(values);
}

function inferItemType(values: GgufArrayValue): GgufValueType {
  const items = values as readonly unknown[];
  if (items.every((v) => typeof v === "string")) return GgufValueType.STRING; // includes []
  if (items.every((v) => typeof v === "boolean")) return GgufValueType.BOOL;
  if (items.every((v) => Array.isArray(v))) return GgufValueType.ARRAY;
  if (items.every((v) => typeof v === "number" || typeof v === "bigint")) {
    const nums = items as readonly (number | bigint)[];
    if (!nums.every((v) => typeof v === "bigint" || Number.isInteger(v))) return GgufValueType.FLOAT64;
    if (nums.every((v) => typeof v === "number" && v >= -(2 ** 31) && v < 2 ** 31)) return GgufValueType.INT32;
    if (nums.every((v) => v >= -(2n ** 63n) && v < 2n ** 63n)) return GgufValueType.INT64;
    return GgufValueType.UINT64;
  }
  throw new GgufError("cannot infer the item type of a nested array with mixed values; tag it with withItemType");
}

const INT_RANGES: ReadonlyMap<GgufValueType, readonly [bigint, bigint]> = new Map([
  [GgufValueType.UINT8, [0n, 0xffn]],
  [GgufValueType.INT8, [-0x80n, 0x7fn]],
  [GgufValueType.UINT16, [0n, 0xffffn]],
  [GgufValueType.INT16, [-0x8000n, 0x7fffn]],
  [GgufValueType.UINT32, [0n, 0xffffffffn]],
  [GgufValueType.INT32, [-0x80000000n, 0x7fffffffn]],
  [GgufValueType.UINT64, [0n, 2n ** 64n - 1n]],
  [GgufValueType.INT64, [-(2n ** 63n), 2n ** 63n - 1n]],
] as const);

/** Throws a GgufError unless `value` can be stored exactly as a scalar of type `t`. */
export function checkScalar(t: GgufValueType, value: unknown, where: string): void {
  const bad = (why: string): never => {
    throw new GgufError(`${where}: ${why}`);
  };
  if (t === GgufValueType.STRING) {
    if (typeof value !== "string") bad(`expected a string for STRING, got ${typeof value}`);
    return;
  }
  if (t === GgufValueType.BOOL) {
    if (typeof value !== "boolean") bad(`expected a boolean for BOOL, got ${typeof value}`);
    return;
  }
  if (t === GgufValueType.FLOAT32 || t === GgufValueType.FLOAT64) {
    if (typeof value !== "number") bad(`expected a number for ${valueTypeName(t)}, got ${typeof value}`);
    return;
  }
  const range = INT_RANGES.get(t);
  if (range === undefined) return bad(`${valueTypeName(t)} is not a scalar type`);
  if (typeof value === "number" && !Number.isSafeInteger(value)) bad(`${value} is not a safe integer for ${valueTypeName(t)}`);
  if (typeof value !== "number" && typeof value !== "bigint") bad(`expected an integer for ${valueTypeName(t)}, got ${typeof value}`);
  const big = BigInt(value as number | bigint);
  if (big < range[0] || big > range[1]) bad(`${value} is out of range for ${valueTypeName(t)}`);
}

function scalar(type: Exclude<GgufValueType, GgufValueType.ARRAY>, value: GgufScalar): GgufMetaValue {
  checkScalar(type, value, "metadata value");
  return { type, value };
}

function array(itemType: GgufValueType, values: GgufArrayValue): GgufMetaValue {
  return { type: GgufValueType.ARRAY, itemType, value: values };
}

/** Builders for metadata values; each checks its value fits the type. */
export const meta = {
  u8: (v: number): GgufMetaValue => scalar(GgufValueType.UINT8, v),
  i8: (v: number): GgufMetaValue => scalar(GgufValueType.INT8, v),
  u16: (v: number): GgufMetaValue => scalar(GgufValueType.UINT16, v),
  i16: (v: number): GgufMetaValue => scalar(GgufValueType.INT16, v),
  u32: (v: number): GgufMetaValue => scalar(GgufValueType.UINT32, v),
  i32: (v: number): GgufMetaValue => scalar(GgufValueType.INT32, v),
  u64: (v: number | bigint): GgufMetaValue => scalar(GgufValueType.UINT64, v),
  i64: (v: number | bigint): GgufMetaValue => scalar(GgufValueType.INT64, v),
  /** Stored as float32: the value read back is Math.fround(v). */
  f32: (v: number): GgufMetaValue => scalar(GgufValueType.FLOAT32, v),
  f64: (v: number): GgufMetaValue => scalar(GgufValueType.FLOAT64, v),
  bool: (v: boolean): GgufMetaValue => scalar(GgufValueType.BOOL, v),
  string: (v: string): GgufMetaValue => scalar(GgufValueType.STRING, v),
  /** Any array; for itemType ARRAY, tag the inner arrays with withItemType (or let it be inferred). */
  array,
  stringArray: (v: readonly string[]): GgufMetaValue => array(GgufValueType.STRING, v),
  f32Array: (v: readonly number[]): GgufMetaValue => array(GgufValueType.FLOAT32, v),
  i32Array: (v: readonly number[]): GgufMetaValue => array(GgufValueType.INT32, v),
  u32Array: (v: readonly number[]): GgufMetaValue => array(GgufValueType.UINT32, v),
  boolArray: (v: readonly boolean[]): GgufMetaValue => array(GgufValueType.BOOL, v),
} as const;
