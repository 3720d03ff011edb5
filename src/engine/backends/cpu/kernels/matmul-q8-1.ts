// Weights whose vec_dot_type is Q8_1 (Q4_1, Q5_1): value = d*q + m, so per block
// dot = (d_w*d_a) * sum(q_w*q_a) + m_w * s_a, with s_a = f16(d_a*sum(q_a)) as ggml stores it.
import { F16_TO_F32 } from "../../../../gguf/quants/f16.js";
import { alignedBytes } from "./aligned.js";
import { nibbleDot32, q5Dot32 } from "./nibble-dot.js";
import type { PreparedActivations } from "./prepared-activations.js";

const fr = Math.fround;

export function matmulQ4_1(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const F16 = F16_TO_F32;
  const wb = alignedBytes(w, 4);
  const w32 = new Int32Array(wb.buffer, wb.byteOffset, wb.length >> 2);
  const nb = cols >> 5;
  const rowBytes = nb * 20;
  const pk = act.pairs;
  const ad = act.d;
  const as = act.s;
  const nTok = act.nTok;
  for (let r = r0; r < r1; r++) {
    for (let t = 0; t < nTok; t++) {
      let acc = 0;
      let o = r * rowBytes;
      let pl = (t * cols) >> 1;
      let bi = t * nb;
      for (let b = 0; b < nb; b++) {
        const dw = F16[wb[o] | (wb[o + 1] << 8)];
        const mw = F16[wb[o + 2] | (wb[o + 3] << 8)];
        const q = (o >> 2) + 1;
        const sumi = nibbleDot32(w32[q], w32[q + 1], w32[q + 2], w32[q + 3], pk, pl);
        acc += fr(dw * ad[bi]) * sumi + fr(mw * as[bi]);
        o += 20;
        pl += 16;
        bi++;
      }
      y[t * rows + r] = acc;
    }
  }
}

export function matmulQ5_1(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const F16 = F16_TO_F32;
  const wb = alignedBytes(w, 4);
  const w32 = new Int32Array(wb.buffer, wb.byteOffset, wb.length >> 2);
  const nb = cols >> 5;
  const rowBytes = nb * 24;
  const pk = act.pairs;
  const ad = act.d;
  const as = act.s;
  const nTok = act.nTok;
  for (let r = r0; r < r1; r++) {
    for (let t = 0; t < nTok; t++) {
      let acc = 0;
      let o = r * rowBytes;
      let pl = (t * cols) >> 1;
      let bi = t * nb;
      for (let b = 0; b < nb; b++) {
        const dw = F16[wb[o] | (wb[o + 1] << 8)];
        const mw = F16[wb[o + 2] | (wb[o + 3] << 8)];
        const q = o >> 2;
        const sumi = q5Dot32(w32[q + 2], w32[q + 3], w32[q + 4], w32[q + 5], w32[q + 1], pk, pl);
        acc += fr(dw * ad[bi]) * sumi + fr(mw * as[bi]);
        o += 24;
        pl += 16;
        bi++;
      }
      y[t * rows + r] = acc;
    }
  }
}
