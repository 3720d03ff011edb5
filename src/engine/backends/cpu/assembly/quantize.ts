// Activations quantised to 8 bits for the integer dot products, reproducing gguf/quants/q8-activations.ts
// (ggml's x86 conversions) bit for bit:
//  - Q8_0, per 32 values: amax = max |x| (NaNs skipped, as the TypeScript's `a > amax` skips them),
//    d = f16(f32(amax / 127)), q = nearest-even(f32(x * f32(127 / amax))) saturated to int8, and the
//    block's quant sum (0 when a product is NaN: the TypeScript's sum turns NaN and stores as 0).
//  - Q8_K, per 256 values: max = the first value of largest magnitude, iscale = f32(-127 / max),
//    q = nearest-even(f32(iscale * x)) (at most 127 in magnitude, or infinite where iscale overflows:
//    127 for +inf, 0 for -inf, as the reference clamps only from above and an Int8Array stores -inf
//    as 0), d = f32(1 / iscale), and the sums of each 16 quants; an all-zero block is all zeros.
// f32 arithmetic here equals the TypeScript's Math.fround of f64 arithmetic: each is one operation on
// f32 values, which f64 computes exactly enough to round the same way.
import { hsum, roundF16x4 } from "./common";

/** The largest |x| over n f32 values at p (n a multiple of 4), NaNs skipped; 0 for none. */
// @ts-ignore: decorator
@inline function absMax(p: usize, n: usize): f32 {
  let m = f32x4.splat(0);
  // pmax(m, a) = m < a ? a : m: a NaN never replaces m, as in the TypeScript's running maximum.
  for (let i: usize = 0; i < n; i += 4) m = f32x4.pmax(m, f32x4.abs(v128.load(p + (i << 2))));
  m = f32x4.pmax(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
  m = f32x4.pmax(m, i32x4.shuffle(m, m, 1, 0, 3, 2));
  return f32x4.extract_lane(m, 0);
}

/** nearest-even(p) saturated to i32; NaN gives 0, as an Int8Array stores NaN; with `negInfZero`, so does -inf. */
// @ts-ignore: decorator
@inline function quant4(p: v128, negInfZero: bool): v128 {
  const q = i32x4.trunc_sat_f32x4_s(f32x4.nearest(p));
  // An Int8Array stores -Infinity as 0; the Q8_K reference clamps only from above, so it gets there.
  return negInfZero ? v128.andnot(q, f32x4.eq(p, f32x4.splat(-Infinity))) : q;
}

/** Sixteen quants: nearest-even(x * scale) for the 16 f32 at p, saturated to int8 (see quant4). */
// @ts-ignore: decorator
@inline function quant16(p: usize, scale: v128, negInfZero: bool): v128 {
  const q0 = quant4(f32x4.mul(v128.load(p), scale), negInfZero), q1 = quant4(f32x4.mul(v128.load(p, 16), scale), negInfZero);
  const q2 = quant4(f32x4.mul(v128.load(p, 32), scale), negInfZero), q3 = quant4(f32x4.mul(v128.load(p, 48), scale), negInfZero);
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3));
}

/** Whether any of the 16 products x * scale at p is NaN. */
// @ts-ignore: decorator
@inline function anyNaN16(p: usize, scale: v128): bool {
  const p0 = f32x4.mul(v128.load(p), scale), p1 = f32x4.mul(v128.load(p, 16), scale);
  const p2 = f32x4.mul(v128.load(p, 32), scale), p3 = f32x4.mul(v128.load(p, 48), scale);
  return v128.any_true(v128.or(v128.or(f32x4.ne(p0, p0), f32x4.ne(p1, p1)), v128.or(f32x4.ne(p2, p2), f32x4.ne(p3, p3))));
}

/** The sum of 16 int8 lanes. */
// @ts-ignore: decorator
@inline function sum16(q: v128): i32 {
  return hsum(i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(q)));
}

/** n f32 at x (n a multiple of 32) to Q8_0: int8 quants at qs, f32 (f16-valued) scales at d, i32 quant sums at sums. */
export function quantize_q8_0(x: usize, n: i32, qs: usize, d: usize, sums: usize): void {
  for (let b: usize = 0; b < <usize>n >> 5; b++) {
    const xb = x + (b << 7);
    const amax = absMax(xb, 32);
    const dd: f32 = amax / 127;
    const id: f32 = amax != 0 ? <f32>127 / amax : 0;
    store<f32>(d + (b << 2), f32x4.extract_lane(roundF16x4(f32x4.splat(dd)), 0));
    const scale = f32x4.splat(id);
    const q0 = quant16(xb, scale, false), q1 = quant16(xb + 64, scale, false);
    v128.store(qs + (b << 5), q0);
    v128.store(qs + (b << 5), q1, 16);
    const nan = anyNaN16(xb, scale) || anyNaN16(xb + 64, scale);
    store<i32>(sums + (b << 2), nan ? 0 : sum16(q0) + sum16(q1));
  }
}

/** n f32 at x (n a multiple of 256) to Q8_K: int8 quants at qs, f32 scales at d, 16 i32 sums per block at bsums. */
export function quantize_q8_k(x: usize, n: i32, qs: usize, d: usize, bsums: usize): void {
  for (let b: usize = 0; b < <usize>n >> 8; b++) {
    const xb = x + (b << 10);
    const qb = qs + (b << 8);
    const sb = bsums + (b << 6);
    const amax = absMax(xb, 256);
    if (amax == 0) {
      store<f32>(d + (b << 2), 0);
      for (let g: usize = 0; g < 16; g++) {
        v128.store(qb + (g << 4), i32x4.splat(0));
        store<i32>(sb + (g << 2), 0);
      }
      continue;
    }
    // The first value whose magnitude is amax decides the sign (the TypeScript keeps the first).
    let j: usize = 0;
    while (Mathf.abs(load<f32>(xb + (j << 2))) != amax) j++;
    const iscale: f32 = <f32>-127 / load<f32>(xb + (j << 2));
    const scale = f32x4.splat(iscale);
    for (let g: usize = 0; g < 16; g++) {
      const q = quant16(xb + (g << 6), scale, true);
      v128.store(qb + (g << 4), q);
      store<i32>(sb + (g << 2), sum16(q));
    }
    store<f32>(d + (b << 2), <f32>1 / iscale);
  }
}
