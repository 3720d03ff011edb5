// Causal flash attention for decode-sized batches (fewer than 64 query rows), reproducing ops.ts's
// flashAttention, which follows ggml's CPU flash_attn_ext: query rounded to f16, one pass over the
// cache with a running maximum, the weighted value sum kept in f16 (each update one fused multiply-add
// in f32, rounded to f16, and rescaled when the maximum grows), divided by the weight sum at the end.
// Every step rounds exactly as the TypeScript does, except the query-key dot product, which sums in
// two f64 lanes instead of one chain: both are far more exact than the f32 score they are rounded to.
// The value updates come in two forms with the same results: flash_attention_fma, on relaxed SIMD's
// multiply-add where madd_selftest shows the engine fuses it (x64 with FMA3, Arm), and
// flash_attention, which works the fused result out in f64 (fmaExact2) for every other engine. The
// all-f32 attention for longer batches (attention_f32, attention_f32_fma) does the same.

import { roundF16x4 } from "./common";
import { expNeg, expNeg2 } from "./exp";

/**
 * The dot product of n f32 values (n a multiple of 4) at a and b: exact f64 products summed in
 * f64, eight at a time in four lanes.
 */
// @ts-ignore: decorator
@inline function dotF64(a: usize, b: usize, n: usize): f64 {
  let s0 = f64x2.splat(0), s1 = s0;
  let d: usize = 0;
  for (; d + 8 <= n; d += 8) {
    const x0 = v128.load(a + (d << 2)), y0 = v128.load(b + (d << 2));
    const x1 = v128.load(a + (d << 2), 16), y1 = v128.load(b + (d << 2), 16);
    s0 = f64x2.add(s0, f64x2.add(f64x2.mul(f64x2.promote_low_f32x4(x0), f64x2.promote_low_f32x4(y0)), f64x2.mul(f64x2.promote_low_f32x4(x1), f64x2.promote_low_f32x4(y1))));
    s1 = f64x2.add(s1, f64x2.add(
      f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(x0, x0, 2, 3, 0, 1)), f64x2.promote_low_f32x4(i32x4.shuffle(y0, y0, 2, 3, 0, 1))),
      f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(x1, x1, 2, 3, 0, 1)), f64x2.promote_low_f32x4(i32x4.shuffle(y1, y1, 2, 3, 0, 1)))));
  }
  if (d < n) {
    const x = v128.load(a + (d << 2)), y = v128.load(b + (d << 2));
    s0 = f64x2.add(s0, f64x2.mul(f64x2.promote_low_f32x4(x), f64x2.promote_low_f32x4(y)));
    s1 = f64x2.add(s1, f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1)), f64x2.promote_low_f32x4(i32x4.shuffle(y, y, 2, 3, 0, 1))));
  }
  const s = f64x2.add(s0, s1);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/**
 * ops.ts's fmaF32 in two f64 lanes, for x * w exact in f64: the f64 sum rounded to f32, moved to the
 * f32 neighbour on its other side where it lies exactly halfway and its TwoSum error points there.
 * The results are f32 values, held as f64.
 */
// @ts-ignore: decorator
@inline function fmaExact2(x: v128, w: v128, c: v128): v128 {
  const p = f64x2.mul(x, w);
  const s = f64x2.add(p, c);
  const r = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(s));
  const b = f64x2.sub(s, p);
  const err = f64x2.add(f64x2.sub(p, f64x2.sub(s, b)), f64x2.sub(c, b));
  const other = f64x2.sub(f64x2.add(s, s), r);
  const halfway = f64x2.eq(f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(other)), other);
  const zero = f64x2.splat(0);
  const away = v128.or(v128.and(f64x2.gt(err, zero), f64x2.gt(s, r)), v128.and(f64x2.lt(err, zero), f64x2.lt(s, r)));
  return v128.bitselect(other, r, v128.and(halfway, away));
}

/**
 * f32(x * w + a) rounded once (fmaF32) for four f32 lanes x and a, x f16 values, and the weight w in
 * every lane of w32. With `fused`, relaxed SIMD's multiply-add, which the caller has checked fuses;
 * otherwise fmaExact2.
 */
// @ts-ignore: decorator
@inline function fmaF32x4(fused: bool, x: v128, a: v128, w32: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD && fused) return f32x4.relaxed_madd(x, w32, a);
  const w = f64x2.promote_low_f32x4(w32);
  const lo = fmaExact2(f64x2.promote_low_f32x4(x), w, f64x2.promote_low_f32x4(a));
  const hi = fmaExact2(f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1)), w, f64x2.promote_low_f32x4(i32x4.shuffle(a, a, 2, 3, 0, 1)));
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/**
 * x * w + c for the case where rounding once and rounding the product first differ: x * w is
 * 2^-24 + 2^-54 and c is 1, which fused gives 1 + 2^-23 and unfused 1. Lane 1 is the same negated;
 * lane 2 is 1 + 2^-23 - (2^-24 + 2^-54), which both give as 1; lane 3 is exact either way.
 * `zero` (always 0) keeps the optimiser from folding the arithmetic at build time.
 */
// @ts-ignore: decorator
@inline function maddX(zero: i32): v128 {
  return f32x4.add(f32x4.splat(<f32>zero), f32x4(<f32>(1 + 0.0009765625), <f32>-(1 + 0.0009765625), <f32>-(1 + 0.0009765625), 1));
}

// @ts-ignore: decorator
@inline function maddW(zero: i32): v128 {
  return f32x4.add(f32x4.splat(<f32>zero), f32x4.splat(<f32>(5.9604644775390625e-8 * (1 - 0.0009765625 + 9.5367431640625e-7))));
}

// @ts-ignore: decorator
@inline function maddC(zero: i32): v128 {
  return f32x4.add(f32x4.splat(<f32>zero), f32x4(1, -1, <f32>(1 + 1.1920928955078125e-7), 0));
}

/** The fused results of maddX * maddW + maddC, lane by lane. */
// @ts-ignore: decorator
@inline function maddWant(): v128 {
  return f32x4(<f32>(1 + 1.1920928955078125e-7), <f32>-(1 + 1.1920928955078125e-7), 1, <f32>(5.9604644775390625e-8 * (1 - 0.0009765625 + 9.5367431640625e-7)));
}

/** 1 where relaxed SIMD's multiply-add is fused on this engine (flash_attention_fma may run), else 0. */
export function madd_selftest(zero: i32): i32 {
  if (!ASC_FEATURE_RELAXED_SIMD) return 0;
  return i32x4.all_true(f32x4.eq(f32x4.relaxed_madd(maddX(zero), maddW(zero), maddC(zero)), maddWant())) ? 1 : 0;
}

/** 1 where fmaExact2 (flash_attention's update) gives the fused results on maddX * maddW + maddC, as it must everywhere. */
export function fma_exact_selftest(zero: i32): i32 {
  return i32x4.all_true(f32x4.eq(fmaF32x4(false, maddX(zero), maddC(zero), maddW(zero)), maddWant())) ? 1 : 0;
}

/**
 * The dot product of n f32 values (n a multiple of 4) at a and b that are all f16 values (the rounded
 * query and the cache): each product then has at most 22 significant bits and lies within f32's
 * normal range, so an f32 multiply is exact; the products are summed in f64 as dotF64 sums them.
 */
// @ts-ignore: decorator
@inline function dotF16Values(a: usize, b: usize, n: usize): f64 {
  let s0 = f64x2.splat(0), s1 = s0;
  for (let d: usize = 0; d < n; d += 4) {
    const p = f32x4.mul(v128.load(a + (d << 2)), v128.load(b + (d << 2)));
    s0 = f64x2.add(s0, f64x2.promote_low_f32x4(p));
    s1 = f64x2.add(s1, f64x2.promote_low_f32x4(i32x4.shuffle(p, p, 2, 3, 0, 1)));
  }
  const s = f64x2.add(s0, s1);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** Bytes of scratch flash_attention uses per head (see there), a multiple of 16. */
export function flash_scratch_bytes(start: i32, nTok: i32, headDim: i32): i32 {
  return (((headDim + 2 * (start + nTok)) << 2) + 15) & ~15;
}

/** Bytes of scratch attention_f32 uses per head (its scores), a multiple of 16. */
export function f32_scratch_bytes(start: i32, nTok: i32, headDim: i32): i32 {
  return (((start + nTok) << 2) + 15) & ~15;
}

/**
 * Heads [h0, h1) of the attention: q: nTok × heads × headDim f32 queries; k, v: `visibleMax` × kvDim
 * f32 cache rows (values already rounded to f16, as storeKv writes them); out: like q. Row t sees
 * cache rows [0, start + t + 1). Head h works in scratch + h * flash_scratch_bytes(...): headDim f32
 * (the rounded query), then per visible position its value weight and its rescale factor, so threads
 * given disjoint head ranges never share it. headDim must be a multiple of 4.
 *
 * The TypeScript walks the positions once, rescaling and adding into the accumulator at each. Here a
 * first pass over the positions works out the same sequence of (rescale, weight) pairs and the weight
 * sum, which depend on the scores only; the second pass then runs that sequence over the accumulator
 * sixteen values at a time, held in registers. Each accumulator value sees the same operations in the
 * same order, so the result is bit-identical.
 */
export function flash_attention(q: usize, k: usize, v: usize, out: usize, scratch: usize, start: i32, nTok: i32, heads: i32, kvHeads: i32, headDim: i32, h0: i32, h1: i32): void {
  flash(false, q, k, v, out, scratch, start, nTok, heads, kvHeads, headDim, h0, h1);
}

/** flash_attention on relaxed SIMD's fused multiply-add (only where madd_selftest passes; the plain build's is flash_attention). */
export function flash_attention_fma(q: usize, k: usize, v: usize, out: usize, scratch: usize, start: i32, nTok: i32, heads: i32, kvHeads: i32, headDim: i32, h0: i32, h1: i32): void {
  flash(true, q, k, v, out, scratch, start, nTok, heads, kvHeads, headDim, h0, h1);
}

// @ts-ignore: decorator
@inline function flash(fused: bool, q: usize, k: usize, v: usize, out: usize, scratch: usize, start: i32, nTok: i32, heads: i32, kvHeads: i32, headDim: i32, h0: i32, h1: i32): void {
  const group = heads / kvHeads;
  const kvDim = kvHeads * headDim;
  const rowBytes = <usize>kvDim << 2;
  const scale = <f32>(1.0 / Math.sqrt(<f64>headDim));
  const hd = <usize>headDim;
  const per = <usize>flash_scratch_bytes(start, nTok, headDim);
  for (let t = 0; t < nTok; t++) {
    const visible = start + t + 1;
    for (let h = h0; h < h1; h++) {
      const qh = scratch + <usize>h * per;
      // weights[p], then rescales[p] (1 where the accumulator is not rescaled at p).
      const weights = qh + (hd << 2);
      const rescales = weights + (<usize>visible << 2);
      const qBase = <usize>((t * heads + h) * headDim) << 2;
      const kvOff = <usize>((h / group) * headDim) << 2;
      for (let d: usize = 0; d < hd; d += 4) v128.store(qh + (d << 2), roundF16x4(v128.load(q + qBase + (d << 2))));
      // Scores f32(f32(dot) * scale), then the running maximum's sequence of rescales and weights.
      let sum: f64 = 0;
      let max: f32 = -Infinity;
      for (let p = 0; p < visible; p++) {
        const s = <f32>(<f32>dotF16Values(qh, k + <usize>p * rowBytes + kvOff, hd) * scale);
        let ms: f32 = 1;
        let vs: f32 = 1;
        if (s > max) {
          ms = <f32>expNeg(<f64>max - <f64>s);
          max = s;
        } else {
          vs = <f32>expNeg(<f64>s - <f64>max);
        }
        store<f32>(weights + (<usize>p << 2), vs);
        store<f32>(rescales + (<usize>p << 2), ms);
        sum = <f64>(<f32>(sum * <f64>ms + <f64>vs));
      }
      // An f16 accumulator times an f32 (rescale, 1 / sum) is exact in f64, so one f32 multiply
      // rounds it as the TypeScript's f64 product rounded to f32 does.
      const inv = f32x4.splat(<f32>(1.0 / sum));
      const vh = v + kvOff;
      const oh = out + qBase;
      let d: usize = 0;
      for (; d + 16 <= hd; d += 16) {
        let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
        let vp = vh + (d << 2);
        for (let p = 0; p < visible; p++) {
          const ms = load<f32>(rescales + (<usize>p << 2));
          if (ms != 1) {
            const m = f32x4.splat(ms);
            a0 = roundF16x4(f32x4.mul(a0, m));
            a1 = roundF16x4(f32x4.mul(a1, m));
            a2 = roundF16x4(f32x4.mul(a2, m));
            a3 = roundF16x4(f32x4.mul(a3, m));
          }
          const w = f32x4.splat(load<f32>(weights + (<usize>p << 2)));
          a0 = roundF16x4(fmaF32x4(fused, v128.load(vp), a0, w));
          a1 = roundF16x4(fmaF32x4(fused, v128.load(vp, 16), a1, w));
          a2 = roundF16x4(fmaF32x4(fused, v128.load(vp, 32), a2, w));
          a3 = roundF16x4(fmaF32x4(fused, v128.load(vp, 48), a3, w));
          vp += rowBytes;
        }
        v128.store(oh + (d << 2), f32x4.mul(a0, inv));
        v128.store(oh + (d << 2), f32x4.mul(a1, inv), 16);
        v128.store(oh + (d << 2), f32x4.mul(a2, inv), 32);
        v128.store(oh + (d << 2), f32x4.mul(a3, inv), 48);
      }
      for (; d < hd; d += 4) {
        let a = f32x4.splat(0);
        let vp = vh + (d << 2);
        for (let p = 0; p < visible; p++) {
          const ms = load<f32>(rescales + (<usize>p << 2));
          if (ms != 1) a = roundF16x4(f32x4.mul(a, f32x4.splat(ms)));
          a = roundF16x4(fmaF32x4(fused, v128.load(vp), a, f32x4.splat(load<f32>(weights + (<usize>p << 2)))));
          vp += rowBytes;
        }
        v128.store(oh + (d << 2), f32x4.mul(a, inv));
      }
    }
  }
}

/**
 * Causal softmax attention kept in f32, as ops.ts's attention without f16Softmax (ggml's tiled flash
 * attention for 64 or more query rows computes the same): scores f32(f32(dot) * scale), weights
 * f32(e^(s - max)) summed in f64 in position order, each divided by the sum and rounded to f32, and
 * the output accumulated in f32 position by position, one fused multiply-add per value (fmaF32x4,
 * in two forms as flash_attention's). Arguments as flash_attention's; head h's scratch (its scores)
 * is at scratch + h * f32_scratch_bytes(...).
 */
export function attention_f32(q: usize, k: usize, v: usize, out: usize, scratch: usize, start: i32, nTok: i32, heads: i32, kvHeads: i32, headDim: i32, h0: i32, h1: i32): void {
  tiled(false, q, k, v, out, scratch, start, nTok, heads, kvHeads, headDim, h0, h1);
}

/** attention_f32 on relaxed SIMD's fused multiply-add (only where madd_selftest passes; the plain build's is attention_f32). */
export function attention_f32_fma(q: usize, k: usize, v: usize, out: usize, scratch: usize, start: i32, nTok: i32, heads: i32, kvHeads: i32, headDim: i32, h0: i32, h1: i32): void {
  tiled(true, q, k, v, out, scratch, start, nTok, heads, kvHeads, headDim, h0, h1);
}

// @ts-ignore: decorator
@inline function tiled(fused: bool, q: usize, k: usize, v: usize, out: usize, scratch: usize, start: i32, nTok: i32, heads: i32, kvHeads: i32, headDim: i32, h0: i32, h1: i32): void {
  const group = heads / kvHeads;
  const kvDim = kvHeads * headDim;
  const scale = <f32>(1.0 / Math.sqrt(<f64>headDim));
  const hd = <usize>headDim;
  const per = <usize>f32_scratch_bytes(start, nTok, headDim);
  for (let t = 0; t < nTok; t++) {
    const visible = start + t + 1;
    for (let h = h0; h < h1; h++) {
      const scores = scratch + <usize>h * per;
      const qBase = <usize>((t * heads + h) * headDim) << 2;
      const kvOff = <usize>((h / group) * headDim) << 2;
      const qh = q + qBase;
      let max: f32 = -Infinity;
      for (let p = 0; p < visible; p++) {
        const kr = k + (<usize>(p * kvDim) << 2) + kvOff;
        const score = <f32>(<f32>dotF64(qh, kr, hd) * scale);
        store<f32>(scores + (<usize>p << 2), score);
        if (score > max) max = score;
      }
      // Weights two at a time; their sum in position order, as the TypeScript adds them.
      const m = f64x2.splat(<f64>max);
      let sum: f64 = 0;
      let p = 0;
      for (; p + 2 <= visible; p += 2) {
        const sp = scores + (<usize>p << 2);
        const e = f32x4.demote_f64x2_zero(expNeg2(f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(sp)), m)));
        v128.store64_lane(sp, e, 0);
        sum += <f64>f32x4.extract_lane(e, 0);
        sum += <f64>f32x4.extract_lane(e, 1);
      }
      if (p < visible) {
        const sp = scores + (<usize>p << 2);
        const e = <f32>expNeg(<f64>load<f32>(sp) - <f64>max);
        store<f32>(sp, e);
        sum += <f64>e;
      }
      const inv = 1.0 / sum;
      const o = out + qBase;
      for (let d: usize = 0; d < hd; d += 4) v128.store(o + (d << 2), f32x4.splat(0));
      for (let p = 0; p < visible; p++) {
        const w = f32x4.splat(<f32>(<f64>load<f32>(scores + (<usize>p << 2)) * inv));
        const vr = v + (<usize>(p * kvDim) << 2) + kvOff;
        for (let d: usize = 0; d < hd; d += 4) v128.store(o + (d << 2), fmaF32x4(fused, v128.load(vr + (d << 2)), v128.load(o + (d << 2)), w));
      }
    }
  }
}
