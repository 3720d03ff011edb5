// K-quant weights (Q4_K, Q5_K, Q6_K) against Q8_K activations, as ggml_vec_dot_q*_K_q8_K:
// every sub-block dot is an exact integer, weighted by its integer scale; the super-block then
// contributes (d_a*d_w) * sum(scale*dot) - (d_a*dmin_w) * sum(min*bsum), products in f32.
import { F16_TO_F32 } from "../../../../gguf/quants/f16.js";
import { alignedBytes } from "./aligned.js";
import { byteDot8, top16 } from "./nibble-dot.js";
import type { PreparedActivations } from "./prepared-activations.js";

const fr = Math.fround;
const imul = Math.imul;

/** Decodes the 12 packed 6-bit scale/min bytes at w[o..] into sc[x..x+8) and mn[x..x+8). */
function unpackScales(w: Uint8Array, o: number, sc: Int32Array, mn: Int32Array, x: number): void {
  for (let j = 0; j < 4; j++) {
    sc[x + j] = w[o + j] & 63;
    mn[x + j] = w[o + j + 4] & 63;
    sc[x + j + 4] = (w[o + j + 8] & 0xf) | ((w[o + j] >> 6) << 4);
    mn[x + j + 4] = (w[o + j + 8] >> 4) | ((w[o + j + 4] >> 6) << 4);
  }
}

export function matmulQ4_K(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const wb = alignedBytes(w, 4);
  const w32 = new Int32Array(wb.buffer, wb.byteOffset, wb.length >> 2);
  const nb = cols >> 8;
  const rowBytes = nb * 144;
  const sc = new Int32Array(32);
  const mn = new Int32Array(32);
  for (let r = r0; r < r1;) {
    // Four rows at a time share each activation load (measured ~1.15x over one row).
    const four = r + 4 <= r1;
    for (let t = 0; t < act.nTok; t++) {
      if (four) dotQ4_Kx4(wb, w32, r * rowBytes, rowBytes, act, t * cols, t * nb, nb, sc, mn, y, t * rows + r);
      else y[t * rows + r] = dotQ4_K(wb, w32, r * rowBytes, act, t * cols, t * nb, nb, sc, mn);
    }
    r += four ? 4 : 1;
  }
}

/** sum(min_j * activation sum of sub-block j) for the scales unpacked at mn[x..x+8). */
function minsDot(mn: Int32Array, x: number, bs: Int32Array, g: number): number {
  let s = 0;
  for (let j = 0; j < 8; j++) s += mn[x + j] * (bs[g + 2 * j] + bs[g + 2 * j + 1]);
  return s;
}

/** One Q4_K row from byte o against one token (quant pairs from p/2, blocks from bi). */
function dotQ4_K(
  wb: Uint8Array, w32: Int32Array, o: number, act: PreparedActivations, p: number, bi: number, nb: number,
  sc: Int32Array, mn: Int32Array,
): number {
  const F16 = F16_TO_F32;
  const pk = act.pairs;
  const M = 0x000f000f;
  let acc = 0;
  for (let b = 0; b < nb; b++) {
    unpackScales(wb, o + 4, sc, mn, 0);
    const sumMins = minsDot(mn, 0, act.sums, 16 * bi);
    let sumi = 0;
    for (let c = 0; c < 4; c++) {
      const q = (o + 16 + 32 * c) >> 2;
      const pl = (p + 64 * c) >> 1; // pairs of the low-nibble sub-block
      const ph = pl + 16; // and of the high-nibble one, 32 values on
      for (let half = 0; half < 8; half += 4) {
        let lo = 0;
        let hi = 0;
        for (let k = half; k < half + 4; k++) {
          const v = w32[q + k];
          lo = (lo + imul(v & M, pk[pl + 2 * k]) + imul((v >> 8) & M, pk[pl + 2 * k + 1])) | 0;
          hi = (hi + imul((v >> 4) & M, pk[ph + 2 * k]) + imul((v >> 12) & M, pk[ph + 2 * k + 1])) | 0;
        }
        sumi += sc[2 * c] * top16(lo) + sc[2 * c + 1] * top16(hi);
      }
    }
    const da = act.d[bi];
    acc += fr(da * F16[wb[o] | (wb[o + 1] << 8)]) * sumi - fr(da * F16[wb[o + 2] | (wb[o + 3] << 8)]) * sumMins;
    o += 144;
    p += 256;
    bi++;
  }
  return acc;
}

/** Four consecutive Q4_K rows (the first at byte o) against one token; writes y[yo..yo+4). */
function dotQ4_Kx4(
  wb: Uint8Array, w32: Int32Array, o: number, rowBytes: number, act: PreparedActivations, p: number, bi: number,
  nb: number, sc: Int32Array, mn: Int32Array, y: Float32Array, yo: number,
): void {
  const F16 = F16_TO_F32;
  const pk = act.pairs;
  const M = 0x000f000f;
  const RW = rowBytes >> 2;
  let acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
  for (let b = 0; b < nb; b++) {
    for (let rr = 0; rr < 4; rr++) unpackScales(wb, o + rr * rowBytes + 4, sc, mn, 8 * rr);
    let si0 = 0, si1 = 0, si2 = 0, si3 = 0;
    for (let c = 0; c < 4; c++) {
      const q = (o + 16 + 32 * c) >> 2;
      const pl = (p + 64 * c) >> 1;
      const ph = pl + 16;
      for (let half = 0; half < 8; half += 4) {
        let l0 = 0, l1 = 0, l2 = 0, l3 = 0, h0 = 0, h1 = 0, h2 = 0, h3 = 0;
        for (let k = half; k < half + 4; k++) {
          const pa = pk[pl + 2 * k], pb = pk[pl + 2 * k + 1], pc = pk[ph + 2 * k], pd = pk[ph + 2 * k + 1];
          let v = w32[q + k];
          l0 = (l0 + imul(v & M, pa) + imul((v >> 8) & M, pb)) | 0;
          h0 = (h0 + imul((v >> 4) & M, pc) + imul((v >> 12) & M, pd)) | 0;
          v = w32[q + k + RW];
          l1 = (l1 + imul(v & M, pa) + imul((v >> 8) & M, pb)) | 0;
          h1 = (h1 + imul((v >> 4) & M, pc) + imul((v >> 12) & M, pd)) | 0;
          v = w32[q + k + 2 * RW];
          l2 = (l2 + imul(v & M, pa) + imul((v >> 8) & M, pb)) | 0;
          h2 = (h2 + imul((v >> 4) & M, pc) + imul((v >> 12) & M, pd)) | 0;
          v = w32[q + k + 3 * RW];
          l3 = (l3 + imul(v & M, pa) + imul((v >> 8) & M, pb)) | 0;
          h3 = (h3 + imul((v >> 4) & M, pc) + imul((v >> 12) & M, pd)) | 0;
        }
        si0 += sc[2 * c] * top16(l0) + sc[2 * c + 1] * top16(h0);
        si1 += sc[8 + 2 * c] * top16(l1) + sc[9 + 2 * c] * top16(h1);
        si2 += sc[16 + 2 * c] * top16(l2) + sc[17 + 2 * c] * top16(h2);
        si3 += sc[24 + 2 * c] * top16(l3) + sc[25 + 2 * c] * top16(h3);
      }
    }
    const da = act.d[bi];
    const g = 16 * bi;
    const o1 = o + rowBytes, o2 = o1 + rowBytes, o3 = o2 + rowBytes;
    acc0 += fr(da * F16[wb[o] | (wb[o + 1] << 8)]) * si0 - fr(da * F16[wb[o + 2] | (wb[o + 3] << 8)]) * minsDot(mn, 0, act.sums, g);
    acc1 += fr(da * F16[wb[o1] | (wb[o1 + 1] << 8)]) * si1 - fr(da * F16[wb[o1 + 2] | (wb[o1 + 3] << 8)]) * minsDot(mn, 8, act.sums, g);
    acc2 += fr(da * F16[wb[o2] | (wb[o2 + 1] << 8)]) * si2 - fr(da * F16[wb[o2 + 2] | (wb[o2 + 3] << 8)]) * minsDot(mn, 16, act.sums, g);
    acc3 += fr(da * F16[wb[o3] | (wb[o3 + 1] << 8)]) * si3 - fr(da * F16[wb[o3 + 2] | (wb[o3 + 3] << 8)]) * minsDot(mn, 24, act.sums, g);
    o += 144;
    p += 256;
    bi++;
  }
  y[yo] = acc0;
  y[yo + 1] = acc1;
  y[yo + 2] = acc2;
  y[yo + 3] = acc3;
}

export function matmulQ5_K(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const F16 = F16_TO_F32;
  const wb = alignedBytes(w, 4);
  const w32 = new Int32Array(wb.buffer, wb.byteOffset, wb.length >> 2);
  const nb = cols >> 8;
  const rowBytes = nb * 176;
  const pk = act.pairs;
  const ad = act.d;
  const bs = act.sums;
  const nTok = act.nTok;
  const sc = new Int32Array(8);
  const mn = new Int32Array(8);
  const L4 = 0x0f0f0f0f;
  const B = 0x01010101;
  for (let r = r0; r < r1; r++) {
    for (let t = 0; t < nTok; t++) {
      let acc = 0;
      let o = r * rowBytes;
      let p = t * cols;
      let bi = t * nb;
      for (let b = 0; b < nb; b++) {
        unpackScales(wb, o + 4, sc, mn, 0);
        const g = 16 * bi;
        let sumMins = 0;
        for (let j = 0; j < 8; j++) sumMins += mn[j] * (bs[g + 2 * j] + bs[g + 2 * j + 1]);
        let sumi = 0;
        const qh = (o + 16) >> 2;
        for (let c = 0; c < 4; c++) {
          const q = (o + 48 + 32 * c) >> 2;
          const pl = (p + 64 * c) >> 1;
          const sh = 2 * c;
          let lo = 0;
          let hi = 0;
          for (let k = 0; k < 8; k += 2) {
            const v0 = w32[q + k], v1 = w32[q + k + 1];
            const h0 = w32[qh + k], h1 = w32[qh + k + 1];
            // 5-bit quants, one per byte: nibble | (bit 2c or 2c+1 of qh) << 4
            lo += byteDot8((v0 & L4) | (((h0 >> sh) & B) << 4), (v1 & L4) | (((h1 >> sh) & B) << 4), pk, pl + 2 * k);
            hi += byteDot8(((v0 >> 4) & L4) | (((h0 >> (sh + 1)) & B) << 4), ((v1 >> 4) & L4) | (((h1 >> (sh + 1)) & B) << 4), pk, pl + 16 + 2 * k);
          }
          sumi += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        const da = ad[bi];
        acc += fr(da * F16[wb[o] | (wb[o + 1] << 8)]) * sumi - fr(da * F16[wb[o + 2] | (wb[o + 3] << 8)]) * sumMins;
        o += 176;
        p += 256;
        bi++;
      }
      y[t * rows + r] = acc;
    }
  }
}

/**
 * Dot of 8 signed 6-bit quants (q - 32, two words of four bytes each) with their activation
 * pairs pk[i..i+4). Four SWAR products of |n| <= 32, |a| <= 127: both fields stay below 2^15.
 */
function dot8q6(qa: number, qb: number, pk: Int32Array, i: number): number {
  const s = (imul((qa & 0xff00ff) - 0x200020, pk[i]) + imul(((qa >> 8) & 0xff00ff) - 0x200020, pk[i + 1])
    + imul((qb & 0xff00ff) - 0x200020, pk[i + 2]) + imul(((qb >> 8) & 0xff00ff) - 0x200020, pk[i + 3])) | 0;
  return (s + 32768) >> 16;
}

export function matmulQ6_K(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const F16 = F16_TO_F32;
  const wb = alignedBytes(w, 2);
  const wi = new Int8Array(wb.buffer, wb.byteOffset, wb.length);
  // Blocks are 210 bytes, so only 2-byte alignment holds; words are built from two u16 reads.
  const w16 = new Uint16Array(wb.buffer, wb.byteOffset, wb.length >> 1);
  const nb = cols >> 8;
  const rowBytes = nb * 210;
  const pk = act.pairs;
  const ad = act.d;
  const nTok = act.nTok;
  const L4 = 0x0f0f0f0f;
  for (let r = r0; r < r1; r++) {
    for (let t = 0; t < nTok; t++) {
      let acc = 0;
      let o = r * rowBytes;
      let p = t * cols;
      let bi = t * nb;
      for (let b = 0; b < nb; b++) {
        let sumi = 0;
        for (let half = 0; half < 2; half++) {
          const ql = (o + 64 * half) >> 1; // u16 index of ql
          const qh = (o + 128 + 32 * half) >> 1;
          const scb = o + 192 + 8 * half;
          const pa = (p + 128 * half) >> 1; // pair index of element 0 of this half
          for (let is = 0; is < 2; is++) {
            let s1 = 0, s2 = 0, s3 = 0, s4 = 0;
            for (let k = 4 * is; k < 4 * is + 4; k += 2) {
              // Words k and k+1 of: ql[0..32) (A), ql[32..64) (B), qh (H).
              const a0 = w16[ql + 2 * k] | (w16[ql + 2 * k + 1] << 16);
              const a1 = w16[ql + 2 * k + 2] | (w16[ql + 2 * k + 3] << 16);
              const b0 = w16[ql + 16 + 2 * k] | (w16[ql + 17 + 2 * k] << 16);
              const b1 = w16[ql + 18 + 2 * k] | (w16[ql + 19 + 2 * k] << 16);
              const h0 = w16[qh + 2 * k] | (w16[qh + 2 * k + 1] << 16);
              const h1 = w16[qh + 2 * k + 2] | (w16[qh + 2 * k + 3] << 16);
              const i = pa + 2 * k;
              s1 += dot8q6((a0 & L4) | ((h0 & 0x03030303) << 4), (a1 & L4) | ((h1 & 0x03030303) << 4), pk, i);
              s2 += dot8q6((b0 & L4) | ((h0 & 0x0c0c0c0c) << 2), (b1 & L4) | ((h1 & 0x0c0c0c0c) << 2), pk, i + 16);
              s3 += dot8q6(((a0 >> 4) & L4) | (h0 & 0x30303030), ((a1 >> 4) & L4) | (h1 & 0x30303030), pk, i + 32);
              s4 += dot8q6(((b0 >> 4) & L4) | ((h0 >> 2) & 0x30303030), ((b1 >> 4) & L4) | ((h1 >> 2) & 0x30303030), pk, i + 48);
            }
            sumi += wi[scb + is] * s1 + wi[scb + is + 2] * s2 + wi[scb + is + 4] * s3 + wi[scb + is + 6] * s4;
          }
        }
        acc += fr(ad[bi] * F16[wb[o + 208] | (wb[o + 209] << 8)]) * sumi;
        o += 210;
        p += 256;
        bi++;
      }
      y[t * rows + r] = acc;
    }
  }
}
