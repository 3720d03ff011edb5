// The K formats (Q4_K, Q5_K, Q6_K) against Q8_K activations, per 256-element super-block as
// ggml_vec_dot_q*_K_q8_K: each sub-block's quants times activations are summed exactly in i16 lanes
// (at most four products per lane, all below 2^15), then i32x4.dot_i16x8_s against the splatted
// integer sub-block scale gives the scaled i32 sums. The super-block's float combination is the TS
// kernel's: f64(f32(d_a*d_w)) * sumi - f64(f32(d_a*dmin_w)) * sumMins, accumulated in f64.
// With relaxed SIMD (the "relaxed" build) the quant x activation products go through dotI7 on the
// raw bytes instead of widening both sides to i16; the integer sums are the same, so are the results.
//
// Q4_K weights live in the kernels' memory repacked (q4_k_pack), not as GGUF blocks: each super-block
// as d and dmin in f32 (8 bytes), its 8 six-bit scales and 8 six-bit mins one per byte (16 bytes),
// then the 128 quant bytes as in GGUF: 152 bytes instead of 144. Converting the two f16 and unpacking
// the 12 packed scale bytes cost, per super-block and row, about as much again as the finishing
// arithmetic; repacked, the kernel loads them. Every field converts exactly both ways (q4_k_unpack).
// The u8 kernels keep Q4_K in four-row groups instead (q4k-x4.ts).
import { dotI7, dotU8I8Add, f16At, f16Bits, hsum, reduce4 } from "./common";

// @ts-ignore: decorator
@inline const Q4_K = 0;
// @ts-ignore: decorator
@inline const Q5_K = 1;
// @ts-ignore: decorator
@inline const Q6_K = 2;

/** i16x8 lanes sum to dot(16 unsigned byte quants q, 16 int8 activations at a). */
// @ts-ignore: decorator
@inline function mul16(q: v128, a: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return dotI7(v128.load(a), q);
  return i16x8.add(i16x8.mul(i16x8.extend_low_i8x16_u(q), v128.load8x8_s(a)), i16x8.mul(i16x8.extend_high_i8x16_u(q), v128.load8x8_s(a, 8)));
}

/** An integer scale broadcast to eight i16 lanes (no vector constant, which V8 rebuilds per use). */
// @ts-ignore: decorator
@inline function splatScale(x: i32): v128 {
  return i16x8.splat(<i16>x);
}

/**
 * Loop-invariant byte masks, built from a value the optimiser cannot see through so they stay
 * in registers: V8 would otherwise rematerialise each v128.const inside the loop.
 */
// @ts-ignore: decorator
@inline function byteMask(byte: i32, opaque: i32): v128 {
  return i8x16.splat(<i8>(byte | opaque));
}

/** The 8 six-bit scales or, with mins = true, the 8 mins of the 12 packed bytes at p, one per byte. */
// @ts-ignore: decorator
@inline export function kScales(p: usize, mins: bool): u64 {
  const s0 = load<u32>(p), s1 = load<u32>(p, 4), s2 = load<u32>(p, 8);
  const lo = mins ? s1 & 0x3f3f3f3f : s0 & 0x3f3f3f3f;
  const hi = mins ? ((s2 >> 4) & 0x0f0f0f0f) | ((s1 >> 2) & 0x30303030) : (s2 & 0x0f0f0f0f) | ((s0 >> 2) & 0x30303030);
  return <u64>lo | (<u64>hi << 32);
}

/** Lanes 2 and 3 of v moved to lanes 0 and 1. */
// @ts-ignore: decorator
@inline export function upper(v: v128): v128 {
  return i32x4.shuffle(v, v, 2, 3, 0, 1);
}

/** Bytes per super-block in the kernels' memory (Q4_K repacked, see q4_k_pack). */
// @ts-ignore: decorator
@inline function kBlockBytes(kind: i32): usize {
  return kind == Q4_K ? 152 : kind == Q5_K ? 176 : 210;
}

/** Where a Q4_K/Q5_K super-block's quant bytes start. */
// @ts-ignore: decorator
@inline function quantsAt(kind: i32, o: usize): usize {
  return o + (kind == Q4_K ? 24 : 48);
}

/** The 8 sub-block scales (or mins) of the Q4_K/Q5_K super-block at o, one per byte. */
// @ts-ignore: decorator
@inline function scaleBytes(kind: i32, o: usize, mins: bool): u64 {
  return kind == Q4_K ? load<u64>(o + (mins ? 16 : 8)) : kScales(o + 4, mins);
}

/** d and dmin of the Q4_K/Q5_K super-block at o, in lanes 0 and 1 of an f32x4. */
// @ts-ignore: decorator
@inline function dAndMin(kind: i32, o: usize): v128 {
  return kind == Q4_K ? v128.load64_zero(o) : f32x4.replace_lane(f32x4.splat(f16At(o)), 1, f16At(o + 2));
}

/** Bit `bit` of each byte of h, moved to bit 4. */
// @ts-ignore: decorator
@inline function bitTo4(h: v128, bit: i32, m: v128): v128 {
  return v128.and(i16x8.shl(i16x8.shr_u(h, bit), 4), m);
}

/** Q4_K/Q5_K chunk c of the super-block at o against activations already widened to i16 (a0..a7). */
// @ts-ignore: decorator
@inline function chunkWide(kind: i32, o: usize, c: i32, sc: u64, a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, a5: v128, a6: v128, a7: v128, m4: v128, mx: v128): v128 {
  const q = quantsAt(kind, o) + 32 * c;
  const v0 = v128.load(q), v1 = v128.load(q, 16);
  let l0 = v128.and(v0, m4), l1 = v128.and(v1, m4);
  let h0 = v128.and(i16x8.shr_u(v0, 4), m4), h1 = v128.and(i16x8.shr_u(v1, 4), m4);
  if (kind == Q5_K) {
    const qh0 = v128.load(o, 16), qh1 = v128.load(o, 32);
    l0 = v128.or(l0, bitTo4(qh0, 2 * c, mx));
    l1 = v128.or(l1, bitTo4(qh1, 2 * c, mx));
    h0 = v128.or(h0, bitTo4(qh0, 2 * c + 1, mx));
    h1 = v128.or(h1, bitTo4(qh1, 2 * c + 1, mx));
  }
  const sl = i16x8.add(
    i16x8.add(i16x8.mul(i16x8.extend_low_i8x16_u(l0), a0), i16x8.mul(i16x8.extend_high_i8x16_u(l0), a1)),
    i16x8.add(i16x8.mul(i16x8.extend_low_i8x16_u(l1), a2), i16x8.mul(i16x8.extend_high_i8x16_u(l1), a3)),
  );
  const sh = i16x8.add(
    i16x8.add(i16x8.mul(i16x8.extend_low_i8x16_u(h0), a4), i16x8.mul(i16x8.extend_high_i8x16_u(h0), a5)),
    i16x8.add(i16x8.mul(i16x8.extend_low_i8x16_u(h1), a6), i16x8.mul(i16x8.extend_high_i8x16_u(h1), a7)),
  );
  const s0 = splatScale(<i32>(sc >> (16 * c)) & 0xff), s1 = splatScale(<i32>(sc >> (16 * c + 8)) & 0xff);
  return i32x4.add(i32x4.dot_i16x8_s(sl, s0), i32x4.dot_i16x8_s(sh, s1));
}

/** The four 16-byte vectors of chunk c's quants: low nibbles (l0, l1: sub-block 2c), high (h0, h1: 2c+1). */
// @ts-ignore: decorator
@inline function nibbleAt(kind: i32, o: usize, c: i32, part: i32, m4: v128, mx: v128): v128 {
  return nibbles(kind, o, quantsAt(kind, o) + 32 * c, c, part, m4, mx);
}

/** nibbleAt with the chunk's quants at q, which a loop can step instead of computing from c. */
// @ts-ignore: decorator
@inline function nibbles(kind: i32, o: usize, q: usize, c: i32, part: i32, m4: v128, mx: v128): v128 {
  const v = v128.load(q + 16 * (part & 1));
  let n = part < 2 ? v128.and(v, m4) : v128.and(i16x8.shr_u(v, 4), m4);
  if (kind == Q5_K) n = v128.or(n, bitTo4(v128.load(o + 16 + 16 * (part & 1)), 2 * c + (part >> 1), mx));
  return n;
}

/**
 * Relaxed build: the 8 six-bit sub-block scales of the super-block at o as i16 lanes. A chunk takes
 * its two scales from lanes 0 and 1 (scaleLo, scaleHi) and then rotates the next pair in (nextScales):
 * shuffles V8 emits as one or two instructions, where splatting a scalar costs a round trip through
 * a general register.
 */
// @ts-ignore: decorator
@inline function scaleVec(kind: i32, o: usize): v128 {
  // Q4_K's repacked bytes load and widen in one instruction.
  return kind == Q4_K ? v128.load8x8_u(o + 8) : i16x8.extend_low_i8x16_u(i64x2.splat(scaleBytes(kind, o, false)));
}

// @ts-ignore: decorator
@inline function scaleLo(v: v128): v128 {
  return i8x16.shuffle(v, v, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1);
}

// @ts-ignore: decorator
@inline function scaleHi(v: v128): v128 {
  return i8x16.shuffle(v, v, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
}

// @ts-ignore: decorator
@inline function nextScales(v: v128): v128 {
  return i8x16.shuffle(v, v, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3);
}

/** Relaxed build: Q4_K/Q5_K chunk c of the super-block at o against 64 raw activation bytes A0..A3, scales s0/s1. */
// @ts-ignore: decorator
@inline function chunkRaw(kind: i32, o: usize, c: i32, s0: v128, s1: v128, A0: v128, A1: v128, A2: v128, A3: v128, m4: v128, mx: v128): v128 {
  // Four products per i16 lane at most: 4 * 31 * 128 fits.
  const sl = i16x8.add(dotI7(A0, nibbleAt(kind, o, c, 0, m4, mx)), dotI7(A1, nibbleAt(kind, o, c, 1, m4, mx)));
  const sh = i16x8.add(dotI7(A2, nibbleAt(kind, o, c, 2, m4, mx)), dotI7(A3, nibbleAt(kind, o, c, 3, m4, mx)));
  return i32x4.add(i32x4.dot_i16x8_s(sl, s0), i32x4.dot_i16x8_s(sh, s1));
}

/** i16 lanes 0-3 of v twice each ([s0 s0 s1 s1 s2 s2 s3 s3] from scaleVec's [s0 .. s7]): one punpcklwd. */
// @ts-ignore: decorator
@inline function twiceLo(v: v128): v128 {
  return i8x16.shuffle(v, v, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}

/** i16 lanes 4-7 of v twice each: one punpckhwd. */
// @ts-ignore: decorator
@inline function twiceHi(v: v128): v128 {
  return i8x16.shuffle(v, v, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

/** The i32 lanes 0 and 1 of v twice each (one punpckldq): from twiceLo/twiceHi, a chunk's pairScale. */
// @ts-ignore: decorator
@inline function pairsLo(v: v128): v128 {
  return i8x16.shuffle(v, v, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
}

/** The i32 lanes 2 and 3 of v twice each: one punpckhdq. */
// @ts-ignore: decorator
@inline function pairsHi(v: v128): v128 {
  return i8x16.shuffle(v, v, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
}

/** Lanes 0-3 the chunk's first sub-block scale, lanes 4-7 its second, from the rotating scale vector (see scaleVec). */
// @ts-ignore: decorator
@inline function pairScale(v: v128): v128 {
  return pairsLo(twiceLo(v));
}

/**
 * The "vnni" kernels: Q4_K/Q5_K chunk c of the super-block at o against 64 raw activation bytes
 * A0..A3, with sc from pairScale. Each sub-block's 32 quant x activation products go into i32 lanes
 * through two dotU8I8Add (one vpdpbusd each where V8 finds AVX-VNNI); a lane then holds eight
 * products, at most 8 * 31 * 127 = 31496 in magnitude, so the two sub-blocks narrow exactly into one
 * i16x8 that meets both scales in a single i32x4.dot_i16x8_s. The quants are below 128, which the
 * instruction multiplies exactly on every engine, so the sums equal chunkRaw's everywhere; only the
 * speed depends on the machine.
 */
// @ts-ignore: decorator
@inline function chunkVnni(kind: i32, o: usize, q: usize, c: i32, sc: v128, a: usize, m4: v128, mx: v128): v128 {
  const z = i32x4.splat(0);
  const lo = dotU8I8Add(nibbles(kind, o, q, c, 1, m4, mx), v128.load(a, 16), dotU8I8Add(nibbles(kind, o, q, c, 0, m4, mx), v128.load(a), z));
  const hi = dotU8I8Add(nibbles(kind, o, q, c, 3, m4, mx), v128.load(a, 48), dotU8I8Add(nibbles(kind, o, q, c, 2, m4, mx), v128.load(a, 32), z));
  return i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(lo, hi), sc);
}

/**
 * blockSums for the vnni kernels. Two turns of two chunks each: a turn's two scale vectors come
 * from one twiceLo/twiceHi of the 8 scales (one instruction each), and pointers step rather than
 * being computed from the chunk number.
 */
// @ts-ignore: decorator
@inline function blockSumsVnni(kind: i32, o: usize, a: usize, m4: v128, mx: v128): v128 {
  const sv = scaleVec(kind, o);
  let acc = i32x4.splat(0);
  let q = quantsAt(kind, o);
  let twice = twiceLo(sv);
  for (let c = 0; c < 4; c += 2) {
    acc = i32x4.add(acc, chunkVnni(kind, o, q, c, pairsLo(twice), a, m4, mx));
    acc = i32x4.add(acc, chunkVnni(kind, o, q + 32, c + 1, pairsHi(twice), a + 64, m4, mx));
    twice = twiceHi(sv);
    q += 64;
    a += 128;
  }
  return acc;
}

/** Q4_K/Q5_K: the scaled i32x4 sums of the 64-element chunk c (sub-blocks 2c, 2c+1) of the super-block at o. */
// @ts-ignore: decorator
@inline function chunk45(kind: i32, o: usize, c: i32, a: usize, sc: u64, m4: v128, mx: v128): v128 {
  const ac = a + 64 * c;
  return chunkWide(
    kind, o, c, sc,
    v128.load8x8_s(ac), v128.load8x8_s(ac, 8), v128.load8x8_s(ac, 16), v128.load8x8_s(ac, 24),
    v128.load8x8_s(ac, 32), v128.load8x8_s(ac, 40), v128.load8x8_s(ac, 48), v128.load8x8_s(ac, 56),
    m4, mx,
  );
}

/** Q6_K: the scaled i32x4 sums of the 16 quants from l = 16k in half `half` of the super-block at o (unsigned, +32). */
// @ts-ignore: decorator
@inline function chunk6(o: usize, half: i32, k: i32, a: usize, m4: v128, m30: v128): v128 {
  const ql = o + 64 * half + 16 * k;
  const L0 = v128.load(ql), L1 = v128.load(ql, 32), H = v128.load(o + 128 + 32 * half + 16 * k);
  const q1 = v128.or(v128.and(L0, m4), v128.and(i16x8.shl(H, 4), m30));
  const q2 = v128.or(v128.and(L1, m4), v128.and(i16x8.shl(H, 2), m30));
  const q3 = v128.or(v128.and(i16x8.shr_u(L0, 4), m4), v128.and(H, m30));
  const q4 = v128.or(v128.and(i16x8.shr_u(L1, 4), m4), v128.and(i16x8.shr_u(H, 2), m30));
  const ah = a + 128 * half + 16 * k;
  const sc = o + 192 + 8 * half + k;
  const d1 = i32x4.dot_i16x8_s(mul16(q1, ah), splatScale(load<i8>(sc, 0)));
  const d2 = i32x4.dot_i16x8_s(mul16(q2, ah + 32), splatScale(load<i8>(sc, 2)));
  const d3 = i32x4.dot_i16x8_s(mul16(q3, ah + 64), splatScale(load<i8>(sc, 4)));
  const d4 = i32x4.dot_i16x8_s(mul16(q4, ah + 96), splatScale(load<i8>(sc, 6)));
  return i32x4.add(i32x4.add(d1, d2), i32x4.add(d3, d4));
}

/** The 16 bsums at bs narrowed to i16: first (lo) or second eight. */
// @ts-ignore: decorator
@inline function bsums16(bs: usize, second: bool): v128 {
  const p = bs + (second ? 32 : 0);
  return i16x8.narrow_i32x4_s(v128.load(p), v128.load(p, 16));
}

/** Q6_K's 16 sub-block scales widened to i16 (first or second eight). */
// @ts-ignore: decorator
@inline function scales6(o: usize, second: bool): v128 {
  return i16x8.extend_low_i8x16_s(v128.load64_zero(o + (second ? 200 : 192)));
}

/** Q4_K/Q5_K's 8 mins as i16 lanes, one per 32-value sub-block (to meet the activations' pair sums, see q8k_pairs). */
// @ts-ignore: decorator
@inline function mins45(kind: i32, o: usize): v128 {
  return kind == Q4_K ? v128.load8x8_u(o + 16) : i16x8.extend_low_i8x16_u(i64x2.splat(scaleBytes(kind, o, true)));
}

/**
 * Bytes per super-block of the activation sums a kind's kernel reads: Q6_K the 16 i32 bsums (one per
 * 16 values); Q4_K/Q5_K, whose mins cover 32 values, the 8 pair sums as i16 (q8k_pairs), which the
 * kernel finds after all the i32 bsums (see matmulK).
 */
// @ts-ignore: decorator
@inline function sumBytes(kind: i32): usize {
  return kind == Q6_K ? 64 : 16;
}

/**
 * Q6_K's float part for one token from the weight-side values (scales sc0/sc1, d = dw) and the
 * token's bsums at bs and scale da. The quants were taken unsigned (q + 32): removes 32 * sum(scale_j * bsum_j).
 */
// @ts-ignore: decorator
@inline function fin6(acc: v128, sc0: v128, sc1: v128, dw: f32, bs: usize, da: f32): f64 {
  const off = i32x4.add(i32x4.dot_i16x8_s(sc0, bsums16(bs, false)), i32x4.dot_i16x8_s(sc1, bsums16(bs, true)));
  return <f64>(da * dw) * <f64>(hsum(acc) - (hsum(off) << 5));
}

/**
 * Q4_K/Q5_K's float part for one token: f64(f32(da*dw)) * sum(acc) - f64(f32(da*dmin)) * sum(mins),
 * with d and dmin in lanes 0 and 1 of dd, the 8 mins m from the weights and the token's pair sums at
 * pairs. Both sums and both products go in one pair of lanes; each product is exact in f64 (a 24-bit
 * mantissa times an integer below 2^24), so this rounds only at the subtraction, as the scalar form does.
 */
// @ts-ignore: decorator
@inline function fin45(acc: v128, m: v128, dd: v128, pairs: usize, da: f32): f64 {
  const mins = i32x4.dot_i16x8_s(m, v128.load(pairs));
  const t = i32x4.add(i32x4.shuffle(acc, mins, 0, 4, 1, 5), i32x4.shuffle(acc, mins, 2, 6, 3, 7));
  const sums = i32x4.add(t, i32x4.shuffle(t, t, 2, 3, 0, 1));
  const p = f64x2.mul(f64x2.convert_low_i32x4_s(sums), f64x2.promote_low_f32x4(f32x4.mul(dd, f32x4.splat(da))));
  return f64x2.extract_lane(p, 0) - f64x2.extract_lane(p, 1);
}

/**
 * fin45 for two super-block sums at once, one per f64 lane, from lanes 0 and 1 of their quant sums
 * (sumi), min sums (mins, the mins times the pair sums) and the f32 products d*da (dd) and dmin*da
 * (dm): the kernels gather four rows' or four tokens' values into those vectors. Each lane sees
 * fin45's operations in fin45's order, so every sum is the same to the bit, for about two thirds of
 * the instructions of fin45 per sum.
 */
// @ts-ignore: decorator
@inline export function fin45Pair(sumi: v128, mins: v128, dd: v128, dm: v128): v128 {
  return f64x2.sub(f64x2.mul(f64x2.convert_low_i32x4_s(sumi), f64x2.promote_low_f32x4(dd)), f64x2.mul(f64x2.convert_low_i32x4_s(mins), f64x2.promote_low_f32x4(dm)));
}

/** The min sums of four tokens (pair sums at s, s + ts, ...) against one super-block's mins m (mins45), one per lane. */
// @ts-ignore: decorator
@inline function minSums4(m: v128, s: usize, ts: usize): v128 {
  return reduce4(i32x4.dot_i16x8_s(m, v128.load(s)), i32x4.dot_i16x8_s(m, v128.load(s + ts)), i32x4.dot_i16x8_s(m, v128.load(s + 2 * ts)), i32x4.dot_i16x8_s(m, v128.load(s + 3 * ts)));
}

/** Four tokens' activation scales (at d, d + tb, ...), one per lane. */
// @ts-ignore: decorator
@inline function tokenScales4(d: usize, tb: usize): v128 {
  return v128.load32_lane(d + 3 * tb, v128.load32_lane(d + 2 * tb, v128.load32_lane(d + tb, v128.load32_zero(d), 1), 2), 3);
}

/**
 * The float part of a super-block (weights at o) for one token, given the i32x4 scaled quant sums
 * acc: subtracts the min (Q4_K/Q5_K) or +32 offset (Q6_K) parts via the token's bsums at bs.
 */
// @ts-ignore: decorator
@inline function finish(kind: i32, o: usize, acc: v128, bs: usize, da: f32): f64 {
  if (kind == Q6_K) return fin6(acc, scales6(o, false), scales6(o, true), f16At(o + 208), bs, da);
  return fin45(acc, mins45(kind, o), dAndMin(kind, o), bs, da);
}

/** The scaled i32x4 quant sums of one super-block of weights at o against 256 activation quants at a (see finish). */
// @ts-ignore: decorator
@inline function blockSums(kind: i32, vnni: bool, o: usize, a: usize, m4: v128, mx: v128): v128 {
  // Real loops, not unrolled: unrolled, V8 schedules every chunk's unpacking first and spills.
  if (vnni) return blockSumsVnni(kind, o, a, m4, mx);
  let acc = i32x4.splat(0);
  if (kind == Q6_K) {
    for (let j = 0; j < 4; j++) acc = i32x4.add(acc, chunk6(o, j >> 1, j & 1, a, m4, mx));
  } else if (ASC_FEATURE_RELAXED_SIMD) {
    let sv = scaleVec(kind, o);
    for (let c = 0; c < 4; c++) {
      const ac = a + 64 * c;
      acc = i32x4.add(acc, chunkRaw(kind, o, c, scaleLo(sv), scaleHi(sv), v128.load(ac), v128.load(ac, 16), v128.load(ac, 32), v128.load(ac, 48), m4, mx));
      sv = nextScales(sv);
    }
  } else {
    const sc = scaleBytes(kind, o, false);
    for (let c = 0; c < 4; c++) acc = i32x4.add(acc, chunk45(kind, o, c, a, sc, m4, mx));
  }
  return acc;
}

/** One super-block of weights at o against 256 activation quants at a with bsums bs and scale da. */
// @ts-ignore: decorator
@inline function superBlock(kind: i32, vnni: bool, o: usize, a: usize, bs: usize, da: f32, m4: v128, mx: v128): f64 {
  return finish(kind, o, blockSums(kind, vnni, o, a, m4, mx), bs, da);
}

/** Eight i16x8 weight vectors (two sub-blocks of 32) against the activations at a: scaled i32x4 sums. */
// @ts-ignore: decorator
@inline function tok45(w0: v128, w1: v128, w2: v128, w3: v128, w4: v128, w5: v128, w6: v128, w7: v128, s0: v128, s1: v128, a: usize): v128 {
  const sl = i16x8.add(
    i16x8.add(i16x8.mul(w0, v128.load8x8_s(a)), i16x8.mul(w1, v128.load8x8_s(a, 8))),
    i16x8.add(i16x8.mul(w2, v128.load8x8_s(a, 16)), i16x8.mul(w3, v128.load8x8_s(a, 24))),
  );
  const sh = i16x8.add(
    i16x8.add(i16x8.mul(w4, v128.load8x8_s(a, 32)), i16x8.mul(w5, v128.load8x8_s(a, 40))),
    i16x8.add(i16x8.mul(w6, v128.load8x8_s(a, 48)), i16x8.mul(w7, v128.load8x8_s(a, 56))),
  );
  return i32x4.add(i32x4.dot_i16x8_s(sl, s0), i32x4.dot_i16x8_s(sh, s1));
}

/** Q6_K: eight i16x8 weight vectors (four sub-blocks of 16, 32 apart) against the activations at a. */
// @ts-ignore: decorator
@inline function tok6(w0: v128, w1: v128, w2: v128, w3: v128, w4: v128, w5: v128, w6: v128, w7: v128, s1: v128, s2: v128, s3: v128, s4: v128, a: usize): v128 {
  const d1 = i32x4.dot_i16x8_s(i16x8.add(i16x8.mul(w0, v128.load8x8_s(a)), i16x8.mul(w1, v128.load8x8_s(a, 8))), s1);
  const d2 = i32x4.dot_i16x8_s(i16x8.add(i16x8.mul(w2, v128.load8x8_s(a, 32)), i16x8.mul(w3, v128.load8x8_s(a, 40))), s2);
  const d3 = i32x4.dot_i16x8_s(i16x8.add(i16x8.mul(w4, v128.load8x8_s(a, 64)), i16x8.mul(w5, v128.load8x8_s(a, 72))), s3);
  const d4 = i32x4.dot_i16x8_s(i16x8.add(i16x8.mul(w6, v128.load8x8_s(a, 96)), i16x8.mul(w7, v128.load8x8_s(a, 104))), s4);
  return i32x4.add(i32x4.add(d1, d2), i32x4.add(d3, d4));
}

/**
 * One weight row (from wr) against four tokens (quants from a, `cols` apart): each 64-quant chunk
 * is unpacked to i16 once and dotted with all four, so prefill pays the unpacking a quarter as
 * often. Writes y[0], y[yStride], y[2*yStride], y[3*yStride]; f64 accumulators as rowK.
 */
// @ts-ignore: decorator
@inline function rowK4(kind: i32, wr: usize, nb: i32, a: usize, cols: usize, d: usize, s: usize, tokBlocks: usize, y: usize, yStride: usize, m4: v128, mx: v128): void {
  const bb = kBlockBytes(kind);
  let o = wr;
  let y0: f64 = 0, y1: f64 = 0, y2: f64 = 0, y3: f64 = 0;
  for (let b = 0; b < nb; b++) {
    let acc0 = i32x4.splat(0), acc1 = i32x4.splat(0), acc2 = i32x4.splat(0), acc3 = i32x4.splat(0);
    if (kind == Q6_K) {
      for (let j = 0; j < 4; j++) {
        const half = j >> 1, k = j & 1;
        const ql = o + 64 * half + 16 * k;
        const L0 = v128.load(ql), L1 = v128.load(ql, 32), H = v128.load(o + 128 + 32 * half + 16 * k);
        const q1 = v128.or(v128.and(L0, m4), v128.and(i16x8.shl(H, 4), mx));
        const q2 = v128.or(v128.and(L1, m4), v128.and(i16x8.shl(H, 2), mx));
        const q3 = v128.or(v128.and(i16x8.shr_u(L0, 4), m4), v128.and(H, mx));
        const q4 = v128.or(v128.and(i16x8.shr_u(L1, 4), m4), v128.and(i16x8.shr_u(H, 2), mx));
        const w0 = i16x8.extend_low_i8x16_u(q1), w1 = i16x8.extend_high_i8x16_u(q1);
        const w2 = i16x8.extend_low_i8x16_u(q2), w3 = i16x8.extend_high_i8x16_u(q2);
        const w4 = i16x8.extend_low_i8x16_u(q3), w5 = i16x8.extend_high_i8x16_u(q3);
        const w6 = i16x8.extend_low_i8x16_u(q4), w7 = i16x8.extend_high_i8x16_u(q4);
        const sc = o + 192 + 8 * half + k;
        const s1 = splatScale(load<i8>(sc)), s2 = splatScale(load<i8>(sc, 2)), s3 = splatScale(load<i8>(sc, 4)), s4 = splatScale(load<i8>(sc, 6));
        const at = a + 128 * half + 16 * k;
        acc0 = i32x4.add(acc0, tok6(w0, w1, w2, w3, w4, w5, w6, w7, s1, s2, s3, s4, at));
        acc1 = i32x4.add(acc1, tok6(w0, w1, w2, w3, w4, w5, w6, w7, s1, s2, s3, s4, at + cols));
        acc2 = i32x4.add(acc2, tok6(w0, w1, w2, w3, w4, w5, w6, w7, s1, s2, s3, s4, at + 2 * cols));
        acc3 = i32x4.add(acc3, tok6(w0, w1, w2, w3, w4, w5, w6, w7, s1, s2, s3, s4, at + 3 * cols));
      }
    } else {
      const sc = scaleBytes(kind, o, false);
      for (let c = 0; c < 4; c++) {
        const q = quantsAt(kind, o) + 32 * c;
        const v0 = v128.load(q), v1 = v128.load(q, 16);
        let l0 = v128.and(v0, m4), l1 = v128.and(v1, m4);
        let h0 = v128.and(i16x8.shr_u(v0, 4), m4), h1 = v128.and(i16x8.shr_u(v1, 4), m4);
        if (kind == Q5_K) {
          const qh0 = v128.load(o, 16), qh1 = v128.load(o, 32);
          l0 = v128.or(l0, bitTo4(qh0, 2 * c, mx));
          l1 = v128.or(l1, bitTo4(qh1, 2 * c, mx));
          h0 = v128.or(h0, bitTo4(qh0, 2 * c + 1, mx));
          h1 = v128.or(h1, bitTo4(qh1, 2 * c + 1, mx));
        }
        const w0 = i16x8.extend_low_i8x16_u(l0), w1 = i16x8.extend_high_i8x16_u(l0);
        const w2 = i16x8.extend_low_i8x16_u(l1), w3 = i16x8.extend_high_i8x16_u(l1);
        const w4 = i16x8.extend_low_i8x16_u(h0), w5 = i16x8.extend_high_i8x16_u(h0);
        const w6 = i16x8.extend_low_i8x16_u(h1), w7 = i16x8.extend_high_i8x16_u(h1);
        const s0 = splatScale(<i32>(sc >> (16 * c)) & 0xff), s1 = splatScale(<i32>(sc >> (16 * c + 8)) & 0xff);
        const at = a + 64 * c;
        acc0 = i32x4.add(acc0, tok45(w0, w1, w2, w3, w4, w5, w6, w7, s0, s1, at));
        acc1 = i32x4.add(acc1, tok45(w0, w1, w2, w3, w4, w5, w6, w7, s0, s1, at + cols));
        acc2 = i32x4.add(acc2, tok45(w0, w1, w2, w3, w4, w5, w6, w7, s0, s1, at + 2 * cols));
        acc3 = i32x4.add(acc3, tok45(w0, w1, w2, w3, w4, w5, w6, w7, s0, s1, at + 3 * cols));
      }
    }
    const ts = tokBlocks * sumBytes(kind);
    y0 += finish(kind, o, acc0, s, load<f32>(d));
    y1 += finish(kind, o, acc1, s + ts, load<f32>(d + (tokBlocks << 2)));
    y2 += finish(kind, o, acc2, s + 2 * ts, load<f32>(d + (tokBlocks << 3)));
    y3 += finish(kind, o, acc3, s + 3 * ts, load<f32>(d + 3 * (tokBlocks << 2)));
    o += bb;
    a += 256;
    d += 4;
    s += sumBytes(kind);
  }
  store<f32>(y, <f32>y0);
  store<f32>(y + yStride, <f32>y1);
  store<f32>(y + 2 * yStride, <f32>y2);
  store<f32>(y + 3 * yStride, <f32>y3);
}

/** Relaxed build: Q4_K/Q5_K quant bytes of two sub-blocks (l0, l1 | h0, h1) against 64 activation bytes at a. */
// @ts-ignore: decorator
@inline function tok45r(l0: v128, l1: v128, h0: v128, h1: v128, s0: v128, s1: v128, a: usize): v128 {
  const sl = i16x8.add(dotI7(v128.load(a), l0), dotI7(v128.load(a, 16), l1));
  const sh = i16x8.add(dotI7(v128.load(a, 32), h0), dotI7(v128.load(a, 48), h1));
  return i32x4.add(i32x4.dot_i16x8_s(sl, s0), i32x4.dot_i16x8_s(sh, s1));
}

/** The vnni kernels' tok45r: two sub-blocks' quant bytes against 64 activation bytes at a, scales ps (pairScale). */
// @ts-ignore: decorator
@inline function tok45v(l0: v128, l1: v128, h0: v128, h1: v128, ps: v128, a: usize): v128 {
  const z = i32x4.splat(0);
  const lo = dotU8I8Add(l1, v128.load(a, 16), dotU8I8Add(l0, v128.load(a), z));
  const hi = dotU8I8Add(h1, v128.load(a, 48), dotU8I8Add(h0, v128.load(a, 32), z));
  return i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(lo, hi), ps);
}

/** Relaxed build: Q6_K's four 16-quant vectors (32 apart in the activations) against the activations at a. */
// @ts-ignore: decorator
@inline function tok6r(q1: v128, q2: v128, q3: v128, q4: v128, s1: v128, s2: v128, s3: v128, s4: v128, a: usize): v128 {
  const d1 = i32x4.dot_i16x8_s(dotI7(v128.load(a), q1), s1);
  const d2 = i32x4.dot_i16x8_s(dotI7(v128.load(a, 32), q2), s2);
  const d3 = i32x4.dot_i16x8_s(dotI7(v128.load(a, 64), q3), s3);
  const d4 = i32x4.dot_i16x8_s(dotI7(v128.load(a, 96), q4), s4);
  return i32x4.add(i32x4.add(d1, d2), i32x4.add(d3, d4));
}

/** rowK4 for the relaxed build: the quants stay bytes (no widening), each dotted with four tokens. */
// @ts-ignore: decorator
@inline function rowK4r(kind: i32, vnni: bool, eight: bool, wr: usize, nb: i32, a: usize, cols: usize, d: usize, s: usize, tokBlocks: usize, y: usize, yStride: usize, m4: v128, mx: v128): void {
  const bb = kBlockBytes(kind);
  let o = wr;
  let y0: f64 = 0, y1: f64 = 0, y2: f64 = 0, y3: f64 = 0;
  let y01 = f64x2.splat(0), y23 = y01, y45 = y01, y67 = y01;
  const ts = tokBlocks * sumBytes(kind);
  const tb = tokBlocks << 2;
  for (let b = 0; b < nb; b++) {
    let acc0 = i32x4.splat(0), acc1 = acc0, acc2 = acc0, acc3 = acc0, acc4 = acc0, acc5 = acc0, acc6 = acc0, acc7 = acc0;
    if (kind == Q6_K) {
      for (let j = 0; j < 4; j++) {
        const half = j >> 1, k = j & 1;
        const ql = o + 64 * half + 16 * k;
        const L0 = v128.load(ql), L1 = v128.load(ql, 32), H = v128.load(o + 128 + 32 * half + 16 * k);
        const q1 = v128.or(v128.and(L0, m4), v128.and(i16x8.shl(H, 4), mx));
        const q2 = v128.or(v128.and(L1, m4), v128.and(i16x8.shl(H, 2), mx));
        const q3 = v128.or(v128.and(i16x8.shr_u(L0, 4), m4), v128.and(H, mx));
        const q4 = v128.or(v128.and(i16x8.shr_u(L1, 4), m4), v128.and(i16x8.shr_u(H, 2), mx));
        const sc = o + 192 + 8 * half + k;
        const s1 = splatScale(load<i8>(sc)), s2 = splatScale(load<i8>(sc, 2)), s3 = splatScale(load<i8>(sc, 4)), s4 = splatScale(load<i8>(sc, 6));
        const at = a + 128 * half + 16 * k;
        acc0 = i32x4.add(acc0, tok6r(q1, q2, q3, q4, s1, s2, s3, s4, at));
        acc1 = i32x4.add(acc1, tok6r(q1, q2, q3, q4, s1, s2, s3, s4, at + cols));
        acc2 = i32x4.add(acc2, tok6r(q1, q2, q3, q4, s1, s2, s3, s4, at + 2 * cols));
        acc3 = i32x4.add(acc3, tok6r(q1, q2, q3, q4, s1, s2, s3, s4, at + 3 * cols));
      }
    } else {
      let sv = scaleVec(kind, o);
      for (let c = 0; c < 4; c++) {
        const l0 = nibbleAt(kind, o, c, 0, m4, mx), l1 = nibbleAt(kind, o, c, 1, m4, mx);
        const h0 = nibbleAt(kind, o, c, 2, m4, mx), h1 = nibbleAt(kind, o, c, 3, m4, mx);
        const at = a + 64 * c;
        if (vnni) {
          const ps = pairScale(sv);
          acc0 = i32x4.add(acc0, tok45v(l0, l1, h0, h1, ps, at));
          acc1 = i32x4.add(acc1, tok45v(l0, l1, h0, h1, ps, at + cols));
          acc2 = i32x4.add(acc2, tok45v(l0, l1, h0, h1, ps, at + 2 * cols));
          acc3 = i32x4.add(acc3, tok45v(l0, l1, h0, h1, ps, at + 3 * cols));
          if (eight) {
            acc4 = i32x4.add(acc4, tok45v(l0, l1, h0, h1, ps, at + 4 * cols));
            acc5 = i32x4.add(acc5, tok45v(l0, l1, h0, h1, ps, at + 5 * cols));
            acc6 = i32x4.add(acc6, tok45v(l0, l1, h0, h1, ps, at + 6 * cols));
            acc7 = i32x4.add(acc7, tok45v(l0, l1, h0, h1, ps, at + 7 * cols));
          }
        } else {
          const s0 = scaleLo(sv), s1 = scaleHi(sv);
          acc0 = i32x4.add(acc0, tok45r(l0, l1, h0, h1, s0, s1, at));
          acc1 = i32x4.add(acc1, tok45r(l0, l1, h0, h1, s0, s1, at + cols));
          acc2 = i32x4.add(acc2, tok45r(l0, l1, h0, h1, s0, s1, at + 2 * cols));
          acc3 = i32x4.add(acc3, tok45r(l0, l1, h0, h1, s0, s1, at + 3 * cols));
        }
        sv = nextScales(sv);
      }
    }
    // The weight-side parts of the float combination, once for the four tokens.
    if (kind == Q6_K) {
      const sc0 = scales6(o, false), sc1 = scales6(o, true), dw = f16At(o + 208);
      y0 += fin6(acc0, sc0, sc1, dw, s, load<f32>(d));
      y1 += fin6(acc1, sc0, sc1, dw, s + ts, load<f32>(d + (tokBlocks << 2)));
      y2 += fin6(acc2, sc0, sc1, dw, s + 2 * ts, load<f32>(d + (tokBlocks << 3)));
      y3 += fin6(acc3, sc0, sc1, dw, s + 3 * ts, load<f32>(d + 3 * (tokBlocks << 2)));
    } else {
      // fin45 for four tokens at once (fin45Pair): the weights' d and dmin against the tokens' scales.
      const m = mins45(kind, o);
      const w = dAndMin(kind, o);
      const wd = i32x4.shuffle(w, w, 0, 0, 0, 0), wm = i32x4.shuffle(w, w, 1, 1, 1, 1);
      let sumi = reduce4(acc0, acc1, acc2, acc3), mins = minSums4(m, s, ts), da = tokenScales4(d, tb);
      let dd = f32x4.mul(wd, da), dm = f32x4.mul(wm, da);
      y01 = f64x2.add(y01, fin45Pair(sumi, mins, dd, dm));
      y23 = f64x2.add(y23, fin45Pair(upper(sumi), upper(mins), upper(dd), upper(dm)));
      if (eight) {
        sumi = reduce4(acc4, acc5, acc6, acc7);
        mins = minSums4(m, s + 4 * ts, ts);
        da = tokenScales4(d + 4 * tb, tb);
        dd = f32x4.mul(wd, da);
        dm = f32x4.mul(wm, da);
        y45 = f64x2.add(y45, fin45Pair(sumi, mins, dd, dm));
        y67 = f64x2.add(y67, fin45Pair(upper(sumi), upper(mins), upper(dd), upper(dm)));
      }
    }
    o += bb;
    a += 256;
    d += 4;
    s += sumBytes(kind);
  }
  if (kind != Q6_K) {
    y0 = f64x2.extract_lane(y01, 0);
    y1 = f64x2.extract_lane(y01, 1);
    y2 = f64x2.extract_lane(y23, 0);
    y3 = f64x2.extract_lane(y23, 1);
  }
  store<f32>(y, <f32>y0);
  store<f32>(y + yStride, <f32>y1);
  store<f32>(y + 2 * yStride, <f32>y2);
  store<f32>(y + 3 * yStride, <f32>y3);
  if (eight) {
    store<f32>(y + 4 * yStride, <f32>f64x2.extract_lane(y45, 0));
    store<f32>(y + 5 * yStride, <f32>f64x2.extract_lane(y45, 1));
    store<f32>(y + 6 * yStride, <f32>f64x2.extract_lane(y67, 0));
    store<f32>(y + 7 * yStride, <f32>f64x2.extract_lane(y67, 1));
  }
}

/** One weight row against one token: the f64 sum of its super-blocks. */
// @ts-ignore: decorator
@inline function rowK(kind: i32, vnni: bool, wr: usize, nb: i32, a: usize, d: usize, s: usize, m4: v128, mx: v128): f64 {
  const bb = kBlockBytes(kind);
  let o = wr;
  let acc: f64 = 0;
  for (let b = 0; b < nb; b++) {
    acc += superBlock(kind, vnni, o, a, s, load<f32>(d), m4, mx);
    o += bb;
    a += 256;
    d += 4;
    s += sumBytes(kind);
  }
  return acc;
}

/** A Q4_K row in q4_k_pack's layout against one token through the vnni chunks (for q4k-x4.ts's rows past its groups). */
// @ts-ignore: decorator
@inline export function rowKVnni(wr: usize, nb: i32, a: usize, d: usize, s: usize, m4: v128): f64 {
  return rowK(Q4_K, true, wr, nb, a, d, s, m4, m4);
}

/**
 * Four weight rows (from w0..w3, far apart) against one token, each exactly as rowK computes it:
 * four interleaved sequential streams keep more cache-line fills in flight than one, so weights read
 * from RAM arrive near the machine's bandwidth. Writes the rows' outputs at y0..y3.
 */
// @ts-ignore: decorator
@inline function rowKStreams(kind: i32, vnni: bool, w0: usize, w1: usize, w2: usize, w3: usize, nb: i32, a: usize, d: usize, s: usize, m4: v128, mx: v128, y0: usize, y1: usize, y2: usize, y3: usize): void {
  const bb = kBlockBytes(kind);
  if (kind == Q6_K) {
    let acc0: f64 = 0, acc1: f64 = 0, acc2: f64 = 0, acc3: f64 = 0;
    for (let b = 0; b < nb; b++) {
      const da = load<f32>(d);
      acc0 += superBlock(kind, vnni, w0, a, s, da, m4, mx);
      acc1 += superBlock(kind, vnni, w1, a, s, da, m4, mx);
      acc2 += superBlock(kind, vnni, w2, a, s, da, m4, mx);
      acc3 += superBlock(kind, vnni, w3, a, s, da, m4, mx);
      w0 += bb;
      w1 += bb;
      w2 += bb;
      w3 += bb;
      a += 256;
      d += 4;
      s += sumBytes(kind);
    }
    store<f32>(y0, <f32>acc0);
    store<f32>(y1, <f32>acc1);
    store<f32>(y2, <f32>acc2);
    store<f32>(y3, <f32>acc3);
    return;
  }
  // Q4_K/Q5_K: fin45 for the four rows at once (fin45Pair), rows 0 and 1 summing in the lanes of
  // y01, rows 2 and 3 in y23.
  let y01 = f64x2.splat(0), y23 = y01;
  for (let b = 0; b < nb; b++) {
    const sumi = reduce4(blockSums(kind, vnni, w0, a, m4, mx), blockSums(kind, vnni, w1, a, m4, mx), blockSums(kind, vnni, w2, a, m4, mx), blockSums(kind, vnni, w3, a, m4, mx));
    const p = v128.load(s);
    const mins = reduce4(i32x4.dot_i16x8_s(mins45(kind, w0), p), i32x4.dot_i16x8_s(mins45(kind, w1), p), i32x4.dot_i16x8_s(mins45(kind, w2), p), i32x4.dot_i16x8_s(mins45(kind, w3), p));
    // [d0 d1 dmin0 dmin1] and [d2 d3 dmin2 dmin3], then the rows' d and dmin, each times da in f32.
    const t01 = i32x4.shuffle(dAndMin(kind, w0), dAndMin(kind, w1), 0, 4, 1, 5);
    const t23 = i32x4.shuffle(dAndMin(kind, w2), dAndMin(kind, w3), 0, 4, 1, 5);
    const da = f32x4.splat(load<f32>(d));
    const dd = f32x4.mul(i32x4.shuffle(t01, t23, 0, 1, 4, 5), da), dm = f32x4.mul(i32x4.shuffle(t01, t23, 2, 3, 6, 7), da);
    y01 = f64x2.add(y01, fin45Pair(sumi, mins, dd, dm));
    y23 = f64x2.add(y23, fin45Pair(upper(sumi), upper(mins), upper(dd), upper(dm)));
    w0 += bb;
    w1 += bb;
    w2 += bb;
    w3 += bb;
    a += 256;
    d += 4;
    s += sumBytes(kind);
  }
  store<f32>(y0, <f32>f64x2.extract_lane(y01, 0));
  store<f32>(y1, <f32>f64x2.extract_lane(y01, 1));
  store<f32>(y2, <f32>f64x2.extract_lane(y23, 0));
  store<f32>(y3, <f32>f64x2.extract_lane(y23, 1));
}

// @ts-ignore: decorator
@inline function matmulK(kind: i32, vnni: bool, w: usize, rows: i32, cols: i32, aq: usize, ad: usize, bs: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  const nb = cols >> 8;
  const bb = kBlockBytes(kind);
  const rowBytes = <usize>nb * bb;
  const opaque = rows >> 31; // 0: rows is never negative, but the optimiser cannot know that
  const m4 = byteMask(0x0f, opaque);
  const mx = byteMask(kind == Q6_K ? 0x30 : 0x10, opaque);
  const yStride = <usize>rows << 2;
  // Q4_K/Q5_K read the pair sums that follow all nTok tokens' i32 bsums (see sumBytes).
  const sums = kind == Q6_K ? bs : bs + (<usize>(nTok * nb) << 6);
  const sb = sumBytes(kind);
  if (nTok < 4) {
    // Bound by reading the weights: each token walks the range as four interleaved quarters.
    const q = (r1 - r0) >> 2;
    const qBytes = <usize>q * rowBytes;
    const yq = <usize>q << 2;
    for (let t = 0; t < nTok; t++) {
      const at = aq + <usize>t * cols, dt = ad + (<usize>(t * nb) << 2), st = sums + <usize>(t * nb) * sb;
      const yt = y + (<usize>(t * rows) << 2);
      for (let i = 0; i < q; i++) {
        const r = r0 + i;
        const wr = w + <usize>r * rowBytes;
        const yr = yt + (<usize>r << 2);
        rowKStreams(kind, vnni, wr, wr + qBytes, wr + 2 * qBytes, wr + 3 * qBytes, nb, at, dt, st, m4, mx, yr, yr + yq, yr + 2 * yq, yr + 3 * yq);
      }
      for (let r = r0 + 4 * q; r < r1; r++) {
        store<f32>(yt + (<usize>r << 2), <f32>rowK(kind, vnni, w + <usize>r * rowBytes, nb, at, dt, st, m4, mx));
      }
    }
    return;
  }
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    let t = 0;
    // The vnni kernels take eight tokens at a time while they can: a quarter fewer instructions per token.
    if (vnni) for (; t + 8 <= nTok; t += 8) rowK4r(kind, true, true, wr, nb, aq + <usize>t * cols, cols, ad + (<usize>(t * nb) << 2), sums + <usize>(t * nb) * sb, nb, y + (<usize>(t * rows + r) << 2), yStride, m4, mx);
    for (; t + 4 <= nTok; t += 4) {
      if (ASC_FEATURE_RELAXED_SIMD || vnni) rowK4r(kind, vnni, false, wr, nb, aq + <usize>t * cols, cols, ad + (<usize>(t * nb) << 2), sums + <usize>(t * nb) * sb, nb, y + (<usize>(t * rows + r) << 2), yStride, m4, mx);
      else rowK4(kind, wr, nb, aq + <usize>t * cols, cols, ad + (<usize>(t * nb) << 2), sums + <usize>(t * nb) * sb, nb, y + (<usize>(t * rows + r) << 2), yStride, m4, mx);
    }
    for (; t < nTok; t++) {
      const v = rowK(kind, vnni, wr, nb, aq + <usize>t * cols, ad + (<usize>(t * nb) << 2), sums + <usize>(t * nb) * sb, m4, mx);
      store<f32>(y + (<usize>(t * rows + r) << 2), <f32>v);
    }
  }
}

export function matmul_q4_k(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  matmulK(Q4_K, false, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

export function matmul_q5_k(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  matmulK(Q5_K, false, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

export function matmul_q6_k(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  matmulK(Q6_K, false, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

/** matmul_q5_k through chunkVnni (same results; faster where dotU8I8Add is one instruction, see WasmKernelsOptions.u8). Q4_K's is in q4k-x4.ts. */
export function matmul_q5_k_vnni(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, aextra: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  matmulK(Q5_K, true, w, rows, cols, aq, ad, aextra, nTok, y, r0, r1);
}

/**
 * Copies n GGUF Q4_K super-blocks from src to dst in the layout the Q4_K kernels read (see the top of
 * this file): d and dmin as f32, the 8 scales and 8 mins unpacked to a byte each, then the quants.
 * dst must not overlap src.
 */
export function q4_k_pack(src: usize, dst: usize, n: i32): void {
  for (let b = 0; b < n; b++) {
    store<f32>(dst, f16At(src));
    store<f32>(dst, f16At(src + 2), 4);
    store<u64>(dst, kScales(src + 4, false), 8);
    store<u64>(dst, kScales(src + 4, true), 16);
    for (let i: usize = 0; i < 128; i += 16) v128.store(dst + 24 + i, v128.load(src + 16 + i));
    src += 144;
    dst += 152;
  }
}

/** The inverse of q4_k_pack: GGUF Q4_K super-blocks at dst (every field goes back exactly; the 96 scale bits are a bijection). */
export function q4_k_unpack(src: usize, dst: usize, n: i32): void {
  for (let b = 0; b < n; b++) {
    store<u16>(dst, f16Bits(load<f32>(src)));
    store<u16>(dst, f16Bits(load<f32>(src, 4)), 2);
    for (let j: usize = 0; j < 4; j++) {
      const sc = <u32>load<u8>(src + 8 + j), scHi = <u32>load<u8>(src + 12 + j);
      const mn = <u32>load<u8>(src + 16 + j), mnHi = <u32>load<u8>(src + 20 + j);
      store<u8>(dst + 4 + j, <u8>((sc & 63) | ((scHi >> 4) << 6)));
      store<u8>(dst + 8 + j, <u8>((mn & 63) | ((mnHi >> 4) << 6)));
      store<u8>(dst + 12 + j, <u8>((scHi & 15) | ((mnHi & 15) << 4)));
    }
    for (let i: usize = 0; i < 128; i += 16) v128.store(dst + 16 + i, v128.load(src + 24 + i));
    src += 152;
    dst += 144;
  }
}

/**
 * Writes, for n Q8_K activation blocks' 16 i32 bsums at sums, each block's 8 pair sums bsum[2j] +
 * bsum[2j+1] as i16 (16 bytes per block) at out: what Q4_K/Q5_K's mins (one per 32 values) meet. A
 * bsum is at most 16 * 128 in magnitude, so a pair fits i16 exactly.
 */
export function q8k_pairs(sums: usize, n: i32, out: usize): void {
  for (let b = 0; b < n; b++) {
    const p = sums + (<usize>b << 6);
    const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    const lo = i32x4.add(i32x4.shuffle(v0, v1, 0, 2, 4, 6), i32x4.shuffle(v0, v1, 1, 3, 5, 7));
    const hi = i32x4.add(i32x4.shuffle(v2, v3, 0, 2, 4, 6), i32x4.shuffle(v2, v3, 1, 3, 5, 7));
    v128.store(out + (<usize>b << 4), i16x8.narrow_i32x4_s(lo, hi));
  }
}
