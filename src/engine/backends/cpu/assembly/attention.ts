// Causal flash attention for decode-sized batches (fewer than 64 query rows), reproducing ops.ts's
// flashAttention, which follows ggml's CPU flash_attn_ext: query rounded to f16, one pass over the
// cache with a running maximum, the weighted value sum kept in f16 (rounded after every update and
// rescaled when the maximum grows), divided by the weight sum at the end. Every step rounds exactly
// as the TypeScript does (f64 arithmetic, then f32, then f16), except the query-key dot product,
// which sums in two f64 lanes instead of one chain: both are far more exact than the f32 score they
// are rounded to.

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

/** f32(a * w) for four f32 lanes a and an f64x2 splat w, the product in f64. */
// @ts-ignore: decorator
@inline function mulF32(a: v128, w: v128): v128 {
  const lo = f64x2.mul(f64x2.promote_low_f32x4(a), w);
  const hi = f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(a, a, 2, 3, 0, 1)), w);
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** f32(a + w * x) for four f32 lanes x and a and an f64x2 splat w, the arithmetic in f64 as the TypeScript does it. */
// @ts-ignore: decorator
@inline function madF32(x: v128, a: v128, w: v128): v128 {
  const lo = f64x2.add(f64x2.promote_low_f32x4(a), f64x2.mul(w, f64x2.promote_low_f32x4(x)));
  const hi = f64x2.add(f64x2.promote_low_f32x4(i32x4.shuffle(a, a, 2, 3, 0, 1)), f64x2.mul(w, f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1))));
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
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
      const inv = f64x2.splat(<f64>(<f32>(1.0 / sum)));
      const vh = v + kvOff;
      const oh = out + qBase;
      let d: usize = 0;
      for (; d + 16 <= hd; d += 16) {
        let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
        let vp = vh + (d << 2);
        for (let p = 0; p < visible; p++) {
          const ms = load<f32>(rescales + (<usize>p << 2));
          if (ms != 1) {
            const m = f64x2.splat(<f64>ms);
            a0 = roundF16x4(mulF32(a0, m));
            a1 = roundF16x4(mulF32(a1, m));
            a2 = roundF16x4(mulF32(a2, m));
            a3 = roundF16x4(mulF32(a3, m));
          }
          const w = f64x2.splat(<f64>load<f32>(weights + (<usize>p << 2)));
          a0 = roundF16x4(madF32(v128.load(vp), a0, w));
          a1 = roundF16x4(madF32(v128.load(vp, 16), a1, w));
          a2 = roundF16x4(madF32(v128.load(vp, 32), a2, w));
          a3 = roundF16x4(madF32(v128.load(vp, 48), a3, w));
          vp += rowBytes;
        }
        v128.store(oh + (d << 2), mulF32(a0, inv));
        v128.store(oh + (d << 2), mulF32(a1, inv), 16);
        v128.store(oh + (d << 2), mulF32(a2, inv), 32);
        v128.store(oh + (d << 2), mulF32(a3, inv), 48);
      }
      for (; d < hd; d += 4) {
        let a = f32x4.splat(0);
        let vp = vh + (d << 2);
        for (let p = 0; p < visible; p++) {
          const ms = load<f32>(rescales + (<usize>p << 2));
          if (ms != 1) a = roundF16x4(mulF32(a, f64x2.splat(<f64>ms)));
          a = roundF16x4(madF32(v128.load(vp), a, f64x2.splat(<f64>load<f32>(weights + (<usize>p << 2)))));
          vp += rowBytes;
        }
        v128.store(oh + (d << 2), mulF32(a, inv));
      }
    }
  }
}

/**
 * Causal softmax attention kept in f32, as ops.ts's attention without f16Softmax (ggml's tiled flash
 * attention for 64 or more query rows computes the same): scores f32(f32(dot) * scale), weights
 * f32(e^(s - max)) summed in f64 in position order, each divided by the sum and rounded to f32, and
 * the output accumulated in f32 position by position. Arguments as flash_attention's; head h's
 * scratch (its scores) is at scratch + h * f32_scratch_bytes(...).
 */
export function attention_f32(q: usize, k: usize, v: usize, out: usize, scratch: usize, start: i32, nTok: i32, heads: i32, kvHeads: i32, headDim: i32, h0: i32, h1: i32): void {
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
        const w = f64x2.splat(<f64>(<f32>(<f64>load<f32>(scores + (<usize>p << 2)) * inv)));
        const vr = v + (<usize>(p * kvDim) << 2) + kvOff;
        for (let d: usize = 0; d < hd; d += 4) v128.store(o + (d << 2), madF32(v128.load(vr + (d << 2)), v128.load(o + (d << 2)), w));
      }
    }
  }
}
