import { test } from "node:test";
import assert from "node:assert/strict";
import { add, attention, flashAttention, fmaF32, rmsnorm, rope, siluMul, storeKv } from "./ops.js";

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test("rmsnorm scales each row to unit RMS, times the weight", () => {
  const x = new Float32Array([1, 2, 3, 4, -1, -1, -1, -1]);
  const out = new Float32Array(8);
  rmsnorm(x, new Float32Array([1, 1, 2, 0.5]), 2, 4, 0, out);
  const rms = Math.sqrt((1 + 4 + 9 + 16) / 4);
  [1 / rms, 2 / rms, (3 / rms) * 2, (4 / rms) * 0.5].forEach((v, i) => close(out[i], v));
  [-1, -1, -2, -0.5].forEach((v, i) => close(out[4 + i], v));
});

test("rope at position 0 is the identity, and rotation keeps pair norms", () => {
  const params = { style: "normal" as const, base: 10000, dims: 4, freqScale: 1 };
  const x = new Float32Array([1, 2, 3, 4]);
  rope(x, 1, 1, 4, [0], params);
  assert.deepEqual([...x], [1, 2, 3, 4]);
  rope(x, 1, 1, 4, [5], params);
  close(x[0] ** 2 + x[1] ** 2, 5);
  close(x[2] ** 2 + x[3] ** 2, 25);
  // First pair rotates by exactly 5 radians (frequency 1).
  close(x[0], Math.cos(5) * 1 - Math.sin(5) * 2);
});

test("NeoX rope pairs dimension i with i + dims/2", () => {
  const params = { style: "neox" as const, base: 10000, dims: 4, freqScale: 1 };
  const x = new Float32Array([1, 0, 0, 0]);
  rope(x, 1, 1, 4, [1], params);
  close(x[0], Math.cos(1));
  close(x[2], Math.sin(1));
  assert.equal(x[1], 0);
  assert.equal(x[3], 0);
});

test("attention over one cached position returns its value; causal rows see only the past", () => {
  const headDim = 2;
  const layer = { k: new Float32Array(4 * headDim), v: new Float32Array(4 * headDim) };
  storeKv(layer, 0, 2, headDim, new Float32Array([1, 0, 0, 1]), new Float32Array([10, 20, 30, 40]));
  const q = new Float32Array([1, 0, 0, 50]);
  const out = new Float32Array(4);
  attention(q, layer, 0, 2, 1, 1, headDim, out, new Float32Array(4), true);
  // Row 0 sees only position 0.
  assert.deepEqual([out[0], out[1]], [10, 20]);
  // Row 1 puts almost all weight on position 1 (score 50/√2 against 0).
  close(out[2], 30, 1e-3);
  close(out[3], 40, 1e-3);
});

test("siluMul and add", () => {
  const g = new Float32Array([0, 1, -2]);
  siluMul(g, new Float32Array([1, 2, 3]), 3);
  close(g[0], 0);
  close(g[1], (1 / (1 + Math.exp(-1))) * 2);
  close(g[2], (-2 / (1 + Math.exp(2))) * 3);
  const d = new Float32Array([1, 2]);
  add(d, new Float32Array([3, 4]), 2);
  assert.deepEqual([...d], [4, 6]);
});

test("flash, f16-softmax and f32 attention agree to f16 precision", () => {
  const heads = 4;
  const kvHeads = 2;
  const headDim = 16;
  const n = 9;
  const kvDim = kvHeads * headDim;
  let seed = 1;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const layer = { k: new Float32Array(n * kvDim), v: new Float32Array(n * kvDim) };
  storeKv(layer, 0, n, kvDim, Float32Array.from({ length: n * kvDim }, rand), Float32Array.from({ length: n * kvDim }, rand));
  const q = Float32Array.from({ length: n * heads * headDim }, () => 3 * rand());
  const results = [0, 1, 2].map((kind) => {
    const out = new Float32Array(q.length);
    if (kind === 0) flashAttention(q, layer, 0, n, heads, kvHeads, headDim, out, new Float32Array(n));
    else attention(q, layer, 0, n, heads, kvHeads, headDim, out, new Float32Array(n), kind === 1);
    return out;
  });
  for (let i = 0; i < q.length; i++) {
    close(results[0][i], results[2][i], 5e-3);
    close(results[1][i], results[2][i], 5e-3);
  }
});

test("fmaF32 rounds x * w + c once, as a fused multiply-add, where the f64 sum lands halfway between two f32", () => {
  // x * w = 2^-24 + 2^-54 exactly (an f16 value times an f32); 1 + that is 1 + 2^-24 in f64, halfway
  // between the f32 values 1 and 1 + 2^-23, while the exact sum is above halfway.
  const x = 1 + 2 ** -10, w = 2 ** -24 * (1 - 2 ** -10 + 2 ** -20);
  assert.equal(x * w, 2 ** -24 + 2 ** -54);
  assert.equal(Math.fround(x * w + 1), 1, "rounding the f64 sum to f32 ties to even");
  assert.equal(fmaF32(x, w, 1), 1 + 2 ** -23);
  assert.equal(fmaF32(-x, w, -1), -(1 + 2 ** -23));
  // The exact sum 1 + 2^-24 - 2^-54 lies below halfway: 1, as the f64 sum rounds too.
  assert.equal(fmaF32(-x, w, 1 + 2 ** -23), 1);
  // Where the f64 sum is exact, the f32 rounding of it.
  for (const [a, b, c] of [[0.5, 0.25, 3], [1.5, -(2 ** -30), 1], [0, 1, -0.1]]) assert.equal(fmaF32(a, b, c), Math.fround(a * b + c));
});
