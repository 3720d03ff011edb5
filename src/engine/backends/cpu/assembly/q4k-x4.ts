// Q4_K for the u8 kernels (WasmKernelsOptions.u8), in four-row groups: the layout llama.cpp's
// repacked Q4_K kernels also use, here in 128-bit form. Each i32 lane of a vector belongs to one row
// of the group, so one unsigned-by-signed dot instruction (dotU8I8Add: vpdpbusd where V8 finds
// AVX-VNNI) multiplies four values of each of four rows by the same four activation bytes, broadcast;
// a sub-block's scale then meets its sums in one i32 multiply for the four rows, and the super-block's
// float part is worked out for four rows at once, without reducing lanes.
//
// One group's super-block, 608 bytes (four rows' 152 of q4_k_pack):
//   0: d of rows 0-3 (f32)       16: dmin of rows 0-3 (f32)
//  32: sub-block j's 6-bit scale for rows 0-3, a byte each, at 32 + 4j
//  64: mins for sub-blocks 2k and 2k+1 at 64 + 8k: rows 0-3, each [min 2k, min 2k+1]
//  96: quants: sub-block j, quarter h (values 8h..8h+7) at 96 + 64j + 16h: row r's four bytes at
//      +4r, byte k holding value 8h+k in its low nibble and value 8h+4+k in its high nibble.
// Rows past the last whole group stay in q4_k_pack's layout, after the groups.
//
// Every integer sum and every float step equals the other Q4_K kernels' (fin45's order per row), so
// the results are the same to the bit.
import { dotU8I8Add, f16At, f16Bits } from "./common";
import { fin45Pair, kScales, rowKVnni, upper } from "./k-quants";

/** Bytes of a four-row group's super-block. */
// @ts-ignore: decorator
@inline const GROUP_BLOCK: usize = 608;

/** Packs `groups` groups of four GGUF Q4_K rows (nb super-blocks each, rows back to back at src) into dst. */
export function q4_k_pack_x4(src: usize, dst: usize, groups: i32, nb: i32): void {
  const rowBytes = <usize>nb * 144;
  for (let g = 0; g < groups; g++) {
    const rows = src + <usize>g * 4 * rowBytes;
    for (let b = 0; b < nb; b++) {
      const o = dst + (<usize>(g * nb + b)) * GROUP_BLOCK;
      for (let r: usize = 0; r < 4; r++) {
        const p = rows + r * rowBytes + <usize>b * 144;
        store<f32>(o + 4 * r, f16At(p));
        store<f32>(o + 16 + 4 * r, f16At(p + 2));
        const sc = kScales(p + 4, false), mn = kScales(p + 4, true);
        for (let j: usize = 0; j < 8; j++) {
          store<u8>(o + 32 + 4 * j + r, <u8>(sc >> (8 * j)));
          store<u8>(o + 64 + 8 * (j >> 1) + 2 * r + (j & 1), <u8>(mn >> (8 * j)));
          // Sub-block j's 32 quants as bytes, then quarter h's four bytes: values 8h..8h+3 low, 8h+4..8h+7 high.
          const x0 = v128.load(p + 16 + 32 * (j >> 1)), x1 = v128.load(p + 32 + 32 * (j >> 1));
          const m = i8x16.splat(15);
          const n0 = j & 1 ? v128.and(i16x8.shr_u(x0, 4), m) : v128.and(x0, m);
          const n1 = j & 1 ? v128.and(i16x8.shr_u(x1, 4), m) : v128.and(x1, m);
          const low = i8x16.shuffle(n0, n1, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
          const high = i8x16.shuffle(n0, n1, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
          const packed = v128.or(low, i16x8.shl(high, 4));
          const q = o + 96 + 64 * j + 4 * r;
          v128.store32_lane(q, packed, 0);
          v128.store32_lane(q + 16, packed, 1);
          v128.store32_lane(q + 32, packed, 2);
          v128.store32_lane(q + 48, packed, 3);
        }
      }
    }
  }
}

/** The inverse of q4_k_pack_x4: `groups` groups (nb super-blocks each) at src back to GGUF rows at dst. */
export function q4_k_unpack_x4(src: usize, dst: usize, groups: i32, nb: i32): void {
  const rowBytes = <usize>nb * 144;
  for (let g = 0; g < groups; g++) {
    const rows = dst + <usize>g * 4 * rowBytes;
    for (let b = 0; b < nb; b++) {
      const o = src + (<usize>(g * nb + b)) * GROUP_BLOCK;
      for (let r: usize = 0; r < 4; r++) {
        const p = rows + r * rowBytes + <usize>b * 144;
        store<u16>(p, f16Bits(load<f32>(o + 4 * r)));
        store<u16>(p + 2, f16Bits(load<f32>(o + 16 + 4 * r)));
        for (let j: usize = 0; j < 4; j++) {
          const sc = <u32>load<u8>(o + 32 + 4 * j + r), scHi = <u32>load<u8>(o + 32 + 4 * (j + 4) + r);
          const mn = <u32>load<u8>(o + 64 + 8 * (j >> 1) + 2 * r + (j & 1)), mnHi = <u32>load<u8>(o + 64 + 8 * ((j + 4) >> 1) + 2 * r + (j & 1));
          store<u8>(p + 4 + j, <u8>((sc & 63) | ((scHi >> 4) << 6)));
          store<u8>(p + 8 + j, <u8>((mn & 63) | ((mnHi >> 4) << 6)));
          store<u8>(p + 12 + j, <u8>((scHi & 15) | ((mnHi & 15) << 4)));
        }
        for (let j: usize = 0; j < 8; j++) {
          for (let h: usize = 0; h < 4; h++) {
            for (let k: usize = 0; k < 4; k++) {
              const byte = <u32>load<u8>(o + 96 + 64 * j + 16 * h + 4 * r + k);
              for (let half: usize = 0; half < 2; half++) {
                const e: usize = 8 * h + 4 * half + k;
                const q = half ? byte >> 4 : byte & 15;
                const at = p + 16 + 32 * (j >> 1) + e;
                store<u8>(at, <u8>(j & 1 ? (<u32>load<u8>(at) & 15) | (q << 4) : (<u32>load<u8>(at) & 0xf0) | q));
              }
            }
          }
        }
      }
    }
  }
}

/** Quarter h's two dot steps of one token into lo and hi: the quant vector v (16 bytes at q + 16h) against activations at a + 8h. */
// @ts-ignore: decorator
@inline function quarterLo(v: v128, a: usize, h: usize, m4: v128, acc: v128): v128 {
  return dotU8I8Add(v128.and(v, m4), v128.load32_splat(a + 8 * h), acc);
}

// @ts-ignore: decorator
@inline function quarterHi(v: v128, a: usize, h: usize, m4: v128, acc: v128): v128 {
  return dotU8I8Add(v128.and(i16x8.shr_u(v, 4), m4), v128.load32_splat(a + 8 * h + 4), acc);
}

/**
 * The scaled quant sums of the sub-block whose quants are at q (scales at sc) against its 32
 * activations at a: lanes = rows. Written out in full, with constant offsets, so V8 folds every
 * address into its instruction.
 */
// @ts-ignore: decorator
@inline function subBlock(q: usize, sc: usize, a: usize, m4: v128): v128 {
  // Two chains (low and high nibbles), so each waits on half as many dot instructions.
  const z = i32x4.splat(0);
  const v0 = v128.load(q), v1 = v128.load(q, 16), v2 = v128.load(q, 32), v3 = v128.load(q, 48);
  const lo = quarterLo(v3, a, 3, m4, quarterLo(v2, a, 2, m4, quarterLo(v1, a, 1, m4, quarterLo(v0, a, 0, m4, z))));
  const hi = quarterHi(v3, a, 3, m4, quarterHi(v2, a, 2, m4, quarterHi(v1, a, 1, m4, quarterHi(v0, a, 0, m4, z))));
  // A lane holds 32 products of at most 15 * 127; times a scale below 64 it stays far inside i32.
  return i32x4.mul(i32x4.add(lo, hi), i32x4.extend_low_i16x8_u(v128.load8x8_u(sc)));
}

/** The four rows' min sums of the group super-block at g against one token's pair sums at pairs (q8k_pairs). */
// @ts-ignore: decorator
@inline function groupMins(g: usize, pairs: usize): v128 {
  const p = v128.load(pairs);
  let m = i32x4.dot_i16x8_s(v128.load8x8_u(g + 64), i32x4.shuffle(p, p, 0, 0, 0, 0));
  m = i32x4.add(m, i32x4.dot_i16x8_s(v128.load8x8_u(g + 72), i32x4.shuffle(p, p, 1, 1, 1, 1)));
  m = i32x4.add(m, i32x4.dot_i16x8_s(v128.load8x8_u(g + 80), i32x4.shuffle(p, p, 2, 2, 2, 2)));
  return i32x4.add(m, i32x4.dot_i16x8_s(v128.load8x8_u(g + 88), i32x4.shuffle(p, p, 3, 3, 3, 3)));
}

/** Stores the group's four row sums (rows 0, 1 in y01, rows 2, 3 in y23) at y, rows row0.. stepping 4 bytes, only those in [r0, r1). */
// @ts-ignore: decorator
@inline function storeRows(y: usize, row0: i32, r0: i32, r1: i32, y01: v128, y23: v128): void {
  if (row0 >= r0 && row0 + 4 <= r1) {
    store<f32>(y, <f32>f64x2.extract_lane(y01, 0));
    store<f32>(y, <f32>f64x2.extract_lane(y01, 1), 4);
    store<f32>(y, <f32>f64x2.extract_lane(y23, 0), 8);
    store<f32>(y, <f32>f64x2.extract_lane(y23, 1), 12);
    return;
  }
  if (row0 >= r0 && row0 < r1) store<f32>(y, <f32>f64x2.extract_lane(y01, 0));
  if (row0 + 1 >= r0 && row0 + 1 < r1) store<f32>(y, <f32>f64x2.extract_lane(y01, 1), 4);
  if (row0 + 2 >= r0 && row0 + 2 < r1) store<f32>(y, <f32>f64x2.extract_lane(y23, 0), 8);
  if (row0 + 3 >= r0 && row0 + 3 < r1) store<f32>(y, <f32>f64x2.extract_lane(y23, 1), 12);
}

/** The scaled quant sums of the group super-block at g against 256 activations at a: lanes = rows. */
// @ts-ignore: decorator
@inline function blockSums(g: usize, a: usize, m4: v128): v128 {
  let sumi = i32x4.splat(0);
  let q = g + 96, sc = g + 32;
  for (let j = 0; j < 8; j++) {
    sumi = i32x4.add(sumi, subBlock(q, sc, a, m4));
    q += 64;
    sc += 4;
    a += 32;
  }
  return sumi;
}

/** One group (super-blocks from g) against one token: writes the group's rows of [r0, r1) at y (row row0 first). */
// @ts-ignore: decorator
@inline function groupTok1(g: usize, nb: i32, a: usize, d: usize, s: usize, m4: v128, y: usize, row0: i32, r0: i32, r1: i32): void {
  let y01 = f64x2.splat(0), y23 = y01;
  for (let b = 0; b < nb; b++) {
    const sumi = blockSums(g, a, m4), mins = groupMins(g, s);
    const da = f32x4.splat(load<f32>(d));
    const dd = f32x4.mul(v128.load(g), da), dm = f32x4.mul(v128.load(g, 16), da);
    y01 = f64x2.add(y01, fin45Pair(sumi, mins, dd, dm));
    y23 = f64x2.add(y23, fin45Pair(upper(sumi), upper(mins), upper(dd), upper(dm)));
    g += GROUP_BLOCK;
    a += 256;
    d += 4;
    s += 16;
  }
  storeRows(y, row0, r0, r1, y01, y23);
}

/**
 * One group against four tokens (quants from a, `cols` apart; scales from d and pair sums from s,
 * tb and ts apart): each quant vector is unpacked once for the four. Writes the rows of [r0, r1) of
 * each token's output, yStride apart.
 */
// @ts-ignore: decorator
@inline function groupTok4(g: usize, nb: i32, a: usize, cols: usize, d: usize, tb: usize, s: usize, ts: usize, m4: v128, y: usize, yStride: usize, row0: i32, r0: i32, r1: i32): void {
  let y0 = f64x2.splat(0), y1 = y0, y2 = y0, y3 = y0, y4 = y0, y5 = y0, y6 = y0, y7 = y0;
  for (let b = 0; b < nb; b++) {
    let s0 = i32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    let q = g + 96, scales = g + 32, aj = a;
    for (let j = 0; j < 8; j++) {
      let t0 = i32x4.splat(0), t1 = t0, t2 = t0, t3 = t0;
      for (let h: usize = 0; h < 4; h++) {
        const v = v128.load(q + 16 * h);
        const lo = v128.and(v, m4), hi = v128.and(i16x8.shr_u(v, 4), m4);
        const at = aj + 8 * h;
        t0 = dotU8I8Add(hi, v128.load32_splat(at + 4), dotU8I8Add(lo, v128.load32_splat(at), t0));
        t1 = dotU8I8Add(hi, v128.load32_splat(at + cols + 4), dotU8I8Add(lo, v128.load32_splat(at + cols), t1));
        t2 = dotU8I8Add(hi, v128.load32_splat(at + 2 * cols + 4), dotU8I8Add(lo, v128.load32_splat(at + 2 * cols), t2));
        t3 = dotU8I8Add(hi, v128.load32_splat(at + 3 * cols + 4), dotU8I8Add(lo, v128.load32_splat(at + 3 * cols), t3));
      }
      const sc = i32x4.extend_low_i16x8_u(v128.load8x8_u(scales));
      q += 64;
      scales += 4;
      aj += 32;
      s0 = i32x4.add(s0, i32x4.mul(t0, sc));
      s1 = i32x4.add(s1, i32x4.mul(t1, sc));
      s2 = i32x4.add(s2, i32x4.mul(t2, sc));
      s3 = i32x4.add(s3, i32x4.mul(t3, sc));
    }
    const wd = v128.load(g), wm = v128.load(g, 16);
    let da = f32x4.splat(load<f32>(d)), mins = groupMins(g, s);
    let dd = f32x4.mul(wd, da);
    let dm = f32x4.mul(wm, da);
    y0 = f64x2.add(y0, fin45Pair(s0, mins, dd, dm));
    y1 = f64x2.add(y1, fin45Pair(upper(s0), upper(mins), upper(dd), upper(dm)));
    da = f32x4.splat(load<f32>(d + tb));
    mins = groupMins(g, s + ts);
    dd = f32x4.mul(wd, da);
    dm = f32x4.mul(wm, da);
    y2 = f64x2.add(y2, fin45Pair(s1, mins, dd, dm));
    y3 = f64x2.add(y3, fin45Pair(upper(s1), upper(mins), upper(dd), upper(dm)));
    da = f32x4.splat(load<f32>(d + 2 * tb));
    mins = groupMins(g, s + 2 * ts);
    dd = f32x4.mul(wd, da);
    dm = f32x4.mul(wm, da);
    y4 = f64x2.add(y4, fin45Pair(s2, mins, dd, dm));
    y5 = f64x2.add(y5, fin45Pair(upper(s2), upper(mins), upper(dd), upper(dm)));
    da = f32x4.splat(load<f32>(d + 3 * tb));
    mins = groupMins(g, s + 3 * ts);
    dd = f32x4.mul(wd, da);
    dm = f32x4.mul(wm, da);
    y6 = f64x2.add(y6, fin45Pair(s3, mins, dd, dm));
    y7 = f64x2.add(y7, fin45Pair(upper(s3), upper(mins), upper(dd), upper(dm)));
    g += GROUP_BLOCK;
    a += 256;
    d += 4;
    s += 16;
  }
  storeRows(y, row0, r0, r1, y0, y1);
  storeRows(y + yStride, row0, r0, r1, y2, y3);
  storeRows(y + 2 * yStride, row0, r0, r1, y4, y5);
  storeRows(y + 3 * yStride, row0, r0, r1, y6, y7);
}

/**
 * The u8 kernels' Q4_K matmul over weights in four-row groups (the layout above, rows & ~3 rows in
 * groups, the rest after them as q4_k_pack leaves them): arguments as matmul_q4_k's. A range [r0, r1)
 * that cuts a group computes the whole group and writes only its own rows.
 */
export function matmul_q4_k_x4(w: usize, rows: i32, cols: i32, aq: usize, ad: usize, bs: usize, nTok: i32, y: usize, r0: i32, r1: i32): void {
  const nb = cols >> 8;
  const m4 = i8x16.splat(<i8>(0x0f | (rows >> 31)));
  const rows4 = rows & ~3;
  const groupBytes = <usize>nb * GROUP_BLOCK;
  // The pair sums follow all nTok tokens' i32 bsums (see k-quants.ts sumBytes).
  const sums = bs + (<usize>(nTok * nb) << 6);
  const tb = <usize>nb << 2, ts = <usize>nb << 4;
  const yStride = <usize>rows << 2;
  const end = r1 < rows4 ? r1 : rows4;
  for (let row0 = r0 & ~3; row0 < end; row0 += 4) {
    const g = w + <usize>(row0 >> 2) * groupBytes;
    let t = 0;
    for (; t + 4 <= nTok; t += 4) {
      groupTok4(g, nb, aq + <usize>t * cols, cols, ad + <usize>t * tb, tb, sums + <usize>t * ts, ts, m4, y + <usize>t * yStride + (<usize>row0 << 2), yStride, row0, r0, r1);
    }
    for (; t < nTok; t++) groupTok1(g, nb, aq + <usize>t * cols, ad + <usize>t * tb, sums + <usize>t * ts, m4, y + <usize>t * yStride + (<usize>row0 << 2), row0, r0, r1);
  }
  // Rows past the groups, in q4_k_pack's layout.
  const tail = w + <usize>(rows4 >> 2) * groupBytes;
  for (let r = r0 > rows4 ? r0 : rows4; r < r1; r++) {
    for (let t = 0; t < nTok; t++) {
      const v = rowKVnni(tail + <usize>(r - rows4) * nb * 152, nb, aq + <usize>t * cols, ad + <usize>t * tb, sums + <usize>t * ts, m4);
      store<f32>(y + <usize>t * yStride + (<usize>r << 2), <f32>v);
    }
  }
}
