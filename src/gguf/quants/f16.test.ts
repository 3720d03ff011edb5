import assert from "node:assert/strict";
import { test } from "node:test";
import { BF16_TO_F32, f32ToBf16Bits, roundToBf16 } from "./bf16.js";
import { F16_TO_F32, f16BitsToF32, f32ToF16Bits, readF16, roundToF16 } from "./f16.js";
import { seededRandom } from "./seeded-random.js";

test("f16 -> f32 -> f16 is the identity on all 65536 patterns (NaN stays NaN)", () => {
  for (let h = 0; h < 65536; h++) {
    const f = f16BitsToF32(h);
    const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (isNaN16) {
      assert.ok(Number.isNaN(f), `pattern ${h.toString(16)}`);
      const back = f32ToF16Bits(f);
      assert.equal(back & 0x7c00, 0x7c00);
      assert.notEqual(back & 0x3ff, 0);
    } else {
      assert.equal(f32ToF16Bits(f), h, `pattern ${h.toString(16)} = ${f}`);
    }
  }
});

test("f16 table values", () => {
  assert.equal(F16_TO_F32[0x3c00], 1);
  assert.equal(F16_TO_F32[0xc000], -2);
  assert.equal(F16_TO_F32[0x7bff], 65504);
  assert.equal(F16_TO_F32[0x0001], 2 ** -24);
  assert.equal(F16_TO_F32[0x03ff], 1023 * 2 ** -24);
  assert.equal(F16_TO_F32[0x0400], 2 ** -14);
  assert.equal(F16_TO_F32[0x7c00], Infinity);
  assert.equal(F16_TO_F32[0xfc00], -Infinity);
  assert.ok(Object.is(F16_TO_F32[0x8000], -0));
  assert.equal(F16_TO_F32[0x3555], 0.333251953125);
});

test("f32 -> f16 rounding edge cases", () => {
  const cases: Array<[number, number]> = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-1, 0xbc00],
    [1 + 2 ** -11, 0x3c00], // tie, even stays
    [1 + 3 * 2 ** -11, 0x3c02], // tie, odd rounds up
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00], [-1e9, 0xfc00],
    [Infinity, 0x7c00], [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], [2 ** -25, 0x0000], [-(2 ** -25), 0x8000], [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], [5 * 2 ** -25, 0x0002], // subnormal ties to even
    [1023.5 * 2 ** -24, 0x0400], // largest subnormal + half ulp rounds into the normals
    [2 ** -14, 0x0400], [1e-10, 0x0000], [1.401298464324817e-45, 0x0000],
  ];
  for (const [x, h] of cases) assert.equal(f32ToF16Bits(x), h, `f16(${x})`);
  assert.equal(f32ToF16Bits(NaN) & 0x7e00, 0x7e00);
});

/** Independent reference: the nearest f16 by search over the sorted positive values, ties to even. */
function nearestF16(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  let lo = 0;
  let hi = 0x7c00; // +inf
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (F16_TO_F32[mid] <= a) lo = mid;
    else hi = mid;
  }
  // lo <= a < hi (treating 65504 + ulp/2 = 65520 as the midpoint towards infinity)
  const vlo = F16_TO_F32[lo];
  const vhi = hi === 0x7c00 ? 65536 : F16_TO_F32[hi];
  const dl = a - vlo;
  const dh = vhi - a;
  const pick = dl < dh ? lo : dh < dl ? hi : (lo & 1) === 0 ? lo : hi;
  return sign | pick;
}

test("f32 -> f16 agrees with a nearest-value search on random f32 values", () => {
  const rand = seededRandom(7);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < 20000; i++) {
    // Random bit patterns with exponents around the f16 range.
    const exp = 100 + Math.floor(rand() * 45);
    u[0] = ((rand() < 0.5 ? 0x80000000 : 0) | (exp << 23) | Math.floor(rand() * 0x800000)) >>> 0;
    assert.equal(f32ToF16Bits(f[0]), nearestF16(f[0]), `x = ${f[0]}`);
  }
});

test("readF16 reads little-endian at odd offsets", () => {
  const buf = new Uint8Array([0xff, 0x00, 0x3c, 0x00, 0xc0]);
  assert.equal(readF16(buf, 1), 1);
  assert.equal(readF16(buf.subarray(3), 0), -2);
});

test("bf16 round trip on all patterns and rounding", () => {
  for (let h = 0; h < 65536; h++) {
    const f = BF16_TO_F32[h];
    if (Number.isNaN(f)) assert.ok(Number.isNaN(BF16_TO_F32[f32ToBf16Bits(f)]));
    else assert.equal(f32ToBf16Bits(f), h);
  }
  assert.equal(f32ToBf16Bits(1), 0x3f80);
  assert.equal(roundToBf16(1 + 2 ** -8), 1); // tie to even
  assert.equal(roundToBf16(1 + 3 * 2 ** -8), 1 + 2 ** -6); // tie, odd rounds up
  assert.equal(roundToBf16(1 + 2 ** -8 + 2 ** -20), 1 + 2 ** -7);
  assert.equal(f32ToBf16Bits(-Infinity), 0xff80);
  assert.equal(f32ToBf16Bits(3.4028234663852886e38), 0x7f80); // max f32 rounds to inf
  assert.equal(f32ToBf16Bits(1e-40), 0x0001); // subnormal kept (not flushed)
});

test("roundToF16's fast path equals rounding through the f16 bits, across the f32 range", () => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let checked = 0;
  const check = (bits: number) => {
    u[0] = bits;
    const x = f[0];
    const expected = F16_TO_F32[f32ToF16Bits(x)];
    const actual = roundToF16(x);
    if (!(Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected)))) {
      assert.fail(`bits 0x${bits.toString(16)}: ${actual} vs ${expected}`);
    }
    checked++;
  };
  // Every 997th f32 bit pattern, plus the patterns at each exponent boundary and rounding tie.
  for (let b = 0; b < 2 ** 32; b += 997) check(b);
  for (let e = 100; e < 150; e++) {
    for (const m of [0, 1, 0xfff, 0x1000, 0x1001, 0x2fff, 0x3000, 0x7fefff, 0x7ff000, 0x7fffff]) {
      check((e << 23) | m);
      check((0x80000000 | (e << 23) | m) >>> 0);
    }
  }
  assert.ok(checked > 4_000_000);
});
