// The wasm flash attention against ops.flashAttention (the TypeScript reproduction of ggml's), on
// random heads, grouped-query layouts, batches, long caches and values at f16's edges.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { roundToF16 } from "../../../gguf/quants/f16.js";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import * as ops from "./ops.js";
import { WasmKernels, relaxedSimdAvailable } from "./wasm-kernels.js";
import { kernelImports } from "./wasm-imports.js";

interface Case {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly start: number;
  readonly nTok: number;
  /** Spread of queries and keys: large spreads make one position dominate, small ones make ties. */
  readonly spread: number;
}

function run(kernels: WasmKernels, kind: "flash" | "f32", c: Case, seed: number): { got: Float32Array; want: Float32Array } {
  const rand = seededRandom(seed);
  const kvDim = c.kvHeads * c.headDim;
  const visible = c.start + c.nTok;
  // The cache holds f16 values, as storeKv writes them.
  const k = randomNormals(rand, visible * kvDim, c.spread).map(roundToF16);
  const v = randomNormals(rand, visible * kvDim, 1).map(roundToF16);
  const q = randomNormals(rand, c.nTok * c.heads * c.headDim, c.spread);
  const want = new Float32Array(q.length);
  if (kind === "flash") ops.flashAttention(q, { k, v }, c.start, c.nTok, c.heads, c.kvHeads, c.headDim, want, new Float32Array(visible));
  else ops.attention(q, { k, v }, c.start, c.nTok, c.heads, c.kvHeads, c.headDim, want, new Float32Array(visible), false);
  const got = new Float32Array(q.length).fill(NaN);
  kernels.attention(kind, q, k, v, c.start, c.nTok, c.heads, c.kvHeads, c.headDim, got);
  return { got, want };
}

const CASES: Case[] = [
  { heads: 4, kvHeads: 4, headDim: 8, start: 0, nTok: 1, spread: 1 },
  { heads: 8, kvHeads: 2, headDim: 64, start: 37, nTok: 1, spread: 1 },
  { heads: 6, kvHeads: 3, headDim: 48, start: 5, nTok: 7, spread: 2 },
  { heads: 32, kvHeads: 4, headDim: 64, start: 300, nTok: 2, spread: 0.5 },
  { heads: 2, kvHeads: 1, headDim: 128, start: 20, nTok: 63, spread: 4 },
  { heads: 4, kvHeads: 4, headDim: 16, start: 12, nTok: 3, spread: 1e-3 },
  { heads: 4, kvHeads: 2, headDim: 32, start: 0, nTok: 64, spread: 1 },
  { heads: 2, kvHeads: 2, headDim: 64, start: 70, nTok: 65, spread: 3 },
];

/** The plain build (flash_attention's f64 updates) and, where the engine runs it, the relaxed one (the fused multiply-add where it fuses). */
const BUILDS: ReadonlyArray<[string, WasmKernels]> = [["plain", WasmKernels.load({ relaxed: false })], ...(relaxedSimdAvailable() ? [["relaxed", WasmKernels.load({ relaxed: true })] as [string, WasmKernels]] : [])];

test("flash attention's two forms of the value update give the fused multiply-add's results", (t) => {
  // Called directly: each build's f64 form always, and relaxed SIMD's multiply-add where it fuses.
  for (const file of ["kernels.wasm", ...(relaxedSimdAvailable() ? ["kernels-relaxed.wasm"] : [])]) {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    const exports = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL(`./${file}`, import.meta.url))), kernelImports(memory)).exports;
    assert.equal((exports["fma_exact_selftest"] as (zero: number) => number)(0), 1, `${file}: flash_attention's f64 form`);
    if (file === "kernels.wasm") assert.equal((exports["madd_selftest"] as (zero: number) => number)(0), 0, "the plain build has no multiply-add to use");
    else t.diagnostic(`relaxed SIMD's multiply-add is fused here: ${(exports["madd_selftest"] as (zero: number) => number)(0) === 1}`);
  }
});

for (const [build, kernels] of BUILDS) for (const kind of ["flash", "f32"] as const) {
  test(`wasm ${kind} attention (${build} build) matches the TypeScript on every output`, () => {
    let exact = 0, total = 0;
    CASES.forEach((c, i) => {
      const { got, want } = run(kernels, kind, c, 100 + i);
      for (let j = 0; j < want.length; j++) {
        total++;
        if (got[j] === want[j]) exact++;
        // The score dot's summation order and the exp polynomial may move a score or a weight by an
        // f32 ulp; that moves an output by far less than this.
        assert.ok(Math.abs(got[j] - want[j]) <= 1e-5 * Math.max(1, Math.abs(want[j])), `${kind} case ${i} output ${j}: wasm ${got[j]} vs TS ${want[j]}`);
      }
    });
    assert.ok(exact / total > 0.99, `only ${exact} of ${total} outputs are bit-identical`);
  });
}

for (const [build, kernels] of BUILDS) test(`values at f16's edges round as the TypeScript does (${build} build)`, () => {
  // One key and value row per position; values span f16 subnormals, normals and overflow.
  const headDim = 8;
  const edge = [1e-7, -3e-6, 6.1e-5, 6.2e-5, 65504, 65519, -65520, 7e4];
  const visible = 4;
  const k = new Float32Array(visible * headDim).fill(0);
  const v = new Float32Array(visible * headDim);
  for (let p = 0; p < visible; p++) for (let d = 0; d < headDim; d++) v[p * headDim + d] = roundToF16(edge[(p + d) % edge.length] * (p % 2 ? 1 : 0.5));
  const q = new Float32Array(headDim).map((_, d) => edge[d] * 1e-3);
  const want = new Float32Array(headDim);
  ops.flashAttention(q, { k, v }, visible - 1, 1, 1, 1, headDim, want, new Float32Array(visible));
  const got = new Float32Array(headDim);
  kernels.attention("flash", q, k, v, visible - 1, 1, 1, 1, headDim, got);
  assert.deepEqual([...got], [...want]);
});

test("attention split across 2 and 3 threads by heads equals one thread bit for bit", async () => {
  // minParallelWork 0: every call is split, however small.
  const pools = [1, 2, 3].map((threads) => WasmKernels.load({ threads, minParallelWork: 0 }));
  try {
    for (const kind of ["flash", "f32"] as const) {
      CASES.forEach((c, i) => {
        const outs = pools.map((kernels) => run(kernels, kind, c, 200 + i).got);
        assert.ok(outs[0].every((x) => !Number.isNaN(x)), `${kind} case ${i}: one thread left outputs unwritten`);
        assert.deepEqual(outs[1], outs[0], `${kind} case ${i}: 2 threads differ from 1`);
        assert.deepEqual(outs[2], outs[0], `${kind} case ${i}: 3 threads differ from 1`);
      });
    }
  } finally {
    await Promise.all(pools.map((k) => k.dispose()));
  }
});
