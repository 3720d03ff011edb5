import assert from "node:assert/strict";
import { test } from "node:test";
import { roundToF16 } from "./f16.js";
import { quantizeQ8_0Blocks, quantizeQ8_1Blocks, quantizeQ8_KBlocks, roundHalfEven } from "./q8-activations.js";
import { randomNormals, seededRandom } from "./seeded-random.js";

test("roundHalfEven", () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -2.5, 2.4999, -3.5, 126.5].map(roundHalfEven), [0, 2, 2, 0, -2, 2, -4, 126]);
});

test("Q8_0 activations: d = f16(amax/127), id = 127/amax, ties to even (ggml AVX2)", () => {
  const x = new Float32Array(32);
  x[0] = 127;
  x[1] = 2.5;
  x[2] = 3.5;
  x[3] = -2.5;
  x[4] = -126.5;
  const qs = new Int8Array(32);
  const d = new Float32Array(1);
  const sums = new Int32Array(1);
  quantizeQ8_0Blocks(x, 0, 1, qs, 0, d, 0, sums, 0);
  assert.deepEqual([...qs.subarray(0, 6)], [127, 2, 4, -2, -126, 0]);
  assert.equal(d[0], 1);
  assert.equal(sums[0], 127 + 2 + 4 - 2 - 126);
  // d is rounded to f16, the multiplier is not derived from it.
  const x2 = randomNormals(seededRandom(1), 64);
  const q2 = new Int8Array(64);
  const d2 = new Float32Array(2);
  quantizeQ8_0Blocks(x2, 0, 2, q2, 0, d2, 0);
  let amax = 0;
  for (let j = 32; j < 64; j++) amax = Math.max(amax, Math.abs(x2[j]));
  assert.equal(d2[1], roundToF16(Math.fround(amax / 127)));
  const id = Math.fround(127 / amax);
  for (let j = 32; j < 64; j++) assert.equal(q2[j], roundHalfEven(Math.fround(x2[j] * id)));
});

test("Q8_1 activations carry s = f16(d * sum(q))", () => {
  const x = randomNormals(seededRandom(2), 32);
  const qs = new Int8Array(32);
  const d = new Float32Array(1);
  const s = new Float32Array(1);
  quantizeQ8_1Blocks(x, 0, 1, qs, 0, d, 0, s, 0);
  let amax = 0;
  for (const v of x) amax = Math.max(amax, Math.abs(v));
  const sum = qs.reduce((a, b) => a + b, 0);
  assert.equal(s[0], roundToF16(Math.fround(Math.fround(amax / 127) * sum)));
});

test("Q8_K activations: scale from the signed max, clamp at 127, f32 d, 16-sums", () => {
  const x = new Float32Array(256);
  x[0] = -127; // max by magnitude is negative -> iscale = 1
  x[1] = 2.5;
  x[2] = 126.6;
  x[17] = 1.5;
  const qs = new Int8Array(256);
  const d = new Float32Array(1);
  const bs = new Int32Array(16);
  quantizeQ8_KBlocks(x, 0, 1, qs, 0, d, 0, bs, 0);
  assert.deepEqual([...qs.subarray(0, 3)], [-127, 2, 127]);
  assert.equal(qs[17], 2);
  assert.equal(d[0], 1);
  assert.equal(bs[0], -127 + 2 + 127);
  assert.equal(bs[1], 2);
  // A positive max gives a negative iscale and d; values are still consistent.
  const y = randomNormals(seededRandom(5), 256);
  quantizeQ8_KBlocks(y, 0, 1, qs, 0, d, 0, bs, 0);
  let err = 0;
  for (let j = 0; j < 256; j++) err = Math.max(err, Math.abs(qs[j] * d[0] - y[j]));
  assert.ok(err <= Math.abs(d[0]) / 2 + 1e-6);
  // All zeros
  quantizeQ8_KBlocks(new Float32Array(256), 0, 1, qs, 0, d, 0, bs, 0);
  assert.equal(d[0], 0);
  assert.ok(qs.every((q) => q === 0));
});
