// Activations quantised in the kernels' memory (WasmKernels.prepare) against prepareActivations (the
// TypeScript, ggml's x86 conversions): the same quants, scales and sums bit for bit on random rows and
// edge values, and the same matmul results, on the plain and the relaxed builds.
import assert from "node:assert/strict";
import { test } from "node:test";
import { quantizeTensor } from "../../../gguf/quants/quantize.js";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import { GgmlType } from "../../../gguf/types.js";
import { prepareActivations } from "./kernels/prepared-activations.js";
import { WasmKernels, relaxedSimdAvailable, type WasmActivations } from "./wasm-kernels.js";

/** Rows with f32 edge values: zeros, NaN, infinities, subnormals, halfway quants and sign ties. */
function edgeRows(cols: number): Float32Array {
  const x = new Float32Array(6 * cols);
  const rand = seededRandom(9);
  for (let i = 0; i < x.length; i++) x[i] = randomNormals(rand, 1, 1)[0];
  x.fill(0, 0, cols); // an all-zero row
  x[cols + 3] = NaN;
  x[2 * cols + 5] = Infinity;
  x[2 * cols + 40] = -Infinity;
  for (let i = 3 * cols; i < 4 * cols; i++) x[i] = (i % 7) * 1e-45; // subnormals
  // Values that land exactly halfway between two quants (amax 127 makes the multiplier 1).
  for (let i = 4 * cols; i < 5 * cols; i++) x[i] = i % 32 === 0 ? 127 : ((i % 9) - 4) + 0.5;
  // Equal magnitudes of both signs: the first one decides Q8_K's sign.
  for (let i = 5 * cols; i < 6 * cols; i++) x[i] = i % 2 === 0 ? -3 : 3;
  return x;
}

function readBack(kernels: WasmKernels, act: WasmActivations, n: number, blocks: number, sumsPerBlock: number) {
  const buf = kernels.heap.memory.buffer;
  return {
    qs: new Int8Array(buf, act.aq, n).slice(),
    d: new Float32Array(buf, act.ad, blocks).slice(),
    sums: new Int32Array(buf, act.ax, blocks * sumsPerBlock).slice(),
  };
}

/**
 * Q8_0 activations in the wide layout (assembly/blocks32.ts q8_widen) against the TypeScript's quants
 * and scales: per group of four tokens and block, the four tokens' quants as i16 and their four
 * scales; a short last group padded with zeros.
 */
function checkWide(kernels: WasmKernels, act: WasmActivations, qs: Int8Array, d: Float32Array, what: string): void {
  const nb = act.cols / 32, groups = Math.ceil(act.nTok / 4);
  const buf = kernels.heap.memory.buffer;
  const a16 = new Int16Array(buf, act.aq, groups * nb * 4 * 32);
  const sc = new Float32Array(buf, act.ad, groups * nb * 4);
  for (let g = 0; g < groups; g++) {
    for (let b = 0; b < nb; b++) {
      for (let t = 0; t < 4; t++) {
        const tok = 4 * g + t, slot = (g * nb + b) * 4 + t;
        assert.equal(sc[slot], tok < act.nTok ? d[tok * nb + b] : 0, `${what}: wide scale of token ${tok}, block ${b}`);
        for (let k = 0; k < 32; k++) {
          assert.equal(a16[slot * 32 + k], tok < act.nTok ? qs[tok * act.cols + 32 * b + k] : 0, `${what}: wide quant ${k} of token ${tok}, block ${b}`);
        }
      }
    }
  }
}

/**
 * Q8_0 activations in the u8 kernel's grouped layout (assembly/blocks32.ts q8_u8_group) against the
 * TypeScript's: per group of four tokens and block, the four tokens' quants, their four scales and their
 * four corrections 128 * sum; a short last group padded with zeros.
 */
function checkGrouped(kernels: WasmKernels, act: WasmActivations, qs: Int8Array, d: Float32Array, sums: Int32Array, what: string): void {
  const nb = act.cols / 32, groups = Math.ceil(act.nTok / 4);
  const buf = kernels.heap.memory.buffer;
  const a8 = new Int8Array(buf, act.aq, groups * nb * 4 * 32);
  const sc = new Float32Array(buf, act.ad, groups * nb * 4);
  const bi = new Int32Array(buf, act.ax, groups * nb * 4);
  for (let g = 0; g < groups; g++) {
    for (let b = 0; b < nb; b++) {
      for (let t = 0; t < 4; t++) {
        const tok = 4 * g + t, slot = (g * nb + b) * 4 + t, real = tok < act.nTok;
        assert.equal(sc[slot], real ? d[tok * nb + b] : 0, `${what}: grouped scale of token ${tok}, block ${b}`);
        assert.equal(bi[slot], real ? 128 * sums[tok * nb + b] : 0, `${what}: grouped correction of token ${tok}, block ${b}`);
        for (let k = 0; k < 32; k++) {
          assert.equal(a8[slot * 32 + k], real ? qs[tok * act.cols + 32 * b + k] : 0, `${what}: grouped quant ${k} of token ${tok}, block ${b}`);
        }
      }
    }
  }
}

test("Q8_0 activations in the u8 kernel's grouped layout equal the TypeScript's quants, scales and sums", () => {
  const kernels = WasmKernels.load({ relaxed: false, u8: true });
  const rand = seededRandom(53);
  for (const [nTok, cols, x] of [[1, 2048, randomNormals(rand, 2048, 1)], [4, 768, randomNormals(rand, 4 * 768, 40)], [6, 256, edgeRows(256)]] as const) {
    const want = prepareActivations(GgmlType.Q8_0, x, nTok, cols, false);
    const act = kernels.prepare(GgmlType.Q8_0, x, nTok, cols)!;
    assert.equal(act.layout, nTok >= 4 ? "q8_0-u8group" : "q8_0");
    if (act.layout === "q8_0-u8group") checkGrouped(kernels, act, want.qs, want.d, want.sums, `${nTok}x${cols}`);
    else assert.deepEqual(readBack(kernels, act, nTok * cols, nTok * cols / 32, 1).sums, want.sums);
  }
});

test("Q8_0 and Q8_K activations built in wasm equal the TypeScript's bit for bit", () => {
  const kernels = WasmKernels.load({ relaxed: false });
  const rand = seededRandom(51);
  for (const [type, block, sumsPerBlock] of [[GgmlType.Q4_0, 32, 1], [GgmlType.Q8_0, 32, 1], [GgmlType.Q4_K, 256, 16]] as const) {
    for (const [nTok, cols, x] of [[1, 2048, randomNormals(rand, 2048, 1)], [3, 768, randomNormals(rand, 3 * 768, 40)], [6, 256, edgeRows(256)]] as const) {
      const want = prepareActivations(type, x, nTok, cols, false);
      const act = kernels.prepare(type, x, nTok, cols)!;
      const n = nTok * cols;
      if (act.layout === "q8_0-wide") {
        checkWide(kernels, act, want.qs, want.d, `${type} ${nTok}x${cols}`);
        continue;
      }
      const got = readBack(kernels, act, n, n / block, sumsPerBlock);
      assert.deepEqual(got.qs, want.qs, `${type} ${nTok}x${cols}: quants`);
      assert.deepEqual(got.d, want.d, `${type} ${nTok}x${cols}: scales`);
      assert.deepEqual(got.sums, want.sums, `${type} ${nTok}x${cols}: sums`);
      if (sumsPerBlock === 16) {
        // Then each block's 8 pair sums as i16, for Q4_K/Q5_K's mins (q8k_pairs).
        const blocks = n / block;
        const pairs = new Int16Array(kernels.heap.memory.buffer, act.ax + blocks * 64, blocks * 8);
        assert.deepEqual([...pairs], Array.from({ length: blocks * 8 }, (_, i) => want.sums[2 * i] + want.sums[2 * i + 1]), `${type} ${nTok}x${cols}: pair sums`);
      }
    }
  }
  assert.equal(kernels.prepare(GgmlType.Q4_1, new Float32Array(32), 1, 32), undefined, "Q8_1 stays in JS");
  assert.throws(() => kernels.prepare(GgmlType.Q4_K, new Float32Array(300), 1, 300), /multiple/);
});

test("matmuls on wasm-built activations equal those on the TypeScript's, and stale ones are refused", () => {
  const configs = [{ relaxed: false, u8: false }, { relaxed: false, u8: true }, ...(relaxedSimdAvailable() ? [{ relaxed: true, u8: "auto" as const }] : [])];
  for (const config of configs) {
    const relaxed = config.relaxed;
    const kernels = WasmKernels.load(config);
    const rand = seededRandom(52);
    for (const type of [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K]) {
      const rows = 37, cols = 512;
      const w = kernels.upload(type, quantizeTensor(type, randomNormals(rand, rows * cols, 0.1), cols), rows, cols);
      for (const nTok of [1, 5]) {
        const x = randomNormals(rand, nTok * cols, 2);
        const want = new Float32Array(nTok * rows), got = new Float32Array(nTok * rows);
        kernels.matmul(type, w, rows, cols, prepareActivations(type, x, nTok, cols, false), want);
        kernels.matmul(type, w, rows, cols, kernels.prepare(type, x, nTok, cols)!, got);
        assert.deepEqual(got, want, `${relaxed ? "relaxed" : "plain"} ${type}, ${nTok} tokens`);
      }
    }
    const x = randomNormals(rand, 512, 1);
    const first = kernels.prepare(GgmlType.Q8_0, x, 1, 512)!;
    kernels.prepare(GgmlType.Q8_0, x, 1, 512);
    const w = kernels.upload(GgmlType.Q8_0, quantizeTensor(GgmlType.Q8_0, randomNormals(rand, 8 * 512, 0.1), 512), 8, 512);
    assert.throws(() => kernels.matmul(GgmlType.Q8_0, w, 8, 512, first, new Float32Array(8)), /overwritten/);
  }
});
