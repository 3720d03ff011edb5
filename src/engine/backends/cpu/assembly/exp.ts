// e^x for x <= 0 in f64, shared by attention's softmax and the SwiGLU activation: wasm has no exp
// instruction, and calling the host's Math.exp per element would cost a boundary crossing each.

// ln 2 split so that k * LN2_HI is exact for the k that occur (|k| < 2^11): LN2_HI has 32 low zero bits.
// @ts-ignore: decorator
@inline const LN2_HI: f64 = 6.93147180369123816490e-01;
// @ts-ignore: decorator
@inline const LN2_LO: f64 = 1.90821492927058770002e-10;
// @ts-ignore: decorator
@inline const INV_LN2: f64 = 1.44269504088896338700e+00;

/**
 * e^x in two f64 lanes, for x <= 0 (softmax arguments): x = k ln2 + r with |r| <= ln2 / 2, e^r by its
 * Taylor series to r^13 (the next term is below 2^-57 of the sum), times 2^k built in the exponent
 * bits. Within an ulp or two of Math.exp, so the f32 a caller rounds it to agrees with the host's
 * but for the rarest halfway cases. Below -120 the answer is 0, as it is for every f32 caller.
 */
// @ts-ignore: decorator
@inline export function expNeg2(x: v128): v128 {
  const tiny = f64x2.lt(x, f64x2.splat(-120));
  const xc = f64x2.max(x, f64x2.splat(-120));
  const k = f64x2.nearest(f64x2.mul(xc, f64x2.splat(INV_LN2)));
  const r = f64x2.sub(f64x2.sub(xc, f64x2.mul(k, f64x2.splat(LN2_HI))), f64x2.mul(k, f64x2.splat(LN2_LO)));
  // Horner from 1/13! down to 1.
  let p = f64x2.splat(1.6059043836821613e-10);
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(2.08767569878681e-9));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(2.505210838544172e-8));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(2.755731922398589e-7));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(2.7557319223985893e-6));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(2.48015873015873e-5));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.984126984126984e-4));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.388888888888889e-3));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(8.333333333333333e-3));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(4.1666666666666664e-2));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(0.16666666666666666));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(0.5));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0));
  // 2^k: k in [-174, 0] here, a normal f64.
  const bits = i64x2.shl(i64x2.add(i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(k)), i64x2.splat(1023)), 52);
  return v128.andnot(f64x2.mul(p, bits), tiny);
}

/** expNeg2 of one value. */
// @ts-ignore: decorator
@inline export function expNeg(x: f64): f64 {
  return f64x2.extract_lane(expNeg2(f64x2.splat(x)), 0);
}
