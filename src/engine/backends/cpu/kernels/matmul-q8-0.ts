// Weights whose vec_dot_type is Q8_0 (Q8_0, Q4_0, Q5_0). Per 32-block: an exact integer dot,
// times the f32 product of the two f16 scales (ggml_vec_dot_q*_q8_0), accumulated in f64.
// Q4_0/Q5_0 quants carry an offset (-8/-16); it is folded out as offset * sum(activation quants),
// which is the same integer.
import { F16_TO_F32 } from "../../../../gguf/quants/f16.js";
import { alignedBytes } from "./aligned.js";
import { nibbleDot32, q5Dot32, top16 } from "./nibble-dot.js";
import type { PreparedActivations } from "./prepared-activations.js";

const fr = Math.fround;
const imul = Math.imul;

export function matmulQ8_0(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const wi = new Int8Array(w.buffer, w.byteOffset, w.length);
  const nb = cols >> 5;
  const rowBytes = nb * 34;
  for (let r = r0; r < r1;) {
    // Four rows at a time share each activation load (measured ~1.5x over one row at a time).
    const four = r + 4 <= r1;
    for (let t = 0; t < act.nTok; t++) {
      if (four) dotQ8_0x4(w, wi, r * rowBytes, rowBytes, act.qs, act.d, t * cols, t * nb, nb, y, t * rows + r);
      else y[t * rows + r] = dotQ8_0(w, wi, r * rowBytes, act.qs, act.d, t * cols, t * nb, nb);
    }
    r += four ? 4 : 1;
  }
}

/** One Q8_0 row (bytes from o) against one token's quants a[p..] and scales ad[bi..]. */
function dotQ8_0(w: Uint8Array, wi: Int8Array, o: number, a: Int8Array, ad: Float32Array, p: number, bi: number, nb: number): number {
  const F16 = F16_TO_F32;
  let acc = 0;
  for (let b = 0; b < nb; b++) {
    const q = o + 2;
    // Four independent int32 chains; |each| <= 8 * 128 * 127, so no overflow.
    const s0 = (imul(wi[q], a[p]) + imul(wi[q + 1], a[p + 1]) + imul(wi[q + 2], a[p + 2]) + imul(wi[q + 3], a[p + 3])
      + imul(wi[q + 4], a[p + 4]) + imul(wi[q + 5], a[p + 5]) + imul(wi[q + 6], a[p + 6]) + imul(wi[q + 7], a[p + 7])) | 0;
    const s1 = (imul(wi[q + 8], a[p + 8]) + imul(wi[q + 9], a[p + 9]) + imul(wi[q + 10], a[p + 10]) + imul(wi[q + 11], a[p + 11])
      + imul(wi[q + 12], a[p + 12]) + imul(wi[q + 13], a[p + 13]) + imul(wi[q + 14], a[p + 14]) + imul(wi[q + 15], a[p + 15])) | 0;
    const s2 = (imul(wi[q + 16], a[p + 16]) + imul(wi[q + 17], a[p + 17]) + imul(wi[q + 18], a[p + 18]) + imul(wi[q + 19], a[p + 19])
      + imul(wi[q + 20], a[p + 20]) + imul(wi[q + 21], a[p + 21]) + imul(wi[q + 22], a[p + 22]) + imul(wi[q + 23], a[p + 23])) | 0;
    const s3 = (imul(wi[q + 24], a[p + 24]) + imul(wi[q + 25], a[p + 25]) + imul(wi[q + 26], a[p + 26]) + imul(wi[q + 27], a[p + 27])
      + imul(wi[q + 28], a[p + 28]) + imul(wi[q + 29], a[p + 29]) + imul(wi[q + 30], a[p + 30]) + imul(wi[q + 31], a[p + 31])) | 0;
    acc += fr(F16[w[o] | (w[o + 1] << 8)] * ad[bi]) * ((s0 + s1 + s2 + s3) | 0);
    o += 34;
    p += 32;
    bi++;
  }
  return acc;
}

/** Four consecutive Q8_0 rows (the first at byte o) against one token; writes y[yo..yo+4). */
function dotQ8_0x4(
  w: Uint8Array, wi: Int8Array, o: number, rowBytes: number, a: Int8Array, ad: Float32Array,
  p: number, bi: number, nb: number, y: Float32Array, yo: number,
): void {
  const F16 = F16_TO_F32;
  let acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
  for (let b = 0; b < nb; b++) {
    const o1 = o + rowBytes, o2 = o1 + rowBytes, o3 = o2 + rowBytes;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let j = 0; j < 32; j += 4) {
      const q0 = o + 2 + j, q1 = o1 + 2 + j, q2 = o2 + 2 + j, q3 = o3 + 2 + j, pj = p + j;
      const a0 = a[pj], a1 = a[pj + 1], a2 = a[pj + 2], a3 = a[pj + 3];
      s0 = (s0 + imul(wi[q0], a0) + imul(wi[q0 + 1], a1) + imul(wi[q0 + 2], a2) + imul(wi[q0 + 3], a3)) | 0;
      s1 = (s1 + imul(wi[q1], a0) + imul(wi[q1 + 1], a1) + imul(wi[q1 + 2], a2) + imul(wi[q1 + 3], a3)) | 0;
      s2 = (s2 + imul(wi[q2], a0) + imul(wi[q2 + 1], a1) + imul(wi[q2 + 2], a2) + imul(wi[q2 + 3], a3)) | 0;
      s3 = (s3 + imul(wi[q3], a0) + imul(wi[q3 + 1], a1) + imul(wi[q3 + 2], a2) + imul(wi[q3 + 3], a3)) | 0;
    }
    const da = ad[bi];
    acc0 += fr(F16[w[o] | (w[o + 1] << 8)] * da) * s0;
    acc1 += fr(F16[w[o1] | (w[o1 + 1] << 8)] * da) * s1;
    acc2 += fr(F16[w[o2] | (w[o2 + 1] << 8)] * da) * s2;
    acc3 += fr(F16[w[o3] | (w[o3 + 1] << 8)] * da) * s3;
    o += 34;
    p += 32;
    bi++;
  }
  y[yo] = acc0;
  y[yo + 1] = acc1;
  y[yo + 2] = acc2;
  y[yo + 3] = acc3;
}

export function matmulQ4_0(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const wb = alignedBytes(w, 2);
  // 18-byte blocks keep only 2-byte alignment: each nibble word is built from two u16 reads.
  const w16 = new Uint16Array(wb.buffer, wb.byteOffset, wb.length >> 1);
  const nb = cols >> 5;
  const rowBytes = nb * 18;
  for (let r = r0; r < r1;) {
    // Four rows at a time share each activation load.
    const four = r + 4 <= r1;
    for (let t = 0; t < act.nTok; t++) {
      if (four) dotQ4_0x4(w16, r * rowBytes, rowBytes, act, (t * cols) >> 1, t * nb, nb, y, t * rows + r);
      else y[t * rows + r] = dotQ4_0(w16, r * rowBytes, act, (t * cols) >> 1, t * nb, nb);
    }
    r += four ? 4 : 1;
  }
}

/** One Q4_0 row from byte o against one token (pairs from pl, blocks from bi). */
function dotQ4_0(w16: Uint16Array, o: number, act: PreparedActivations, pl: number, bi: number, nb: number): number {
  const F16 = F16_TO_F32;
  const pk = act.pairs;
  let acc = 0;
  for (let b = 0; b < nb; b++) {
    const u = o >> 1;
    const sumi = nibbleDot32(
      w16[u + 1] | (w16[u + 2] << 16), w16[u + 3] | (w16[u + 4] << 16),
      w16[u + 5] | (w16[u + 6] << 16), w16[u + 7] | (w16[u + 8] << 16), pk, pl) - 8 * act.sums[bi];
    acc += fr(F16[w16[u]] * act.d[bi]) * sumi;
    o += 18;
    pl += 16;
    bi++;
  }
  return acc;
}

/** Four consecutive Q4_0 rows (the first at byte o) against one token; writes y[yo..yo+4). */
function dotQ4_0x4(
  w16: Uint16Array, o: number, rowBytes: number, act: PreparedActivations, pl: number, bi: number, nb: number,
  y: Float32Array, yo: number,
): void {
  const F16 = F16_TO_F32;
  const pk = act.pairs;
  const M = 0x000f000f;
  const RH = rowBytes >> 1;
  let acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
  for (let b = 0; b < nb; b++) {
    const u = o >> 1;
    let l0 = 0, l1 = 0, l2 = 0, l3 = 0, h0 = 0, h1 = 0, h2 = 0, h3 = 0;
    for (let k = 0; k < 4; k++) {
      const pa = pk[pl + 2 * k], pb = pk[pl + 2 * k + 1], pc = pk[pl + 8 + 2 * k], pd = pk[pl + 9 + 2 * k];
      const q = u + 1 + 2 * k;
      let v = w16[q] | (w16[q + 1] << 16);
      l0 = (l0 + imul(v & M, pa) + imul((v >> 8) & M, pb)) | 0;
      h0 = (h0 + imul((v >> 4) & M, pc) + imul((v >> 12) & M, pd)) | 0;
      v = w16[q + RH] | (w16[q + RH + 1] << 16);
      l1 = (l1 + imul(v & M, pa) + imul((v >> 8) & M, pb)) | 0;
      h1 = (h1 + imul((v >> 4) & M, pc) + imul((v >> 12) & M, pd)) | 0;
      v = w16[q + 2 * RH] | (w16[q + 2 * RH + 1] << 16);
      l2 = (l2 + imul(v & M, pa) + imul((v >> 8) & M, pb)) | 0;
      h2 = (h2 + imul((v >> 4) & M, pc) + imul((v >> 12) & M, pd)) | 0;
      v = w16[q + 3 * RH] | (w16[q + 3 * RH + 1] << 16);
      l3 = (l3 + imul(v & M, pa) + imul((v >> 8) & M, pb)) | 0;
      h3 = (h3 + imul((v >> 4) & M, pc) + imul((v >> 12) & M, pd)) | 0;
    }
    const da = act.d[bi];
    const off = 8 * act.sums[bi];
    acc0 += fr(F16[w16[u]] * da) * (top16(l0) + top16(h0) - off);
    acc1 += fr(F16[w16[u + RH]] * da) * (top16(l1) + top16(h1) - off);
    acc2 += fr(F16[w16[u + 2 * RH]] * da) * (top16(l2) + top16(h2) - off);
    acc3 += fr(F16[w16[u + 3 * RH]] * da) * (top16(l3) + top16(h3) - off);
    o += 18;
    pl += 16;
    bi++;
  }
  y[yo] = acc0;
  y[yo + 1] = acc1;
  y[yo + 2] = acc2;
  y[yo + 3] = acc3;
}

export function matmulQ5_0(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const F16 = F16_TO_F32;
  const wb = alignedBytes(w, 2);
  const w16 = new Uint16Array(wb.buffer, wb.byteOffset, wb.length >> 1);
  const nb = cols >> 5;
  const rowBytes = nb * 22;
  const pk = act.pairs;
  const ad = act.d;
  const asum = act.sums;
  const nTok = act.nTok;
  for (let r = r0; r < r1; r++) {
    for (let t = 0; t < nTok; t++) {
      let acc = 0;
      let o = r * rowBytes;
      let pl = (t * cols) >> 1;
      let bi = t * nb;
      for (let b = 0; b < nb; b++) {
        const u = o >> 1;
        const dw = F16[w16[u]];
        const qh = w16[u + 1] | (w16[u + 2] << 16);
        const sumi = q5Dot32(
          w16[u + 3] | (w16[u + 4] << 16), w16[u + 5] | (w16[u + 6] << 16),
          w16[u + 7] | (w16[u + 8] << 16), w16[u + 9] | (w16[u + 10] << 16), qh, pk, pl) - 16 * asum[bi];
        acc += fr(dw * ad[bi]) * sumi;
        o += 22;
        pl += 16;
        bi++;
      }
      y[t * rows + r] = acc;
    }
  }
}
