import assert from "node:assert/strict";
import { test } from "node:test";
import { GgmlType, bytesFor, typeName } from "../types.js";
import { dequantize, dequantizeRow } from "./dequantize.js";
import { f32ToF16Bits } from "./f16.js";
import { kMin, kScale, packKScales } from "./k-scales.js";
import { quantizeRow, quantizeTensor } from "./quantize.js";
import { randomNormals, seededRandom } from "./seeded-random.js";
import { QuantShapeError, UnsupportedQuantTypeError } from "./errors.js";

/** Worst-case error per block, as a fraction of the block's largest magnitude. */
const ERROR_BOUND: ReadonlyArray<[GgmlType, number]> = [
  [GgmlType.F32, 0],
  [GgmlType.F16, 2 ** -11],
  [GgmlType.BF16, 2 ** -8],
  [GgmlType.Q8_0, 1 / 254 + 0.002],
  [GgmlType.Q8_1, 1 / 254 + 0.002],
  [GgmlType.Q8_K, 1 / 254 + 0.002],
  [GgmlType.Q4_0, 1 / 8 + 0.005], // ggml's d = max/-8: +amax clips to 7/8 amax when max is negative
  [GgmlType.Q4_1, 2 / 30 + 0.005], // range up to 2*amax over 15 steps
  [GgmlType.Q5_0, 1 / 16 + 0.005], // likewise 15/16
  [GgmlType.Q5_1, 2 / 62 + 0.005],
  [GgmlType.Q4_K, 0.1],
  [GgmlType.Q5_K, 0.06],
  [GgmlType.Q6_K, 0.04],
];

function blockSizeOf(t: GgmlType): number {
  return t === GgmlType.Q4_K || t === GgmlType.Q5_K || t === GgmlType.Q6_K || t === GgmlType.Q8_K ? 256 : 32;
}

for (const [type, bound] of ERROR_BOUND) {
  test(`${typeName(type)}: quantize -> dequantize error stays within ${bound.toFixed(4)} of the block max`, () => {
    const rand = seededRandom(type + 1);
    for (const scale of [1, 0.01, 300]) {
      const n = 512;
      const x = randomNormals(rand, n, scale);
      x[5] = 0; // exact zeros and a block of constant values are common in real weights
      const q = quantizeRow(type, x);
      assert.equal(q.length, bytesFor(type, n));
      const y = dequantize(type, q, n);
      const bs = blockSizeOf(type);
      let sumSq = 0;
      let errSq = 0;
      for (let b = 0; b < n; b += bs) {
        let amax = 0;
        for (let i = b; i < b + bs; i++) amax = Math.max(amax, Math.abs(x[i]));
        for (let i = b; i < b + bs; i++) {
          const err = Math.abs(y[i] - x[i]);
          assert.ok(err <= bound * amax + 1e-30, `${typeName(type)} scale ${scale} i=${i}: ${x[i]} -> ${y[i]} (amax ${amax})`);
          sumSq += x[i] * x[i];
          errSq += err * err;
        }
      }
      if (type !== GgmlType.F32) assert.ok(errSq > 0, "quantisation changed nothing: suspicious");
      assert.ok(Math.sqrt(errSq / sumSq) <= 2 * bound, "rms error");
    }
  });

  test(`${typeName(type)}: all-zero rows stay zero; unaligned source bytes decode the same`, () => {
    const bs = blockSizeOf(type);
    assert.ok(dequantize(type, quantizeRow(type, new Float32Array(bs)), bs).every((v) => v === 0));
    const x = randomNormals(seededRandom(99), 2 * bs);
    const q = quantizeRow(type, x);
    const shifted = new Uint8Array(q.length + 3);
    shifted.set(q, 3);
    const out = new Float32Array(2 * bs + 5);
    dequantizeRow(type, shifted.subarray(3), 2 * bs, out, 5);
    assert.deepEqual(out.subarray(5), dequantize(type, q, 2 * bs));
  });
}

test("quantizeTensor quantises row by row", () => {
  const x = randomNormals(seededRandom(3), 3 * 64);
  const t = quantizeTensor(GgmlType.Q8_0, x, 64);
  assert.equal(t.length, 3 * 68);
  assert.deepEqual(t.subarray(68, 136), quantizeRow(GgmlType.Q8_0, x.subarray(64, 128)));
  assert.throws(() => quantizeTensor(GgmlType.Q8_0, x, 50), QuantShapeError);
});

test("errors: unsupported type and bad lengths", () => {
  assert.throws(() => quantizeRow(99 as GgmlType, new Float32Array(32)), RangeError);
  assert.throws(() => quantizeRow(GgmlType.Q4_0, new Float32Array(33)), RangeError);
  assert.throws(() => dequantizeRow(GgmlType.Q4_0, new Uint8Array(10), 32, new Float32Array(32)), QuantShapeError);
  assert.ok(new UnsupportedQuantTypeError(GgmlType.Q8_K, "x").message.includes("Q8_K"));
});

function f16Bytes(x: number): [number, number] {
  const h = f32ToF16Bits(x);
  return [h & 0xff, h >> 8];
}

test("Q8_0 block layout: f16 d then 32 int8", () => {
  const block = new Uint8Array(34);
  block.set(f16Bytes(0.5), 0);
  for (let j = 0; j < 32; j++) block[2 + j] = (j - 16) & 0xff;
  const y = dequantize(GgmlType.Q8_0, block, 32);
  for (let j = 0; j < 32; j++) assert.equal(y[j], (j - 16) * 0.5);
  // And the quantiser: amax 127 gives d = 1 and the values back.
  const x = Float32Array.from({ length: 32 }, (_, j) => (j === 0 ? -127 : j - 10));
  const q = quantizeRow(GgmlType.Q8_0, x);
  assert.deepEqual([...q.subarray(0, 2)], f16Bytes(1));
  assert.equal((q[2] << 24) >> 24, -127);
  assert.equal(q[3], 1 - 10 + 256);
});

test("Q4_0 block layout: low nibbles are elements 0-15, high nibbles 16-31, offset 8", () => {
  const block = new Uint8Array(18);
  block.set(f16Bytes(2), 0);
  for (let j = 0; j < 16; j++) block[2 + j] = j | ((15 - j) << 4);
  const y = dequantize(GgmlType.Q4_0, block, 32);
  for (let j = 0; j < 16; j++) {
    assert.equal(y[j], (j - 8) * 2);
    assert.equal(y[j + 16], (15 - j - 8) * 2);
  }
});

test("Q5_0 / Q5_1 fifth bits come from qh: bit j for element j", () => {
  const b0 = new Uint8Array(22);
  b0.set(f16Bytes(1), 0);
  b0[2] = 0b1; // element 0
  b0[4] = 0b1; // bit 16 -> element 16
  const y0 = dequantize(GgmlType.Q5_0, b0, 32);
  assert.equal(y0[0], 0);
  assert.equal(y0[16], 0);
  assert.equal(y0[1], -16);
  const b1 = new Uint8Array(24);
  b1.set(f16Bytes(1), 0);
  b1.set(f16Bytes(-3), 2);
  b1[7] = 0x80; // bit 31 -> element 31
  b1[8 + 15] = 0xf0; // element 31's nibble
  const y1 = dequantize(GgmlType.Q5_1, b1, 32);
  assert.equal(y1[31], 31 - 3);
  assert.equal(y1[0], -3);
});

test("Q4_K 6-bit scale/min packing round-trips every value in every slot", () => {
  const bytes = new Uint8Array(12);
  for (let v = 0; v < 64; v++) {
    for (let slot = 0; slot < 8; slot++) {
      const sc = Array.from({ length: 8 }, (_, j) => (j === slot ? v : (j * 7 + 3) % 64));
      const mn = Array.from({ length: 8 }, (_, j) => (j === slot ? 63 - v : (j * 11 + 5) % 64));
      packKScales(bytes, 0, sc, mn);
      for (let j = 0; j < 8; j++) {
        assert.equal(kScale(bytes, 0, j), sc[j]);
        assert.equal(kMin(bytes, 0, j), mn[j]);
      }
    }
  }
  // Known bytes: sub-blocks 4-7 take low bits from bytes 8-11 and top bits from bytes 0-7.
  const raw = new Uint8Array([0xc1, 0, 0, 0, 0x42, 0, 0, 0, 0x95, 0, 0, 0]);
  assert.equal(kScale(raw, 0, 0), 1);
  assert.equal(kMin(raw, 0, 0), 2);
  assert.equal(kScale(raw, 0, 4), 0x5 | (3 << 4));
  assert.equal(kMin(raw, 0, 4), 0x9 | (1 << 4));
});

test("Q4_K block layout: value = d*sc*q - dmin*m with chunked nibbles", () => {
  const block = new Uint8Array(144);
  block.set(f16Bytes(0.5), 0);
  block.set(f16Bytes(0.25), 2);
  const sc = [1, 2, 3, 4, 5, 6, 7, 63];
  const mn = [0, 1, 2, 3, 4, 5, 6, 40];
  packKScales(block, 4, sc, mn);
  for (let l = 0; l < 128; l++) block[16 + l] = (l % 16) | ((15 - (l % 16)) << 4);
  const y = dequantize(GgmlType.Q4_K, block, 256);
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) {
      const lo = l % 16;
      assert.equal(y[64 * c + l], 0.5 * sc[2 * c] * lo - 0.25 * mn[2 * c]);
      assert.equal(y[64 * c + 32 + l], 0.5 * sc[2 * c + 1] * (15 - lo) - 0.25 * mn[2 * c + 1]);
    }
  }
});

test("Q6_K block layout: ql/qh split, int8 scale per 16 values", () => {
  const block = new Uint8Array(210);
  block.set(f16Bytes(1), 208);
  for (let j = 0; j < 16; j++) block[192 + j] = (j % 2 === 0 ? j + 1 : -(j + 1)) & 0xff;
  // element 0: ql[0] low = 5, qh[0] bits0-1 = 2 -> q = 5 + 32 - 32 = 5
  block[0] = 0x05 | (0x3 << 4); // element 64: low 4 bits 3
  block[128] = 0b10 | (0b01 << 4); // element 64: qh bits 4-5 = 1 -> q = 3 + 16 - 32 = -13
  const y = dequantize(GgmlType.Q6_K, block, 256);
  assert.equal(y[0], 1 * 5);
  assert.equal(y[64], 5 * -13); // scale index 4 is +5
  assert.equal(y[16], -2 * -32); // untouched element: q = -32, scale index 1 is -2
});
