// Shared by the gguf tests: where the reference model lives, a seeded PRNG, a small file with every
// metadata type, and a builder for hand-made (usually broken) headers.
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { GGUF_MAGIC, GgufError, GgufValueType } from "./format.js";
import type { GgufMetaValue } from "./format.js";
import { ByteWriter } from "./byte-writer.js";
import { meta, withItemType } from "./meta.js";
import { GgmlType } from "./types.js";
import type { GgufTensorSpec, GgufWriteSpec } from "./writer.js";

/** stories260K.gguf: the repo sits beside shared/ (here and in CI); this resolves from src/ and dist/. */
export const STORIES_PATH = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));

export { mulberry32 } from "../random/mulberry32.js";

export function randomBytesFrom(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** One value of every metadata type, including nested and empty arrays and 64-bit extremes. */
export function everyTypeMetadata(): [string, GgufMetaValue][] {
  return [
    ["t.u8", meta.u8(255)],
    ["t.i8", meta.i8(-128)],
    ["t.u16", meta.u16(65535)],
    ["t.i16", meta.i16(-32768)],
    ["t.u32", meta.u32(4294967295)],
    ["t.i32", meta.i32(-2147483648)],
    ["t.f32", meta.f32(Math.fround(1e-5))],
    ["t.f32.neg0", meta.f32(-0)],
    ["t.f32.nan", meta.f32(NaN)],
    ["t.bool.true", meta.bool(true)],
    ["t.bool.false", meta.bool(false)],
    ["t.string", meta.string("héllo wörld ✓ 🦙")],
    ["t.string.empty", meta.string("")],
    ["t.u64.safe", meta.u64(Number.MAX_SAFE_INTEGER)],
    ["t.u64.max", meta.u64(2n ** 64n - 1n)],
    ["t.i64.min", meta.i64(-(2n ** 63n))],
    ["t.i64.small", meta.i64(-5)],
    ["t.f64", meta.f64(Math.PI)],
    ["t.f64.inf", meta.f64(-Infinity)],
    ["a.u8", meta.array(GgufValueType.UINT8, [0, 1, 255])],
    ["a.i8", meta.array(GgufValueType.INT8, [-128, 0, 127])],
    ["a.u16", meta.array(GgufValueType.UINT16, [0, 65535])],
    ["a.i16", meta.array(GgufValueType.INT16, [-32768, 32767])],
    ["a.u32", meta.u32Array([0, 4294967295])],
    ["a.i32", meta.i32Array([-1, 2147483647])],
    ["a.f32", meta.f32Array([0.5, -2, Math.fround(0.1)])],
    ["a.bool", meta.boolArray([true, false, true])],
    ["a.string", meta.stringArray(["", "a", "<0x0A>", "▁the", "\uFEFFbom"])],
    ["a.u64", meta.array(GgufValueType.UINT64, [0, 2n ** 63n])],
    ["a.i64", meta.array(GgufValueType.INT64, [-(2n ** 62n) * 2n, 7])],
    ["a.f64", meta.array(GgufValueType.FLOAT64, [1e300, -1e-300])],
    ["a.empty", meta.array(GgufValueType.FLOAT32, [])],
    [
      "a.nested",
      meta.array(GgufValueType.ARRAY, [
        withItemType([1, 2, 3], GgufValueType.UINT16),
        withItemType(["x", "y"], GgufValueType.STRING),
        withItemType([withItemType([1.5], GgufValueType.FLOAT32)], GgufValueType.ARRAY),
        withItemType([], GgufValueType.INT64),
      ]),
    ],
  ];
}

/** A small, valid file spec: every metadata type plus tensors of several layouts. */
export function smallSpec(rand: () => number, alignment = 32, version: 2 | 3 = 3): GgufWriteSpec {
  const tensors: GgufTensorSpec[] = [
    { name: "a.f32", dims: [5, 3], type: GgmlType.F32, data: randomBytesFrom(rand, 60) },
    { name: "b.f16", dims: [7], type: GgmlType.F16, data: randomBytesFrom(rand, 14) },
    { name: "c.q4_0", dims: [64, 2], type: GgmlType.Q4_0, data: randomBytesFrom(rand, 4 * 18) },
    { name: "d.q8_0", dims: [32, 1, 1, 2], type: GgmlType.Q8_0, data: randomBytesFrom(rand, 2 * 34) },
    { name: "e.q4_k", dims: [256], type: GgmlType.Q4_K, data: randomBytesFrom(rand, 144) },
  ];
  return { version, alignment, metadata: everyTypeMetadata(), tensors };
}

/** Hand-builds a header: magic, version, counts as given (so they can lie), then `body`'s bytes. */
export function rawGguf(opts: {
  readonly magic?: number;
  readonly version?: number;
  readonly tensorCount: number | bigint;
  readonly kvCount: number | bigint;
  readonly body?: (w: ByteWriter) => void;
  /** Zero bytes appended after the body (data section and padding). */
  readonly tail?: number;
}): Uint8Array {
  const w = new ByteWriter();
  w.u32(opts.magic ?? GGUF_MAGIC);
  w.u32(opts.version ?? 3);
  w.u64(opts.tensorCount);
  w.u64(opts.kvCount);
  opts.body?.(w);
  const out = new Uint8Array(w.length + (opts.tail ?? 0));
  out.set(w.bytes());
  return out;
}

export function writeTensorInfo(w: ByteWriter, name: string, dims: readonly (number | bigint)[], type: number, offset: number | bigint): void {
  w.string(name);
  w.u32(dims.length);
  for (const d of dims) w.u64(d);
  w.u32(type);
  w.u64(offset);
}

/** Asserts `fn` throws a GgufError whose message matches `pattern`. */
export function assertGgufError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GgufError, `expected a GgufError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}
