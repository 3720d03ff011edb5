// The 32-element block formats: Q8_0, Q4_0, Q5_0 (against Q8_0 activations) and Q4_1, Q5_1
// (against Q8_1). Each block's integer dot is exact: weights and activations are widened to i16
// and multiplied pairwise into i32 lanes (i32x4.dot_i16x8_s). The per-block float combination is
// TS's: f64(f32(d_w * d_a)) * sumi (+ f64(f32(m_w * s_a)) for the _1 formats), accumulated in f64.
// Blocks go four at a time so one transposed reduction and one f32x4 scale product serve four.
//
// The relaxed build (ASC_FEATURE_RELAXED_SIMD) multiplies bytes directly with dotI7, whose second
// operand must lie in 0..127. Q4/Q5 quants do. For Q8_0, q8_split rewrites the activations a as |a|
// (at aq) and sign masks m = a < 0 ? -1 : 0 (nOff bytes after), plus each block's sum of |a| over
// its negative a (in place of the block sums at aextra). Then (w ^ m) * |a| = w * a - (a < 0 ? |a| : 0)
// for every int8 weight, -128 included ((w ^ m) is ~w = -w - 1 where a < 0, never out of range),
// so a block's dot is the sum of dotI7(w ^ m, |a|) plus that block sum.
//
// Q8_0 weights live in the kernels' memory repacked (q8_0_pack), not as GGUF blocks: each row's
// blocks go in groups of four, a group being the four scales as f32 (16 bytes) then the four blocks'
// quants (128 bytes); the last nb % 4 blocks follow one by one as an f32 scale and 32 quants. That is
// 36 bytes per block instead of 34, but no f16 conversion in the loop (converting four f16 scales
// cost about as much as the four blocks' integer dots) and the quants sit 16-byte aligned.
//
// Q8_0 from four tokens up (prefill, batched decode) takes its activations "wide" instead (q8_widen):
// widened to i16 once per matmul and grouped four tokens to a block, so the tile (rowGroup4) reads one
// contiguous stream and multiplies with i32x4.dot_i16x8_s, with no sign split and no per-row widening.
import { dotI7, dotU8I8Add, f16At, f16Bits, f16x4At, hsum, hsum64, reduce4, scaleSums, settle } from "./common";

// Format ids; every call passes a constant, so after inlining the branches on it fold away.
// @ts-ignore: decorator
@inline const Q8_0 = 0;
// @ts-ignore: decorator
@inline const Q4_0 = 1;
// @ts-ignore: decorator
@inline const Q5_0 = 2;
// @ts-ignore: decorator
@inline const Q4_1 = 3;
// @ts-ignore: decorator
@inline const Q5_1 = 4;
/** Q8_0 in the u8 form: repacked as Q8_0 is, with every quant stored plus 128 (see the u8 kernels below). */
// @ts-ignore: decorator
@inline const Q8_0U = 5;

/** Bytes per block in the kernels' memory (Q8_0: repacked, see q8_0_pack). */
// @ts-ignore: decorator
@inline function blockBytes(kind: i32): usize {
  return kind == Q8_0 || kind == Q8_0U ? 36 : kind == Q4_0 ? 18 : kind == Q5_0 ? 22 : kind == Q4_1 ? 20 : 24;
}

/** Where block j (0-3) of the group of four at g starts; for Q8_0, its quants. */
// @ts-ignore: decorator
@inline function blockOf(kind: i32, g: usize, j: i32): usize {
  return kind == Q8_0 || kind == Q8_0U ? g + 16 + 32 * j : g + <usize>j * blockBytes(kind);
}

/** The four weight scales of the group of four blocks at g, as f32x4. */
// @ts-ignore: decorator
@inline function groupScales(kind: i32, g: usize): v128 {
  return kind == Q8_0 || kind == Q8_0U ? v128.load(g) : f16x4At(g, blockBytes(kind));
}

/** A lone block's (past the row's last group) weight scale, and where its quants (Q8_0) or fields start. */
// @ts-ignore: decorator
@inline function loneScale(kind: i32, wb: usize): f32 {
  return kind == Q8_0 || kind == Q8_0U ? load<f32>(wb) : f16At(wb);
}
// @ts-ignore: decorator
@inline function loneBlock(kind: i32, wb: usize): usize {
  return kind == Q8_0 || kind == Q8_0U ? wb + 4 : wb;
}

/** i32x4 whose lanes sum to dot(elements 0-15 as u8 in lo / 16-31 in hi, activations at a). */
// @ts-ignore: decorator
@inline function dotHalves(lo: v128, hi: v128, a: usize): v128 {
  const d0 = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(lo), v128.load8x8_s(a));
  const d1 = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(lo), v128.load8x8_s(a, 8));
  const d2 = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(hi), v128.load8x8_s(a, 16));
  const d3 = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(hi), v128.load8x8_s(a, 24));
  return i32x4.add(i32x4.add(d0, d1), i32x4.add(d2, d3));
}

/** Byte i of the result is 0x10 where bit i of the u32 at p is set (Q5 fifth bits). */
// @ts-ignore: decorator
@inline function fifthBits(p: usize, lo: bool): v128 {
  const b = v128.load32_splat(p);
  const bytes = lo
    ? i8x16.shuffle(b, b, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
    : i8x16.shuffle(b, b, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const m = i64x2.splat(0x8040201008040201);
  return v128.and(i8x16.eq(v128.and(bytes, m), m), i8x16.splat(0x10));
}

/** The block's 32 quants as two byte vectors: Q8_0's signed bytes, or Q4/Q5's unsigned values (0-15 | 16-31). */
// @ts-ignore: decorator
@inline function quantBytes(kind: i32, wb: usize, part: i32): v128 {
  if (kind == Q8_0) return v128.load(wb + 16 * part);
  const qo: usize = kind == Q4_0 ? 2 : kind == Q5_0 ? 6 : kind == Q4_1 ? 4 : 8;
  const v = v128.load(wb + qo);
  let n = part == 0 ? v128.and(v, i8x16.splat(0x0f)) : v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
  if (kind == Q5_0 || kind == Q5_1) n = v128.or(n, fifthBits(wb + qo - 4, part == 0));
  return n;
}

/** Relaxed build: i32x4 partial dot of quant bytes x0, x1 (quantBytes) with one token's activations at a. */
// @ts-ignore: decorator
@inline function tokDotR(kind: i32, x0: v128, x1: v128, a: usize, nOff: usize): v128 {
  if (kind == Q8_0) {
    // Each dotI7 lane is at most 2 * 128 * 127 in magnitude; two of them could overflow i16, so widen each.
    const d0 = dotI7(v128.xor(x0, v128.load(a + nOff)), v128.load(a));
    const d1 = dotI7(v128.xor(x1, v128.load(a + nOff, 16)), v128.load(a, 16));
    return i32x4.add(i32x4.extadd_pairwise_i16x8_s(d0), i32x4.extadd_pairwise_i16x8_s(d1));
  }
  // Four products per i16 lane: at most 4 * 31 * 128.
  return i32x4.extadd_pairwise_i16x8_s(i16x8.add(dotI7(v128.load(a), x0), dotI7(v128.load(a, 16), x1)));
}

/** The i32x4 partial dot of the block at wb (Q8_0: its quants) with the 32 activation quants at a (unsigned quants for Q4/Q5). */
// @ts-ignore: decorator
@inline function blockDot(kind: i32, wb: usize, a: usize, nOff: usize): v128 {
  if (kind == Q8_0U) return u8Dot(v128.load(wb), v128.load(wb, 16), a);
  if (ASC_FEATURE_RELAXED_SIMD) return tokDotR(kind, quantBytes(kind, wb, 0), quantBytes(kind, wb, 1), a, nOff);
  if (kind == Q8_0) {
    const d0 = i32x4.dot_i16x8_s(v128.load8x8_s(wb), v128.load8x8_s(a));
    const d1 = i32x4.dot_i16x8_s(v128.load8x8_s(wb, 8), v128.load8x8_s(a, 8));
    const d2 = i32x4.dot_i16x8_s(v128.load8x8_s(wb, 16), v128.load8x8_s(a, 16));
    const d3 = i32x4.dot_i16x8_s(v128.load8x8_s(wb, 24), v128.load8x8_s(a, 24));
    return i32x4.add(i32x4.add(d0, d1), i32x4.add(d2, d3));
  }
  const qo: usize = kind == Q4_0 ? 2 : kind == Q5_0 ? 6 : kind == Q4_1 ? 4 : 8;
  const v = v128.load(wb + qo);
  const m4 = i8x16.splat(0x0f);
  let lo = v128.and(v, m4);
  let hi = v128.and(i16x8.shr_u(v, 4), m4);
  if (kind == Q5_0 || kind == Q5_1) {
    const hp = wb + qo - 4;
    lo = v128.or(lo, fifthBits(hp, true));
    hi = v128.or(hi, fifthBits(hp, false));
  }
  return dotHalves(lo, hi, a);
}

/**
 * One weight row (nb blocks from wr) against one token: activation quants aq, scales ad, extra ax
 * (i32 block sums for Q4_0/Q5_0, f32 s for Q4_1/Q5_1). Returns the f64 dot.
 */
// @ts-ignore: decorator
@inline function rowDot(kind: i32, wr: usize, nb: i32, aq: usize, ad: usize, ax: usize, nOff: usize): f64 {
  const bb = blockBytes(kind);
  let acc = f64x2.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    acc = f64x2.add(acc, group4(kind, wr, aq, ad, ax, groupScales(kind, wr), nOff));
    wr += 4 * bb;
    aq += 128;
    ad += 16;
    ax += 16;
  }
  return hsum64(acc) + tailDot(kind, wr, nb - b, aq, ad, ax, nOff);
}

/**
 * The group of four blocks at wr against one token (quants aq, scales ad, extras ax), given the
 * blocks' weight scales dw as f32x4: the f64x2 partial sums of their scaled integer dots.
 */
// @ts-ignore: decorator
@inline function group4(kind: i32, wr: usize, aq: usize, ad: usize, ax: usize, dw: v128, nOff: usize): v128 {
  const p0 = settle(blockDot(kind, blockOf(kind, wr, 0), aq, nOff));
  const p1 = settle(blockDot(kind, blockOf(kind, wr, 1), aq + 32, nOff));
  const p2 = settle(blockDot(kind, blockOf(kind, wr, 2), aq + 64, nOff));
  const p3 = settle(blockDot(kind, blockOf(kind, wr, 3), aq + 96, nOff));
  let s = reduce4(p0, p1, p2, p3);
  if (kind == Q4_0) s = i32x4.sub(s, i32x4.shl(v128.load(ax), 3));
  if (kind == Q5_0) s = i32x4.sub(s, i32x4.shl(v128.load(ax), 4));
  if (ASC_FEATURE_RELAXED_SIMD && kind == Q8_0) s = i32x4.add(s, v128.load(ax));
  if (kind == Q8_0U) s = i32x4.sub(s, i32x4.shl(v128.load(ax), 7));
  let acc = scaleSums(s, f32x4.mul(dw, v128.load(ad)));
  if (kind == Q4_1 || kind == Q5_1) {
    const ms = f32x4.mul(f16x4At(wr + 2, blockBytes(kind)), v128.load(ax));
    acc = f64x2.add(acc, f64x2.add(f64x2.promote_low_f32x4(ms), f64x2.promote_low_f32x4(i32x4.shuffle(ms, ms, 2, 3, 0, 1))));
  }
  return acc;
}

/** The last n (< 4) blocks from wr against one token, one at a time. */
// @ts-ignore: decorator
@inline function tailDot(kind: i32, wr: usize, n: i32, aq: usize, ad: usize, ax: usize, nOff: usize): f64 {
  const bb = blockBytes(kind);
  let sum: f64 = 0;
  for (let b = 0; b < n; b++) {
    let s = hsum(blockDot(kind, loneBlock(kind, wr), aq, nOff));
    if (kind == Q4_0) s -= load<i32>(ax) << 3;
    if (kind == Q5_0) s -= load<i32>(ax) << 4;
    if (ASC_FEATURE_RELAXED_SIMD && kind == Q8_0) s += load<i32>(ax);
    if (kind == Q8_0U) s -= load<i32>(ax) << 7;
    sum += <f64>(loneScale(kind, wr) * load<f32>(ad)) * <f64>s;
    if (kind == Q4_1 || kind == Q5_1) sum += <f64>(f16At(wr + 2) * load<f32>(ax));
    wr += bb;
    aq += 32;
    ad += 4;
    ax += 4;
  }
  return sum;
}

/** Four f32 (or i32) values at p, p + stride, p + 2*stride, p + 3*stride as one vector. */
// @ts-ignore: decorator
@inline function gather4(p: usize, stride: usize): v128 {
  let v = v128.load32_zero(p);
  v = v128.load32_lane(p + stride, v, 1);
  v = v128.load32_lane(p + 2 * stride, v, 2);
  return v128.load32_lane(p + 3 * stride, v, 3);
}

/** dot of four i16x8 weight vectors (elements 0-31) with the 32 activation quants at a, as i32x4 partials. */
// @ts-ignore: decorator
@inline function tokDot(w0: v128, w1: v128, w2: v128, w3: v128, a: usize): v128 {
  const d0 = i32x4.dot_i16x8_s(w0, v128.load8x8_s(a));
  const d1 = i32x4.dot_i16x8_s(w1, v128.load8x8_s(a, 8));
  const d2 = i32x4.dot_i16x8_s(w2, v128.load8x8_s(a, 16));
  const d3 = i32x4.dot_i16x8_s(w3, v128.load8x8_s(a, 24));
  return i32x4.add(i32x4.add(d0, d1), i32x4.add(d2, d3));
}

/**
 * One weight row (from wr) against four tokens (quants from aq, `cols` apart; scales and extras
 * `tb` bytes apart): each block is widened to i16 once and dotted with all four, and one
 * transposed reduction gives the four block sums. Writes y, y + yStride, ... (f64 accumulators).
 * Q4/Q5 formats only: Q8_0 batches take the group tile (matmulGroups).
 */
// @ts-ignore: decorator
@inline function rowDot4(kind: i32, wr: usize, nb: i32, aq: usize, cols: usize, ad: usize, ax: usize, tb: usize, y: usize, yStride: usize, nOff: usize): void {
  const bb = blockBytes(kind);
  let acc01 = f64x2.splat(0), acc23 = f64x2.splat(0);
  for (let b = 0; b < nb; b++) {
    let s: v128;
    if (ASC_FEATURE_RELAXED_SIMD) {
      const x0 = quantBytes(kind, wr, 0), x1 = quantBytes(kind, wr, 1);
      s = reduce4(tokDotR(kind, x0, x1, aq, nOff), tokDotR(kind, x0, x1, aq + cols, nOff), tokDotR(kind, x0, x1, aq + 2 * cols, nOff), tokDotR(kind, x0, x1, aq + 3 * cols, nOff));
    } else {
    const qo: usize = kind == Q4_0 ? 2 : kind == Q5_0 ? 6 : kind == Q4_1 ? 4 : 8;
    const v = v128.load(wr + qo);
    const m4 = i8x16.splat(0x0f);
    let lo = v128.and(v, m4);
    let hi = v128.and(i16x8.shr_u(v, 4), m4);
    if (kind == Q5_0 || kind == Q5_1) {
      lo = v128.or(lo, fifthBits(wr + qo - 4, true));
      hi = v128.or(hi, fifthBits(wr + qo - 4, false));
    }
    const w0 = i16x8.extend_low_i8x16_u(lo), w1 = i16x8.extend_high_i8x16_u(lo);
    const w2 = i16x8.extend_low_i8x16_u(hi), w3 = i16x8.extend_high_i8x16_u(hi);
    s = reduce4(tokDot(w0, w1, w2, w3, aq), tokDot(w0, w1, w2, w3, aq + cols), tokDot(w0, w1, w2, w3, aq + 2 * cols), tokDot(w0, w1, w2, w3, aq + 3 * cols));
    }
    if (kind == Q4_0) s = i32x4.sub(s, i32x4.shl(gather4(ax, tb), 3));
    if (kind == Q5_0) s = i32x4.sub(s, i32x4.shl(gather4(ax, tb), 4));
    const sc = f32x4.mul(f32x4.splat(f16At(wr)), gather4(ad, tb));
    acc01 = f64x2.add(acc01, f64x2.mul(f64x2.convert_low_i32x4_s(s), f64x2.promote_low_f32x4(sc)));
    acc23 = f64x2.add(acc23, f64x2.mul(f64x2.convert_low_i32x4_s(i32x4.shuffle(s, s, 2, 3, 0, 1)), f64x2.promote_low_f32x4(i32x4.shuffle(sc, sc, 2, 3, 0, 1))));
    if (kind == Q4_1 || kind == Q5_1) {
      const ms = f32x4.mul(f32x4.splat(f16At(wr + 2)), gather4(ax, tb));
      acc01 = f64x2.add(acc01, f64x2.promote_low_f32x4(ms));
      acc23 = f64x2.add(acc23, f64x2.promote_low_f32x4(i32x4.shuffle(ms, ms, 2, 3, 0, 1)));
    }
    wr += bb;
    aq += 32;
    ad += 4;
    ax += 4;
  }
  store<f32>(y, <f32>f64x2.extract_lane(acc01, 0));
  store<f32>(y + yStride, <f32>f64x2.extract_lane(acc01, 1));
  store<f32>(y + 2 * yStride, <f32>f64x2.extract_lane(acc23, 0));
  store<f32>(y + 3 * yStride, <f32>f64x2.extract_lane(acc23, 1));
}

/**
 * Four weight rows (from w0..w3, far apart) against one token, each exactly as rowDot computes it;
 * writes y + 4 * rowIndex for rows i0..i3 of the output. The rows are consumed block group by block
 * group together: four independent sequential streams keep more cache-line fills in flight than one,
 * so a matvec whose weights come from RAM runs near the machine's bandwidth rather than one stream's.
 */
// @ts-ignore: decorator
@inline function rowDotStreams(kind: i32, w0: usize, w1: usize, w2: usize, w3: usize, nb: i32, aq: usize, ad: usize, ax: usize, nOff: usize, y0: usize, y1: usize, y2: usize, y3: usize): void {
  const bb = blockBytes(kind);
  let acc0 = f64x2.splat(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  let b = 0, a = aq, d = ad, x = ax;
  for (; b + 4 <= nb; b += 4) {
    acc0 = f64x2.add(acc0, group4(kind, w0, a, d, x, groupScales(kind, w0), nOff));
    acc1 = f64x2.add(acc1, group4(kind, w1, a, d, x, groupScales(kind, w1), nOff));
    acc2 = f64x2.add(acc2, group4(kind, w2, a, d, x, groupScales(kind, w2), nOff));
    acc3 = f64x2.add(acc3, group4(kind, w3, a, d, x, groupScales(kind, w3), nOff));
    w0 += 4 * bb;
    w1 += 4 * bb;
    w2 += 4 * bb;
    w3 += 4 * bb;
    a += 128;
    d += 16;
    x += 16;
  }
  store<f32>(y0, <f32>(hsum64(acc0) + tailDot(kind, w0, nb - b, a, d, x, nOff)));
  store<f32>(y1, <f32>(hsum64(acc1) + tailDot(kind, w1, nb - b, a, d, x, nOff)));
  store<f32>(y2, <f32>(hsum64(acc2) + tailDot(kind, w2, nb - b, a, d, x, nOff)));
  store<f32>(y3, <f32>(hsum64(acc3) + tailDot(kind, w3, nb - b, a, d, x, nOff)));
}

/** Tokens from which matmul_q8_0 takes its activations in the wide layout (q8_widen); the JS side reads it. */
export const Q8_WIDE_MIN_TOKENS: i32 = 4;

/** Bytes of a group's activations (four tokens' i16 quants) per 32-column block. */
// @ts-ignore: decorator
@inline const WIDE_GROUP_BLOCK_BYTES: usize = 256;

/**
 * Groups of four tokens whose wide activations fit this many bytes are multiplied against every
 * row before the next groups are: they then stay in the core's L2 cache while the rows stream by.
 */
// @ts-ignore: decorator
@inline const WIDE_CHUNK_BYTES: usize = 768 << 10;

/**
 * Rewrites nTok tokens of Q8_0 activations (int8 quants aq, nTok x cols; f32 scales ad, one per
 * block) in the wide layout matmul_q8_0 reads from Q8_WIDE_MIN_TOKENS tokens up: for each group of four
 * tokens g and block b, the four tokens' 32 quants as i16 (256 bytes at a16 + (g*nb + b)*256) and
 * their four scales (f32x4 at sc + (g*nb + b)*16). A last group short of four tokens is padded with
 * zero quants and zero scales.
 */
export function q8_widen(aq: usize, ad: usize, nTok: i32, cols: i32, a16: usize, sc: usize): void {
  const nb = cols >> 5;
  const groups = (nTok + 3) >> 2;
  for (let g = 0; g < groups; g++) {
    for (let t = 0; t < 4; t++) {
      const tok = 4 * g + t;
      let dst = a16 + (<usize>(g * nb) << 8) + (<usize>t << 6);
      let scd = sc + (<usize>(g * nb) << 4) + (<usize>t << 2);
      if (tok >= nTok) {
        for (let b = 0; b < nb; b++) {
          v128.store(dst, i32x4.splat(0));
          v128.store(dst, i32x4.splat(0), 16);
          v128.store(dst, i32x4.splat(0), 32);
          v128.store(dst, i32x4.splat(0), 48);
          store<f32>(scd, 0);
          dst += WIDE_GROUP_BLOCK_BYTES;
          scd += 16;
        }
        continue;
      }
      let src = aq + <usize>tok * <usize>cols;
      let scs = ad + (<usize>(tok * nb) << 2);
      for (let b = 0; b < nb; b++) {
        v128.store(dst, v128.load8x8_s(src));
        v128.store(dst, v128.load8x8_s(src, 8), 16);
        v128.store(dst, v128.load8x8_s(src, 16), 32);
        v128.store(dst, v128.load8x8_s(src, 24), 48);
        store<f32>(scd, load<f32>(scs));
        src += 32;
        scs += 4;
        dst += WIDE_GROUP_BLOCK_BYTES;
        scd += 16;
      }
    }
  }
}

/** The i32x4 partial dot of a block's four i16x8 weight vectors with one token's 32 wide quants at a. */
// @ts-ignore: decorator
@inline function wideDot(w0: v128, w1: v128, w2: v128, w3: v128, a: usize): v128 {
  const d0 = i32x4.dot_i16x8_s(w0, v128.load(a));
  const d1 = i32x4.dot_i16x8_s(w1, v128.load(a, 16));
  const d2 = i32x4.dot_i16x8_s(w2, v128.load(a, 32));
  const d3 = i32x4.dot_i16x8_s(w3, v128.load(a, 48));
  return settle(i32x4.add(i32x4.add(d0, d1), i32x4.add(d2, d3)));
}

/**
 * The four tokens' integer dots (i32x4, one lane per token) of the block quants at q with the
 * group's wide activations at a: the quants are widened once and dotted with each token in turn.
 */
// @ts-ignore: decorator
@inline function wideSums(q: usize, a: usize): v128 {
  const w0 = v128.load8x8_s(q), w1 = v128.load8x8_s(q, 8), w2 = v128.load8x8_s(q, 16), w3 = v128.load8x8_s(q, 24);
  return reduce4(wideDot(w0, w1, w2, w3, a), wideDot(w0, w1, w2, w3, a + 64), wideDot(w0, w1, w2, w3, a + 128), wideDot(w0, w1, w2, w3, a + 192));
}

/** Tokens 0 and 1 (lo) or 2 and 3 of f64(sum) * f64(scale), from the i32x4 sums s and f32x4 scales sc. */
// @ts-ignore: decorator
@inline function wideTerms(s: v128, sc: v128, lo: bool): v128 {
  if (lo) return f64x2.mul(f64x2.convert_low_i32x4_s(s), f64x2.promote_low_f32x4(sc));
  return f64x2.mul(f64x2.convert_low_i32x4_s(i32x4.shuffle(s, s, 2, 3, 0, 1)), f64x2.promote_low_f32x4(i32x4.shuffle(sc, sc, 2, 3, 0, 1)));
}

/** Bytes of one group's activations per 32-column block: the wide layout's i16 quants, or the grouped layout's int8 (Q8_0U). */
// @ts-ignore: decorator
@inline function groupBlockBytes(kind: i32): usize {
  return kind == Q8_0U ? 128 : WIDE_GROUP_BLOCK_BYTES;
}

/** A block's four tokens' integer sums: the wide layout's, or for Q8_0U the grouped layout's less their corrections at bi. */
// @ts-ignore: decorator
@inline function groupSums(kind: i32, q: usize, a: usize, bi: usize): v128 {
  return kind == Q8_0U ? i32x4.sub(u8Block4(q, a), v128.load(bi)) : wideSums(q, a);
}

/**
 * One Q8_0 weight row (repacked, from wr; kind Q8_0U: in the u8 form) against one group of four tokens:
 * the wide layout (q8_widen: quants from a, scales from sc) or, for Q8_0U, the grouped one
 * (q8_u8_group: quants, scales and the corrections at bi). One transposed reduction per block gives the
 * four tokens' integer sums, and each token's f64 accumulator adds f64(sum) * f64(f32(d_w * d_a)) block
 * after block, as the TypeScript kernel does. Writes the first `valid` of the four outputs at y,
 * y + yStride, ...
 */
// @ts-ignore: decorator
@inline function rowGroup4(kind: i32, wr: usize, nb: i32, a: usize, sc: usize, bi: usize, y: usize, yStride: usize, valid: i32): void {
  let acc01 = f64x2.splat(0), acc23 = f64x2.splat(0);
  let b = 0;
  for (; b + 4 <= nb; b += 4) {
    for (let j = 0; j < 4; j++) {
      const s = groupSums(kind, blockOf(kind, wr, j), a, bi);
      const scl = f32x4.mul(f32x4.splat(load<f32>(wr + 4 * j)), v128.load(sc));
      acc01 = f64x2.add(acc01, wideTerms(s, scl, true));
      acc23 = f64x2.add(acc23, wideTerms(s, scl, false));
      a += groupBlockBytes(kind);
      sc += 16;
      bi += 16;
    }
    wr += 4 * blockBytes(kind);
  }
  for (; b < nb; b++) {
    const s = groupSums(kind, loneBlock(kind, wr), a, bi);
    const scl = f32x4.mul(f32x4.splat(loneScale(kind, wr)), v128.load(sc));
    acc01 = f64x2.add(acc01, wideTerms(s, scl, true));
    acc23 = f64x2.add(acc23, wideTerms(s, scl, false));
    a += groupBlockBytes(kind);
    sc += 16;
    bi += 16;
    wr += blockBytes(kind);
  }
  store<f32>(y, <f32>f64x2.extract_lane(acc01, 0));
  if (valid > 1) store<f32>(y + yStride, <f32>f64x2.extract_lane(acc01, 1));
  if (valid > 2) store<f32>(y + 2 * yStride, <f32>f64x2.extract_lane(acc23, 0));
  if (valid > 3) store<f32>(y + 3 * yStride, <f32>f64x2.extract_lane(acc23, 1));
}

/**
 * Q8_0 from Q8_WIDE_MIN_TOKENS tokens up, activations in groups of four tokens (kind Q8_0: the wide
 * layout at a, sc; Q8_0U: the grouped layout at a, sc, bi). Groups whose activations fit
 * WIDE_CHUNK_BYTES go through all rows before the next groups, so long prompts stay in L2.
 */
// @ts-ignore: decorator
@inline function matmulGroups(kind: i32, w: usize, rows: i32, cols: i32, a: usize, sc: usize, bi: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  const nb = cols >> 5;
  const rowBytes = <usize>nb * blockBytes(kind);
  const groups = (nTok + 3) >> 2;
  const groupBytes = <usize>nb * groupBlockBytes(kind);
  const chunk = <i32>max<usize>(1, WIDE_CHUNK_BYTES / groupBytes);
  const yStride = <usize>rows << 2;
  for (let g0 = 0; g0 < groups; g0 += chunk) {
    const g1 = min(groups, g0 + chunk);
    for (let r = r0; r < r1; r++) {
      const wr = w + <usize>r * rowBytes;
      for (let g = g0; g < g1; g++) {
        const o = <usize>(g * nb) << 4;
        rowGroup4(kind, wr, nb, a + <usize>g * groupBytes, sc + o, bi + o, y + (<usize>(4 * g * rows + r) << 2), yStride, min(4, nTok - 4 * g));
      }
    }
  }
}

// The u8 kernels (Q8_0U): where one instruction multiplies unsigned by signed bytes exactly into i32
// lanes (dotU8I8Add: vpdpbusd on x64 with AVX-VNNI, which V8 emits for relaxed SIMD's
// i32x4.relaxed_dot_i8x16_i7x16_add_s), the weights are stored as u = w + 128 (w ^ 0x80, exact for
// every int8 w) and multiplied with the plain signed activation quants a: sum(u * a) = sum(w * a) +
// 128 * sum(a), and sum(a) is the activation block sum quantize_q8_0 already writes. Two instructions
// per 32-value block and token, no sign split, no widening; the integer sums, hence the results, are
// those of the other kernels. The JS side chooses them only where dot_u8_selftest passes.

/** The i32x4 partial dot (lanes sum to sum(u * a)) of a u8-form block's two quant vectors with the 32 quants at a. */
// @ts-ignore: decorator
@inline function u8Dot(q0: v128, q1: v128, a: usize): v128 {
  return settle(dotU8I8Add(q1, v128.load(a, 16), dotU8I8Add(q0, v128.load(a), i32x4.splat(0))));
}

/** Four tokens' sums of u * a with the u8-form block at q (their quants side by side from a, as q8_u8_group lays them), one lane per token. */
// @ts-ignore: decorator
@inline function u8Block4(q: usize, a: usize): v128 {
  const q0 = v128.load(q), q1 = v128.load(q, 16);
  return reduce4(u8Dot(q0, q1, a), u8Dot(q0, q1, a + 32), u8Dot(q0, q1, a + 64), u8Dot(q0, q1, a + 96));
}

/**
 * Rewrites nTok tokens of Q8_0 activations (quants aq, f32 scales ad, i32 block sums ax) in the grouped
 * layout the u8 kernel reads from Q8_WIDE_MIN_TOKENS tokens up: for each group of four tokens g and block
 * b, the four tokens' 32 quants (128 bytes at a8 + (g*nb + b)*128), their four scales (f32x4 at
 * sc + (g*nb + b)*16) and their four corrections 128 * sum(a) (i32x4 at bi, same offsets). A last group
 * short of four tokens is padded with zeros. So the tile reads one contiguous stream per group and no
 * scattered scale or sum.
 */
export function q8_u8_group(aq: usize, ad: usize, ax: usize, nTok: i32, cols: i32, a8: usize, sc: usize, bi: usize): void {
  const nb = cols >> 5;
  const groups = (nTok + 3) >> 2;
  for (let g = 0; g < groups; g++) {
    for (let t = 0; t < 4; t++) {
      const tok = 4 * g + t;
      const at = <usize>(g * nb) << 4;
      let dst = a8 + (at << 3) + (<usize>t << 5);
      let o = at + (<usize>t << 2);
      const src = aq + <usize>tok * <usize>cols;
      const blk = <usize>(tok * nb) << 2;
      for (let b = 0; b < nb; b++) {
        if (tok < nTok) {
          v128.store(dst, v128.load(src + (<usize>b << 5)));
          v128.store(dst, v128.load(src + (<usize>b << 5), 16), 16);
          store<f32>(sc + o, load<f32>(ad + blk + (<usize>b << 2)));
          store<i32>(bi + o, load<i32>(ax + blk + (<usize>b << 2)) << 7);
        } else {
          v128.store(dst, i32x4.splat(0));
          v128.store(dst, i32x4.splat(0), 16);
          store<f32>(sc + o, 0);
          store<i32>(bi + o, 0);
        }
        dst += 128;
        o += 16;
      }
    }
  }
}


/**
 * y[t*rows + r] for r in [r0, r1), t < nTok. From four tokens up (prefill, batched decode), tokens
 * go four at a time (rowDot4) and the rest one at a time (rowDot), the row staying in L1 across its
 * tokens: that work is compute-bound. Below four it is bound by reading the weights, and each token
 * walks the range as four interleaved quarters (rowDotStreams); every row gets the same arithmetic
 * either way, so results do not depend on the path. (Q8_0 from four tokens up goes to matmulGroups.)
 */
// @ts-ignore: decorator
@inline function matmul32(kind: i32, w: usize, rows: i32, cols: i32, aq: usize, ad: usize, ax: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  const nb = cols >> 5;
  const rowBytes = <usize>nb * blockBytes(kind);
  const tb = <usize>nb << 2;
  // Relaxed Q8_0: where the negative parts of the split activations start (see q8_split).
  const nOff = <usize>nTok * <usize>cols;
  // Q8_0 (either form) comes here only below Q8_WIDE_MIN_TOKENS tokens (see matmul_q8_0, matmul_q8_0_u8).
  if (nTok < 4 || kind == Q8_0 || kind == Q8_0U) {
    const q = (r1 - r0) >> 2;
    const qBytes = <usize>q * rowBytes;
    const yq = <usize>q << 2;
    for (let t = 0; t < nTok; t++) {
      const at = aq + <usize>t * cols, dt = ad + <usize>t * tb, xt = ax + <usize>t * tb;
      const yt = y + (<usize>(t * rows) << 2);
      for (let i = 0; i < q; i++) {
        const r = r0 + i;
        const wr = w + <usize>r * rowBytes;
        const yr = yt + (<usize>r << 2);
        rowDotStreams(kind, wr, wr + qBytes, wr + 2 * qBytes, wr + 3 * qBytes, nb, at, dt, xt, nOff, yr, yr + yq, yr + 2 * yq, yr + 3 * yq);
      }
      for (let r = r0 + 4 * q; r < r1; r++) {
        store<f32>(yt + (<usize>r << 2), <f32>rowDot(kind, w + <usize>r * rowBytes, nb, at, dt, xt, nOff));
      }
    }
    return;
  }
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    let t = 0;
    for (; t + 4 <= nTok; t += 4) {
      rowDot4(kind, wr, nb, aq + <usize>t * cols, cols, ad + <usize>t * tb, ax + <usize>t * tb, tb, y + (<usize>(t * rows + r) << 2), <usize>rows << 2, nOff);
    }
    for (; t < nTok; t++) {
      const v = rowDot(kind, wr, nb, aq + <usize>t * cols, ad + <usize>t * tb, ax + <usize>t * tb, nOff);
      store<f32>(y + (<usize>(t * rows + r) << 2), <f32>v);
    }
  }
}

/** From Q8_WIDE_MIN_TOKENS tokens up, aq and ad hold the wide layout (q8_widen) and aextra is unused. */
export function matmul_q8_0(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  if (nTok >= Q8_WIDE_MIN_TOKENS) matmulGroups(Q8_0, w, rows, cols, aq, ad, 0, nTok, y, r0, r1);
  else matmul32(Q8_0, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

/**
 * Q8_0 on weights packed in the u8 form (q8_0_pack with flip). Below Q8_WIDE_MIN_TOKENS tokens, plain
 * Q8_0 activations (quants, f32 scales, i32 block sums); from there up, grouped by q8_u8_group (aq, ad
 * and aextra its quants, scales and corrections). See the u8 kernels above.
 */
export function matmul_q8_0_u8(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  if (nTok >= Q8_WIDE_MIN_TOKENS) matmulGroups(Q8_0U, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
  else matmul32(Q8_0U, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

export function matmul_q4_0(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  matmul32(Q4_0, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

export function matmul_q5_0(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  matmul32(Q5_0, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

export function matmul_q4_1(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  matmul32(Q4_1, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

export function matmul_q5_1(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  matmul32(Q5_1, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

/**
 * Copies `rows` rows of GGUF Q8_0 blocks (`cols` values each) from src to dst in the layout the Q8_0
 * kernels read (see the top of this file): per row, groups of four blocks as four f32 scales then the
 * four blocks' quants, and the last cols/32 % 4 blocks each as an f32 scale then its quants. The f16
 * scales convert exactly. dst must not overlap src.
 */
export function q8_0_pack(src: usize, dst: usize, rows: i32, cols: i32, flip: i32): void {
  const nb = cols >> 5;
  const m = i8x16.splat(flip != 0 ? <i8>0x80 : 0);
  for (let r = 0; r < rows; r++) {
    let b = 0;
    for (; b + 4 <= nb; b += 4) {
      for (let j = 0; j < 4; j++) {
        const blk = src + <usize>j * 34;
        store<f32>(dst + 4 * j, f16At(blk));
        v128.store(dst + 16 + 32 * j, v128.xor(v128.load(blk, 2), m));
        v128.store(dst + 16 + 32 * j, v128.xor(v128.load(blk, 18), m), 16);
      }
      src += 136;
      dst += 144;
    }
    for (; b < nb; b++) {
      store<f32>(dst, f16At(src));
      v128.store(dst, v128.xor(v128.load(src, 2), m), 4);
      v128.store(dst, v128.xor(v128.load(src, 18), m), 20);
      src += 34;
      dst += 36;
    }
  }
}

/** The inverse of q8_0_pack: GGUF Q8_0 blocks at dst from the repacked rows at src (the scales came from f16, so they go back exactly). */
export function q8_0_unpack(src: usize, dst: usize, rows: i32, cols: i32, flip: i32): void {
  const nb = cols >> 5;
  const m = i8x16.splat(flip != 0 ? <i8>0x80 : 0);
  for (let r = 0; r < rows; r++) {
    let b = 0;
    for (; b + 4 <= nb; b += 4) {
      for (let j = 0; j < 4; j++) {
        const blk = dst + <usize>j * 34;
        store<u16>(blk, f16Bits(load<f32>(src + 4 * j)));
        v128.store(blk, v128.xor(v128.load(src + 16 + 32 * j), m), 2);
        v128.store(blk, v128.xor(v128.load(src + 16 + 32 * j, 16), m), 18);
      }
      src += 144;
      dst += 136;
    }
    for (; b < nb; b++) {
      store<u16>(dst, f16Bits(load<f32>(src)));
      v128.store(dst, v128.xor(v128.load(src, 4), m), 2);
      v128.store(dst, v128.xor(v128.load(src, 20), m), 18);
      src += 36;
      dst += 34;
    }
  }
}

/**
 * Relaxed build, Q8_0: rewrites n activation quants at p (n a multiple of 32) in place as |a| at p
 * and sign masks (-1 where a < 0) at p + n, and writes each 32-block's sum of |a| over its negative
 * quants to the i32s at sums: the layout matmul_q8_0 reads. Quants must lie in -127..127, as ggml's
 * Q8_0 quantisation makes them (|-128| would not fit dotI7's 7-bit operand).
 */
export function q8_split(p: usize, n: i32, sums: usize): void {
  for (let i: usize = 0; i < <usize>n; i += 32) {
    const q0 = v128.load(p + i), q1 = v128.load(p + i, 16);
    const m0 = i8x16.shr_s(q0, 7), m1 = i8x16.shr_s(q1, 7);
    const a0 = i8x16.abs(q0), a1 = i8x16.abs(q1);
    v128.store(p + <usize>n + i, m0);
    v128.store(p + <usize>n + i, m1, 16);
    v128.store(p + i, a0);
    v128.store(p + i, a1, 16);
    const neg = i16x8.add(i16x8.extadd_pairwise_i8x16_u(v128.and(a0, m0)), i16x8.extadd_pairwise_i8x16_u(v128.and(a1, m1)));
    store<i32>(sums + (i >> 3), hsum(i32x4.extadd_pairwise_i16x8_u(neg)));
  }
}
