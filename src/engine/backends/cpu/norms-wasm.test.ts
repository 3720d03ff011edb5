// The wasm rmsnorm and rope against ops.ts (the TypeScript reference): bit-identical on random rows,
// odd widths, edge values, both rope layouts, partial rotation and llama3-style frequency factors.
import assert from "node:assert/strict";
import { test } from "node:test";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import type { RopeParams } from "../../backend.js";
import * as ops from "./ops.js";
import { WasmKernels } from "./wasm-kernels.js";

test("wasm rmsnorm equals the TypeScript bit for bit", () => {
  const kernels = WasmKernels.load();
  const rand = seededRandom(41);
  for (const [rows, width, spread, eps] of [[1, 2048, 1, 1e-5], [3, 576, 30, 1e-6], [5, 64, 0.01, 1e-5], [2, 37, 1, 1e-5], [1, 3, 1e3, 1e-6]] as const) {
    const x = randomNormals(rand, rows * width, spread);
    const weight = randomNormals(rand, width, 1);
    const want = new Float32Array(rows * width), got = new Float32Array(rows * width);
    ops.rmsnorm(x, weight, rows, width, Math.fround(eps), want);
    kernels.rmsnorm(x, weight, rows, width, Math.fround(eps), got);
    assert.deepEqual(got, want, `${rows} x ${width}`);
  }
  // A zero row (the scale is 1/sqrt(eps)), infinities and NaN, f32 extremes and subnormals.
  const edges = Float32Array.from([0, 0, 0, 0, 1e-45, -1e-45, 3.4e38, -3.4e38, Infinity, 1, 2, 3, NaN, 1, 1, 1]);
  const weight = Float32Array.from([1, -2, 0.5, 3]);
  const want = new Float32Array(16), got = new Float32Array(16);
  ops.rmsnorm(edges, weight, 4, 4, Math.fround(1e-5), want);
  kernels.rmsnorm(edges, weight, 4, 4, Math.fround(1e-5), got);
  assert.deepEqual(got, want);
});

test("wasm rope equals the TypeScript bit for bit, both layouts, partial rotation and frequency factors", () => {
  const kernels = WasmKernels.load();
  const rand = seededRandom(42);
  const factors = Float32Array.from({ length: 32 }, (_, i) => 1 + i / 4);
  const cases: { heads: number; headDim: number; rope: RopeParams; positions: number[] }[] = [
    { heads: 32, headDim: 64, rope: { dims: 64, base: 10000, freqScale: 1, style: "normal" }, positions: [511] },
    { heads: 9, headDim: 64, rope: { dims: 64, base: 100000, freqScale: 1, style: "neox" }, positions: [0, 1, 2, 70_000] },
    { heads: 3, headDim: 80, rope: { dims: 32, base: 10000, freqScale: 0.25, style: "neox" }, positions: [5, 6, 7] },
    { heads: 2, headDim: 10, rope: { dims: 6, base: 10000, freqScale: 1, style: "neox" }, positions: [3] },
    { heads: 4, headDim: 64, rope: { dims: 64, base: 500000, freqScale: 1, style: "normal", freqFactors: factors }, positions: [100, 4000] },
  ];
  for (const { heads, headDim, rope, positions } of cases) {
    const nTok = positions.length;
    const x = randomNormals(rand, nTok * heads * headDim, 3);
    const want = x.slice(), got = x.slice();
    ops.rope(want, nTok, heads, headDim, positions, rope);
    kernels.rope(got, nTok, heads, headDim, ops.ropeTable(positions, nTok, rope), rope.dims / 2, rope.style === "neox");
    assert.notDeepEqual(want, x);
    assert.deepEqual(got, want, `${heads} heads of ${headDim}, ${rope.style}, dims ${rope.dims}`);
  }
});
