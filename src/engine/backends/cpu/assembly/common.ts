// Helpers shared by the kernels: f16 scale conversion, horizontal reductions, the int8 dot product
// and rounding to f16. Everything is inlined into the kernels; nothing allocates.

// f16 -> f32 never touches an f32 subnormal: on x86 an operation with a subnormal operand takes a
// microcode assist (~100+ cycles), and Q6_K/Q4_K block scales are often f16 subnormals. Normal
// values get their exponent rebiased in integer arithmetic; subnormals (|h| < 0x400) are
// integer * 2^-24, computed from an exact int -> f32 conversion.

/** 2^-24, the f16 subnormal step. */
// @ts-ignore: decorator
@inline const F16_SUB_STEP: f32 = 5.9604644775390625e-8;

/** One f16 (bits at p) as f32, exact for every value including subnormals, inf and NaN. */
// @ts-ignore: decorator
@inline export function f16At(p: usize): f32 {
  const h = <u32>load<u16>(p);
  const x = h & 0x7fff;
  let bits = (x << 13) + 0x38000000;
  if (x >= 0x7c00) bits |= 0x7f800000;
  const f = select<f32>(<f32>x * F16_SUB_STEP, reinterpret<f32>(bits), x < 0x400);
  return reinterpret<f32>(reinterpret<u32>(f) | ((h & 0x8000) << 16));
}

/** The f16 bits of x, which must be an f16 value (as f16At gives): the exact inverse of f16At. */
export function f16Bits(x: f32): u16 {
  const bits = reinterpret<u32>(x);
  const sign = (bits >> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  let h: u32;
  if (abs >= 0x7f800000) h = 0x7c00 | ((abs >> 13) & 0x3ff);
  else if (abs >= 0x38800000) h = (abs - 0x38000000) >> 13;
  else h = <u32>(reinterpret<f32>(abs) * 16777216.0);
  return <u16>(sign | h);
}

/** Four f16 values at p, p + stride, p + 2*stride, p + 3*stride as an f32x4, exact as f16At. */
// @ts-ignore: decorator
@inline export function f16x4At(p: usize, stride: usize): v128 {
  let v = i32x4.splat(0);
  v = v128.load16_lane(p, v, 0);
  v = v128.load16_lane(p + stride, v, 2);
  v = v128.load16_lane(p + 2 * stride, v, 4);
  v = v128.load16_lane(p + 3 * stride, v, 6);
  return f16x4Bits(v);
}

/** Four f16 bit patterns (the low halves of i32 lanes, upper halves zero) as an f32x4, exact as f16At. */
// @ts-ignore: decorator
@inline export function f16x4Bits(v: v128): v128 {
  const x = v128.and(v, i32x4.splat(0x7fff));
  let normal = i32x4.add(i32x4.shl(x, 13), i32x4.splat(0x38000000));
  normal = v128.or(normal, v128.and(i32x4.gt_s(x, i32x4.splat(0x7bff)), i32x4.splat(0x7f800000)));
  const sub = f32x4.mul(f32x4.convert_i32x4_s(x), f32x4.splat(F16_SUB_STEP));
  const f = v128.bitselect(sub, normal, i32x4.lt_s(x, i32x4.splat(0x400)));
  return v128.or(f, i32x4.shl(v128.and(v, i32x4.splat(0x8000)), 16));
}

/**
 * Written, never read by the kernels: see settle(). Exported through settled_lane so the optimiser
 * keeps the writes.
 */
let settledSink: v128 = i32x4.splat(0);

/**
 * v, after making V8 compute it before the next memory access. A global write sits on the same
 * effect chain as loads and stores, so the work feeding it cannot sink below later loads. Without
 * this, TurboFan issues every load of an unrolled block (all rows, all blocks) first and computes
 * the arithmetic after, which holds more vectors than x64's 16 registers and spills them to the
 * stack; with it, each partial dot product is finished while its inputs are still in registers.
 * Costs one store per call.
 */
// @ts-ignore: decorator
@inline export function settle(v: v128): v128 {
  settledSink = v;
  return v;
}

/** Lane 0 of the last settled value: keeps settle()'s writes alive through the optimiser. */
export function settled_lane(): i32 {
  return i32x4.extract_lane(settledSink, 0);
}

/** The sum of the four i32 lanes of p. */
// @ts-ignore: decorator
@inline export function hsum(p: v128): i32 {
  const s = i32x4.add(p, i32x4.shuffle(p, p, 2, 3, 0, 1));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1);
}

/** [sum(p0), sum(p1), sum(p2), sum(p3)] of four i32x4 partial sums. */
// @ts-ignore: decorator
@inline export function reduce4(p0: v128, p1: v128, p2: v128, p3: v128): v128 {
  const t0 = i32x4.add(i32x4.shuffle(p0, p1, 0, 4, 1, 5), i32x4.shuffle(p0, p1, 2, 6, 3, 7));
  const t1 = i32x4.add(i32x4.shuffle(p2, p3, 0, 4, 1, 5), i32x4.shuffle(p2, p3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(t0, t1, 0, 1, 4, 5), i32x4.shuffle(t0, t1, 2, 3, 6, 7));
}

/** sum over lanes of f64(s[i]) * f64(sc[i]) for i32x4 s and f32x4 sc, as an f64x2 (two partial sums). */
// @ts-ignore: decorator
@inline export function scaleSums(s: v128, sc: v128): v128 {
  const lo = f64x2.mul(f64x2.convert_low_i32x4_s(s), f64x2.promote_low_f32x4(sc));
  const hi = f64x2.mul(
    f64x2.convert_low_i32x4_s(i32x4.shuffle(s, s, 2, 3, 0, 1)),
    f64x2.promote_low_f32x4(i32x4.shuffle(sc, sc, 2, 3, 0, 1)),
  );
  return f64x2.add(lo, hi);
}

/** The sum of an f64x2's lanes. */
// @ts-ignore: decorator
@inline export function hsum64(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/**
 * i16x8 lanes holding pairwise sums a[2i]*b[2i] + a[2i+1]*b[2i+1] of 16 signed bytes a and 16 bytes
 * b in 0..127. Built with relaxed SIMD (the "relaxed" wasm variant) this is one instruction
 * (pmaddubsw on x86, sdot-like sequences on Arm); its result is exact for b below 128, which every
 * caller guarantees, and wasm-kernels.ts checks the instruction on edge values before trusting it.
 * Without relaxed SIMD, the same sums from widened i16 products. No lane can overflow: at most
 * 2 * 128 * 127 in magnitude.
 */
// @ts-ignore: decorator
@inline export function dotI7(a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.relaxed_dot_i8x16_i7x16_s(a, b);
  const lo = i16x8.mul(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_u(b));
  const hi = i16x8.mul(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_u(b));
  // Pairwise in the same lane order as the relaxed instruction, so both builds agree lane by lane.
  return i16x8.add(i8x16.shuffle(lo, hi, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29), i8x16.shuffle(lo, hi, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31));
}

/**
 * c plus the dot products of 16 unsigned bytes u with 16 signed bytes s, bytes 4i..4i+3 to i32 lane i
 * (the four-row Q4_K kernel gives each lane a row of its own, see q4k-x4.ts).
 * Built with relaxed SIMD this is i32x4.relaxed_dot_i8x16_i7x16_add_s, one vpdpbusd where V8 finds
 * AVX-VNNI (Node 22+ on recent x64). Only there is it exact for u above 127: elsewhere the engine may
 * read u as signed (Arm) or saturate pairs to i16 (x64 without VNNI), so the kernels built on it are
 * only chosen after dot_u8_selftest passes. Without relaxed SIMD, the exact sums from i16 products
 * (at most 255 * 128 in magnitude, so no lane can overflow).
 */
// @ts-ignore: decorator
@inline export function dotU8I8Add(u: v128, s: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_dot_i8x16_i7x16_add_s(s, u, c);
  // Products fit i16 (at most 255 * 128); pairs of them, then pairs of pairs, in byte order.
  const lo = i32x4.extadd_pairwise_i16x8_s(i16x8.mul(i16x8.extend_low_i8x16_u(u), i16x8.extend_low_i8x16_s(s)));
  const hi = i32x4.extadd_pairwise_i16x8_s(i16x8.mul(i16x8.extend_high_i8x16_u(u), i16x8.extend_high_i8x16_s(s)));
  return i32x4.add(c, i32x4.add(i32x4.shuffle(lo, hi, 0, 2, 4, 6), i32x4.shuffle(lo, hi, 1, 3, 5, 7)));
}

/**
 * Whether dotU8I8Add is exact on this engine for unsigned bytes up to 255 (see there): 1 or 0. Only
 * the sum of the four lanes is defined, so each case compares totals: mixed edge values, then all
 * 255 x 127 (pairs that would saturate i16) and all 255 x -128 (which a signed reading of u changes).
 */
export function dot_u8_selftest(zero: i32): i32 {
  const z = i8x16.splat(<i8>zero);
  const c = i32x4.add(i32x4.splat(zero), i32x4(1, -2, 3, -4));
  const u = i8x16.add(z, i8x16(<i8>255, <i8>255, <i8>255, <i8>255, <i8>128, <i8>200, 1, 0, <i8>255, <i8>128, 127, <i8>254, 0, 0, 0, 0));
  const s = i8x16.add(z, i8x16(127, 127, 127, 127, -128, -128, 127, -1, -128, -128, -128, -128, 5, 5, 5, 5));
  const max = i8x16.add(z, i8x16.splat(<i8>255));
  const mixed = hsum(dotU8I8Add(u, s, c)) == -10111;
  const high = hsum(dotU8I8Add(max, i8x16.add(z, i8x16.splat(127)), c)) == 16 * 255 * 127 - 2;
  const low = hsum(dotU8I8Add(max, i8x16.add(z, i8x16.splat(-128)), c)) == -16 * 255 * 128 - 2;
  return mixed && high && low ? 1 : 0;
}

/** Checks dotI7 on edge values (-128, 127, 0 and mixed signs); the JS side refuses a build where it fails. */
export function dot_i7_selftest(zero: i32): i32 {
  // `zero` (always 0) keeps the optimiser from folding the instruction at build time.
  const z = i8x16.splat(<i8>zero);
  const a = i8x16.add(z, i8x16(-128, -128, 127, 127, -128, 127, 0, -1, 1, -1, 100, -100, -128, -128, 127, -127));
  const b = i8x16.add(z, i8x16(127, 127, 127, 127, 127, 127, 127, 127, 0, 1, 127, 127, 1, 0, 127, 127));
  const got = dotI7(a, b);
  const want = i16x8(-32512, 32258, -127, -127, -1, 0, -128, 0);
  return i8x16.all_true(i16x8.eq(got, want)) ? 1 : 0;
}

/** f32 lanes rounded to the nearest f16 value (ties to even), as f32: exact for every input. */
// @ts-ignore: decorator
@inline export function roundF16x4(x: v128): v128 {
  // f16 normals (2^-14 <= |x| < 65520): round the f32 mantissa to 10 bits in place. Almost every
  // value is one, so the other cases are only worked out when some lane needs them.
  const fast = v128.and(i32x4.add(i32x4.add(x, i32x4.splat(0xfff)), v128.and(i32x4.shr_u(x, 13), i32x4.splat(1))), i32x4.splat(0xffffe000));
  const abs = v128.and(x, i32x4.splat(0x7fffffff));
  // Normal means 0x38800000 <= abs < 0x477ff000. Adding 0x80000000 - 0x38800000 (wrapping) moves that
  // range to the lowest signed values, so one signed compare marks the lanes outside it: x64 has no
  // unsigned compare, which V8 builds from four instructions, and any_true costs less than all_true.
  const outside = i32x4.gt_s(i32x4.add(abs, i32x4.splat(0x47800000)), i32x4.splat(<i32>0x8effefff));
  if (!v128.any_true(outside)) return fast;
  return roundF16Rare(x, abs, fast);
}

/** roundF16x4 when some lane is not an f16 normal. */
function roundF16Rare(x: v128, abs: v128, fast: v128): v128 {
  // Below f16's smallest normal (2^-14): multiples of 2^-24, rounded to even by f32 nearest.
  const sub = v128.or(f32x4.mul(f32x4.nearest(f32x4.mul(abs, f32x4.splat(16777216.0))), f32x4.splat(5.9604644775390625e-8)), v128.and(x, i32x4.splat(0x80000000)));
  // From 65520 up, f16 rounds to infinity; infinities and NaNs stay as they are.
  const big = v128.bitselect(x, v128.or(v128.and(x, i32x4.splat(0x80000000)), i32x4.splat(0x7f800000)), i32x4.ge_u(abs, i32x4.splat(0x7f800000)));
  const normalOrBig = v128.bitselect(fast, big, i32x4.lt_u(abs, i32x4.splat(0x477ff000)));
  return v128.bitselect(sub, normalOrBig, i32x4.lt_u(abs, i32x4.splat(0x38800000)));
}
