// The in-memory shape of a GGUF file's header: metadata, tensor infos and layout.
// Parsing lives in reader.ts, serialising in writer.ts; this module is types and small accessors.
import type { GgmlType } from "./types.js";

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** 64-bit integers are numbers when they are safe integers, bigints otherwise. */
export type GgufScalar = number | bigint | boolean | string;
export type GgufArrayValue = readonly GgufScalar[] | readonly GgufArrayValue[];

export type GgufMetaValue =
  | { readonly type: Exclude<GgufValueType, GgufValueType.ARRAY>; readonly value: GgufScalar }
  | { readonly type: GgufValueType.ARRAY; readonly itemType: GgufValueType; readonly value: GgufArrayValue };

export type GgufMetadata = ReadonlyMap<string, GgufMetaValue>;

export interface TensorInfo {
  readonly name: string;
  /** ggml's ne: the fastest-varying dimension first (ne[0] = row length). */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** Offset of the tensor's data, relative to the start of the data section. */
  readonly offset: number;
  readonly elements: number;
  readonly byteSize: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly alignment: number;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly TensorInfo[];
  /** Absolute file offset where the (aligned) data section begins. */
  readonly dataOffset: number;
  readonly fileSize: number;
}

/** Every failure to read or validate a GGUF file is reported with this one error type. */
export class GgufError extends Error {
  override readonly name = "GgufError";
  constructor(message: string) {
    super(message);
  }
}

function lookup(md: GgufMetadata, key: string): GgufMetaValue {
  const v = md.get(key);
  if (v === undefined) throw new GgufError(`missing metadata key ${key}`);
  return v;
}

export function metaString(md: GgufMetadata, key: string): string {
  const v = lookup(md, key);
  if (typeof v.value !== "string") throw new GgufError(`metadata ${key} is not a string`);
  return v.value;
}

export function metaOptString(md: GgufMetadata, key: string): string | undefined {
  return md.has(key) ? metaString(md, key) : undefined;
}

export function metaNumber(md: GgufMetadata, key: string): number {
  const v = lookup(md, key);
  if (typeof v.value === "number") return v.value;
  if (typeof v.value === "bigint") return Number(v.value);
  if (typeof v.value === "boolean") return v.value ? 1 : 0;
  throw new GgufError(`metadata ${key} is not a number`);
}

export function metaOptNumber(md: GgufMetadata, key: string): number | undefined {
  return md.has(key) ? metaNumber(md, key) : undefined;
}

export function metaOptBool(md: GgufMetadata, key: string): boolean | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (typeof v.value === "boolean") return v.value;
  if (typeof v.value === "number") return v.value !== 0;
  throw new GgufError(`metadata ${key} is not a bool`);
}

export function metaArray(md: GgufMetadata, key: string): GgufArrayValue {
  const v = lookup(md, key);
  if (v.type !== GgufValueType.ARRAY) throw new GgufError(`metadata ${key} is not an array`);
  return v.value;
}

export function metaOptStringArray(md: GgufMetadata, key: string): readonly string[] | undefined {
  if (!md.has(key)) return undefined;
  const arr = metaArray(md, key);
  for (const s of arr) if (typeof s !== "string") throw new GgufError(`metadata ${key} holds a non-string`);
  return arr as readonly string[];
}

export function metaOptNumberArray(md: GgufMetadata, key: string): readonly number[] | undefined {
  if (!md.has(key)) return undefined;
  const arr = metaArray(md, key);
  return arr.map((x) => {
    if (typeof x === "number") return x;
    if (typeof x === "bigint") return Number(x);
    throw new GgufError(`metadata ${key} holds a non-number`);
  });
}
