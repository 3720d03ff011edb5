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
import { kernelImports } from "./wasm-imports.js";
import { WasmKernels, relaxedSimdAvailable } from "./wasm-kernels.js";

const TYPES = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];
const ROWS = [1, 3, 8, 13];
const BLOCKS = [1, 2, 5];
const TOKENS = [1, 3, 5, 13, 32];

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

function check(kernels: WasmKernels, type: GgmlType, w: Uint8Array, rows: number, cols: number, nTok: number, rand: () => number, what: string, x?: Float32Array): void {
  const act = prepareActivations(type, x ?? randomNormals(rand, nTok * cols), nTok, cols);
  const want = new Float32Array(nTok * rows);
  matmulPrepared(type, w, rows, cols, act, want);
  const ptr = kernels.upload(type, w, rows, cols);
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

const kernels = WasmKernels.load({ relaxed: false });
/** The relaxed-SIMD build, where this engine runs it (Node 20 after switching its flag on, Node 22+ as shipped). */
const relaxedKernels = relaxedSimdAvailable() ? WasmKernels.load({ relaxed: true }) : undefined;
/**
 * The u8 kernels (Q8_0's, and Q4_K's and Q5_K's vnni forms): on the plain build from widened products
 * (exact anywhere, so their layouts and sums are checked on every machine), and on the relaxed build
 * where the engine's instruction is exact for unsigned bytes past 127 (vpdpbusd: x64 with AVX-VNNI, Node 22+).
 */
const u8Kernels = WasmKernels.load({ relaxed: false, u8: true });
const relaxedU8Kernels = relaxedKernels?.u8 ? relaxedKernels : undefined;
const variants: ReadonlyArray<[string, WasmKernels]> = [
  ["simd", kernels],
  ...(relaxedKernels ? [["relaxed", relaxedKernels] as [string, WasmKernels]] : []),
  ["simd u8", u8Kernels],
  // Where the relaxed build picked the u8 kernel, its split Q8_0 kernel still serves other machines.
  ...(relaxedU8Kernels ? [["relaxed split", WasmKernels.load({ relaxed: true, u8: false })] as [string, WasmKernels]] : []),
];

test("the relaxed-SIMD build is used where the engine runs it, else the plain one; the u8 kernels where their instruction is exact", (t) => {
  assert.equal(kernels.relaxed, false);
  const auto = WasmKernels.load();
  assert.equal(auto.relaxed, relaxedSimdAvailable());
  if (relaxedKernels) assert.equal(relaxedKernels.relaxed, true);
  else assert.throws(() => WasmKernels.load({ relaxed: true }), /relaxed-SIMD/);
  assert.equal(kernels.u8, false, "the plain build keeps the faster kernels unless told");
  assert.equal(u8Kernels.u8, true);
  if (relaxedKernels && !relaxedKernels.u8) assert.throws(() => WasmKernels.load({ relaxed: true, u8: true }), /AVX-VNNI/);
  t.diagnostic(`relaxed SIMD: ${relaxedKernels !== undefined}; its dot product exact for unsigned bytes (u8 kernels): ${relaxedKernels?.u8 === true}`);
});

/**
 * Activations whose every block holds its extremes: the block maximum at both signs (quantised to
 * +127 and -127) next to small values and zeros, so split and sign paths meet their edge values.
 */
function edgeActivations(n: number, rand: () => number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 8;
    x[i] = k === 0 ? 3 : k === 1 ? -3 : k === 2 ? 0 : k === 3 ? -2.99 : (rand() - 0.5) * 6;
  }
  return x;
}

/** Weight bytes at their extremes: every quant byte is -128, 127, 0 or -1 (scales kept finite). */
function extremeBlocks(type: GgmlType, rows: number, cols: number, rand: () => number): Uint8Array {
  const w = rawBlocks(type, rows, cols, rand);
  const { typeSize } = typeLayout(type);
  const scales = new Set(SCALE_FIELDS.get(type) ?? []);
  const picks = [0x80, 0x7f, 0x00, 0xff];
  for (let o = 0; o < w.length; o++) {
    const inBlock = o % typeSize;
    if (![...scales].some((f) => inBlock === f || inBlock === f + 1)) w[o] = picks[Math.floor(rand() * 4)];
  }
  return w;
}

for (const [variant, k] of variants) {
  for (const type of TYPES) {
    test(`wasm ${variant} ${typeName(type)} matmul matches the TypeScript kernel on edge values and odd shapes`, () => {
      const rand = seededRandom(3000 + type);
      const blockSize = typeLayout(type).blockSize;
      for (const [rows, blocks, nTok] of [[1, 1, 1], [7, 3, 5], [17, 2, 4], [5, 9, 9], [33, 1, 2]]) {
        const cols = blocks * blockSize;
        check(k, type, extremeBlocks(type, rows, cols, rand), rows, cols, nTok, rand, "extreme", edgeActivations(nTok * cols, rand));
        check(k, type, rawBlocks(type, rows, cols, rand), rows, cols, nTok, rand, "raw-edge-acts", edgeActivations(nTok * cols, rand));
      }
    });
  }
}

test("Q8_0 activation quants stay within -127..127 (the relaxed Q8_0 kernel's split relies on it)", () => {
  const rand = seededRandom(99);
  const x = edgeActivations(32 * 64, rand);
  for (let i = 0; i < x.length; i += 97) x[i] = -1e30 * (i % 2 ? 1 : -1);
  const act = prepareActivations(GgmlType.Q8_0, x, 1, x.length);
  assert.ok(act.qs.every((q) => q >= -127 && q <= 127));
  assert.ok(act.qs.includes(-127) && act.qs.includes(127));
});

for (const [variant, kernels] of variants) for (const type of TYPES) {
  test(`wasm ${variant} ${typeName(type)} matmul matches the TypeScript kernel`, () => {
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
  const instance = new WebAssembly.Instance(module, kernelImports(memory));
  const rand = seededRandom(7);
  // The u8 kernels (Q8_0's on u8-form weights, Q4_K's and Q5_K's on the usual ones) are checked after the kernel of each type.
  const u8Names = new Map([[GgmlType.Q8_0, "matmul_q8_0_u8"], [GgmlType.Q4_K, "matmul_q4_k_x4"], [GgmlType.Q5_K, "matmul_q5_k_vnni"]]);
  const cases = [...TYPES.map((t) => [t, false] as const), ...[...u8Names.keys()].map((t) => [t, true] as const)].flatMap(([t, u8]) => [[t, u8, 1], [t, u8, 5]] as const);
  for (const [type, u8, nTok] of cases) {
    const fn = instance.exports[u8 ? (u8Names.get(type) ?? "") : `matmul_${typeName(type).toLowerCase()}`] as (...args: number[]) => void;
    const rows = 9, cols = 2 * typeLayout(type).blockSize;
    const w = rawBlocks(type, rows, cols, rand);
    const act = prepareActivations(type, randomNormals(rand, nTok * cols), nTok, cols);
    const extra = act.format === "q8_1" ? act.s : act.sums;
    const W = 1 << 20, AQ = W + 65536, AD = AQ + 65536, AX = AD + 65536, Y = AX + 65536;
    const buf = memory.buffer;
    if (type === GgmlType.Q8_0 || type === GgmlType.Q4_K) {
      // The Q8_0 and Q4_K kernels read their weights repacked, as WasmKernels.upload leaves them.
      const RAW = Y + 3 * 65536;
      new Uint8Array(buf, RAW, w.length).set(w);
      const nb = cols / 256;
      if (type === GgmlType.Q8_0) (instance.exports["q8_0_pack"] as (...args: number[]) => void)(RAW, W, rows, cols, u8 ? 1 : 0);
      else if (!u8) (instance.exports["q4_k_pack"] as (...args: number[]) => void)(RAW, W, rows * nb);
      else {
        // The u8 kernel's four-row groups (two here), then the ninth row as q4_k_pack leaves it.
        (instance.exports["q4_k_pack_x4"] as (...args: number[]) => void)(RAW, W, 2, nb);
        (instance.exports["q4_k_pack"] as (...args: number[]) => void)(RAW + 8 * nb * 144, W + 2 * nb * 608, nb);
      }
    } else {
      new Uint8Array(buf, W, w.length).set(w);
    }
    new Int8Array(buf, AQ, act.qs.length).set(act.qs);
    new Float32Array(buf, AD, act.d.length).set(act.d);
    new Uint8Array(buf, AX, extra.byteLength).set(new Uint8Array(extra.buffer, extra.byteOffset, extra.byteLength));
    // The K kernels find their bsums' pair sums right after them, as WasmKernels puts them (q8k_pairs).
    if (act.format === "q8_K") (instance.exports["q8k_pairs"] as (...args: number[]) => void)(AX, extra.length / 16, AX + extra.byteLength);
    const y = new Float32Array(buf, Y, nTok * rows + 16).fill(-777);
    // Q8_0 from Q8_WIDE_MIN_TOKENS tokens up reads its activations widened, as WasmKernels passes them.
    const wideFrom = (instance.exports["Q8_WIDE_MIN_TOKENS"] as { readonly value: number }).value;
    if (type === GgmlType.Q8_0 && !u8 && nTok >= wideFrom) {
      const A16 = Y + 65536, SC = A16 + 65536;
      (instance.exports["q8_widen"] as (...args: number[]) => void)(AQ, AD, nTok, cols, A16, SC);
      fn(W, rows, cols, A16, SC, AX, nTok, Y, 2, 6);
    } else if (type === GgmlType.Q8_0 && u8 && nTok >= wideFrom) {
      // The u8 kernel from as many tokens reads them grouped (q8_u8_group).
      const A8 = Y + 65536, SC = A8 + 16384, BI = SC + 16384;
      (instance.exports["q8_u8_group"] as (...args: number[]) => void)(AQ, AD, AX, nTok, cols, A8, SC, BI);
      fn(W, rows, cols, A8, SC, BI, nTok, Y, 2, 6);
    } else {
      fn(W, rows, cols, AQ, AD, AX, nTok, Y, 2, 6);
    }
    const want = new Float32Array(nTok * rows);
    matmulPrepared(type, w, rows, cols, act, want, 2, 6);
    for (let i = 0; i < y.length; i++) {
      const r = i % rows;
      if (i < nTok * rows && r >= 2 && r < 6) assert.ok(Math.abs(y[i] - want[i]) <= 1e-4 * Math.abs(want[i]) + 1e-30, `${typeName(type)}${u8 ? " u8" : ""} nTok=${nTok} y[${i}]`);
      else assert.equal(y[i], -777, `${typeName(type)}${u8 ? " u8" : ""} nTok=${nTok}: y[${i}] outside rows [2, 6) was written`);
    }
  }
});

for (const [form, kernels] of [["", WasmKernels.load({ relaxed: false })], [" (u8 form)", u8Kernels]] as const) test(`Q8_0 weights repacked for the kernels${form} read back as the GGUF bytes they came from`, () => {
  const rand = seededRandom(11);
  for (const blocks of [1, 4, 5, 7, 18]) {
    const rows = 6, cols = 32 * blocks;
    const w = rawBlocks(GgmlType.Q8_0, rows, cols, rand);
    // Every kind of f16 scale: subnormal, zero, negative zero, infinity, NaN, the largest finite.
    const special = [0x0001, 0x03ff, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0x7bff, 0x8401];
    special.forEach((bits, i) => {
      const o = (i % (rows * blocks)) * 34;
      w[o] = bits & 0xff;
      w[o + 1] = bits >> 8;
    });
    const ptr = kernels.upload(GgmlType.Q8_0, w, rows, cols);
    assert.equal(kernels.weightBytes(GgmlType.Q8_0, rows, cols), rows * blocks * 36);
    assert.deepEqual(kernels.weightRows(GgmlType.Q8_0, ptr, rows, cols, 0, rows), w, `${blocks} blocks: all rows`);
    assert.deepEqual(kernels.weightRows(GgmlType.Q8_0, ptr, rows, cols, 2, 5), w.subarray(2 * blocks * 34, 5 * blocks * 34), `${blocks} blocks: rows 2-4`);
  }
  assert.throws(() => kernels.upload(GgmlType.Q8_0, new Uint8Array(33), 1, 32), /needs 34 bytes/);
});

for (const [form, kernels] of [["", WasmKernels.load({ relaxed: false })], [" (four-row groups, for the u8 kernel)", u8Kernels]] as const) test(`Q4_K weights repacked for the kernels${form} read back as the GGUF bytes they came from`, () => {
  const rand = seededRandom(12);
  for (const [blocks, rows] of [[1, 5], [3, 9], [8, 5], [2, 3], [2, 8]]) {
    const cols = 256 * blocks;
    // Every byte random: all 96 bits of the packed scales and mins take both values somewhere.
    const w = new Uint8Array(rows * blocks * 144).map(() => Math.floor(rand() * 256));
    // Scales d and dmin of every kind: subnormal, zero, negative zero, infinity, NaN, the largest finite.
    const special = [0x0001, 0x03ff, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0x7bff, 0x8401];
    for (let b = 0; b < rows * blocks; b++) {
      for (const field of [0, 2]) {
        const bits = rand() < 0.5 ? special[(2 * b + field) % special.length] : 0x3c00 ^ Math.floor(rand() * 0x400);
        w[b * 144 + field] = bits & 0xff;
        w[b * 144 + field + 1] = bits >> 8;
      }
    }
    const ptr = kernels.upload(GgmlType.Q4_K, w, rows, cols);
    assert.equal(kernels.weightBytes(GgmlType.Q4_K, rows, cols), rows * blocks * 152);
    assert.deepEqual(kernels.weightRows(GgmlType.Q4_K, ptr, rows, cols, 0, rows), w, `${blocks} blocks: all rows`);
    for (const [r0, r1] of [[1, 4], [2, 3], [rows - 1, rows], [0, 1], [3, rows]].filter(([a, b]) => a < b && b <= rows)) {
      assert.deepEqual(kernels.weightRows(GgmlType.Q4_K, ptr, rows, cols, r0, r1), w.subarray(r0 * blocks * 144, r1 * blocks * 144), `${blocks} blocks, ${rows} rows: rows ${r0}-${r1 - 1}`);
    }
  }
});

test("uploadFrom streams a weight into the same bytes as upload, for every type, repacked ones included", async () => {
  const rand = seededRandom(13);
  for (const [label, k] of [["plain", WasmKernels.load({ relaxed: false })], ["u8", u8Kernels]] as const) {
    for (const type of TYPES) {
      const blockSize = typeLayout(type).blockSize;
      // Rows past the megabyte a piece holds at 8 columns' blocks, so several pieces and a short last one.
      const cols = 8 * blockSize, rows = Math.ceil((3 << 20) / bytesFor(type, cols)) + 3;
      const w = rawBlocks(type, rows, cols, rand);
      const a = k.upload(type, w, rows, cols);
      let reads = 0;
      const b = await k.uploadFrom(type, rows, cols, async (dst, offset) => {
        reads++;
        dst.set(w.subarray(offset, offset + dst.length));
      });
      const bytes = k.weightBytes(type, rows, cols);
      assert.ok(reads >= 4, `${label} ${typeName(type)}: read in pieces`);
      assert.deepEqual(k.heap.bytes(b, bytes), k.heap.bytes(a, bytes), `${label} ${typeName(type)}`);
    }
  }
});
