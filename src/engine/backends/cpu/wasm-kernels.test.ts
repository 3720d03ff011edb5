// The wasm SIMD matmul kernels against the TypeScript ones (matmulPrepared), for every weight type
// the wasm module exports: quantised random rows and random raw blocks (full quant ranges, valid
// f16 scales), several shapes, token counts and row sub-ranges.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { dequantize } from "../../../gguf/quants/dequantize.js";
import { readF16, writeF16 } from "../../../gguf/quants/f16.js";
import { quantizeRow } from "../../../gguf/quants/quantize.js";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import { GgmlType, bytesFor, typeLayout, typeName } from "../../../gguf/types.js";
import { matmulPrepared } from "./kernels/matmul.js";
import { type PreparedActivations, prepareActivations, preparedRowValues } from "./kernels/prepared-activations.js";
import { WasmKernels } from "./wasm-kernels.js";

const TYPES = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];
const ROWS = [1, 3, 8, 13];
const BLOCKS = [1, 2, 5];
const TOKENS = [1, 3, 32];

/** Byte offsets (within a block) of the f16 scale fields, and where a K block's dmin sits. */
const SCALE_FIELDS: ReadonlyMap<GgmlType, readonly number[]> = new Map([
  [GgmlType.Q8_0, [0]], [GgmlType.Q4_0, [0]], [GgmlType.Q5_0, [0]], [GgmlType.Q4_1, [0, 2]], [GgmlType.Q5_1, [0, 2]],
  [GgmlType.Q4_K, [0, 2]], [GgmlType.Q5_K, [0, 2]], [GgmlType.Q6_K, [208]],
]);

/** Random bytes with every f16 scale field replaced by a finite value (mixed signs and magnitudes). */
function rawBlocks(type: GgmlType, rows: number, cols: number, rand: () => number): Uint8Array {
  const w = new Uint8Array(rows * bytesFor(type, cols));
  for (let i = 0; i < w.length; i++) w[i] = Math.floor(rand() * 256);
  const { typeSize } = typeLayout(type);
  for (let o = 0; o < w.length; o += typeSize) {
    for (const f of SCALE_FIELDS.get(type) ?? []) writeF16(w, o + f, (rand() - 0.3) * 2 ** Math.floor(rand() * 20 - 16));
  }
  return w;
}

/**
 * A bound on the sum of |per-block terms| of row r x token t: each weight's magnitude plus twice
 * the block's min part (m for Q4_1/Q5_1, dmin * 63 for Q4_K/Q5_K), times each activation's.
 */
function termMagnitude(type: GgmlType, w: Uint8Array, cols: number, act: PreparedActivations, r: number, t: number): number {
  const rowBytes = bytesFor(type, cols);
  const { blockSize, typeSize } = typeLayout(type);
  const wr = dequantize(type, w.subarray(r * rowBytes, (r + 1) * rowBytes), cols);
  const ar = preparedRowValues(act, t);
  const minPart = type === GgmlType.Q4_1 || type === GgmlType.Q5_1 ? 1 : type === GgmlType.Q4_K || type === GgmlType.Q5_K ? 63 : 0;
  let mag = 0;
  for (let i = 0; i < cols; i++) {
    const off = minPart ? minPart * Math.abs(readF16(w, r * rowBytes + Math.floor(i / blockSize) * typeSize + 2)) : 0;
    mag += (Math.abs(wr[i]) + 2 * off) * Math.abs(ar[i]);
  }
  return mag;
}

function check(kernels: WasmKernels, type: GgmlType, w: Uint8Array, rows: number, cols: number, nTok: number, rand: () => number, what: string): void {
  const act = prepareActivations(type, randomNormals(rand, nTok * cols), nTok, cols);
  const want = new Float32Array(nTok * rows);
  matmulPrepared(type, w, rows, cols, act, want);
  const ptr = kernels.upload(w);
  const ranges: Array<[number, number]> = [[0, rows]];
  if (rows > 2) ranges.push([1, rows - 1]);
  for (const [r0, r1] of ranges) {
    const got = new Float32Array(nTok * rows).fill(-12345);
    kernels.matmul(type, ptr, rows, cols, act, got, r0, r1);
    for (let t = 0; t < nTok; t++) {
      for (let r = 0; r < rows; r++) {
        const i = t * rows + r;
        const where = `${typeName(type)} ${what} ${rows}x${cols} nTok=${nTok} [${r0},${r1}) t=${t} r=${r}`;
        if (r < r0 || r >= r1) {
          assert.equal(got[i], -12345, `${where}: row outside the range was written`);
          continue;
        }
        // Both sides form the same per-block terms and sum them in f64; only the order differs,
        // so allow two f32 ulps of the output plus a sliver of the terms' magnitude.
        const tol = 2.5e-7 * Math.abs(want[i]) + 1e-9 * termMagnitude(type, w, cols, act, r, t);
        assert.ok(Math.abs(got[i] - want[i]) <= tol, `${where}: wasm ${got[i]} vs TS ${want[i]} (tol ${tol})`);
      }
    }
  }
}

const kernels = WasmKernels.load();

for (const type of TYPES) {
  test(`wasm ${typeName(type)} matmul matches the TypeScript kernel`, () => {
    assert.ok(kernels.supports(type), `the wasm module exports no ${typeName(type)} kernel`);
    const rand = seededRandom(1000 + type);
    const blockSize = typeLayout(type).blockSize;
    for (const rows of ROWS) {
      for (const blocks of BLOCKS) {
        const cols = blocks * blockSize;
        for (const nTok of TOKENS) {
          check(kernels, type, quantizeRow(type, randomNormals(rand, rows * cols, 0.1)), rows, cols, nTok, rand, "quantised");
          check(kernels, type, rawBlocks(type, rows, cols, rand), rows, cols, nTok, rand, "raw");
        }
      }
    }
  });
}

test("wasm kernels write only y rows [r0, r1) of their output", () => {
  // Called directly (not through WasmKernels, which copies only the range back) on a memory laid
  // out here, with every other output slot holding a sentinel.
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536 });
  const module = new WebAssembly.Module(readFileSync(new URL("./kernels.wasm", import.meta.url)));
  const instance = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error("abort"); } } });
  const rand = seededRandom(7);
  for (const [type, nTok] of TYPES.flatMap((t) => [[t, 1], [t, 5]] as const)) {
    const fn = instance.exports[`matmul_${typeName(type).toLowerCase()}`] as (...args: number[]) => void;
    const rows = 9, cols = 2 * typeLayout(type).blockSize;
    const w = rawBlocks(type, rows, cols, rand);
    const act = prepareActivations(type, randomNormals(rand, nTok * cols), nTok, cols);
    const extra = act.format === "q8_1" ? act.s : act.sums;
    const W = 1 << 20, AQ = W + 65536, AD = AQ + 65536, AX = AD + 65536, Y = AX + 65536;
    const buf = memory.buffer;
    new Uint8Array(buf, W, w.length).set(w);
    new Int8Array(buf, AQ, act.qs.length).set(act.qs);
    new Float32Array(buf, AD, act.d.length).set(act.d);
    new Uint8Array(buf, AX, extra.byteLength).set(new Uint8Array(extra.buffer, extra.byteOffset, extra.byteLength));
    const y = new Float32Array(buf, Y, nTok * rows + 16).fill(-777);
    fn(W, rows, cols, AQ, AD, AX, nTok, Y, 2, 6);
    const want = new Float32Array(nTok * rows);
    matmulPrepared(type, w, rows, cols, act, want, 2, 6);
    for (let i = 0; i < y.length; i++) {
      const r = i % rows;
      if (i < nTok * rows && r >= 2 && r < 6) assert.ok(Math.abs(y[i] - want[i]) <= 1e-4 * Math.abs(want[i]) + 1e-30, `${typeName(type)} nTok=${nTok} y[${i}]`);
      else assert.equal(y[i], -777, `${typeName(type)} nTok=${nTok}: y[${i}] outside rows [2, 6) was written`);
    }
  }
});
