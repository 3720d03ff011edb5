// Simple weight quantisers for the K formats. They are not llama.cpp's (which searches scales
// to minimise weighted error); they produce valid encodings with low error, which is all the
// random-weight model generator needs: per-sub-block min/max, then 6-bit (Q4_K/Q5_K) or
// int8 (Q6_K) quantised sub-block scales under one f16 super-scale.
import { QK_K } from "../types.js";
import { F16_TO_F32, f32ToF16Bits } from "./f16.js";
import { packKScales } from "./k-scales.js";

function putF16(dst: Uint8Array, o: number, x: number): number {
  const h = f32ToF16Bits(x);
  dst[o] = h & 0xff;
  dst[o + 1] = h >>> 8;
  return F16_TO_F32[h];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * Quantises one 256-block to `levels` (15 or 31) with eight 32-element sub-blocks, each
 * value ~ d*sc[j]*q - dmin*m[j]. Writes d, dmin and the packed scales at `o`; returns q in `L`.
 */
function quantizeAffineSuperBlock(x: ArrayLike<number>, xb: number, levels: number, dst: Uint8Array, o: number, L: Uint8Array): void {
  const scales = new Float64Array(8);
  const mins = new Float64Array(8);
  for (let j = 0; j < 8; j++) {
    let lo = 0; // the format stores value = d*q - m with m >= 0, so the range must include 0
    let hi = -Infinity;
    for (let l = 0; l < 32; l++) {
      const v = x[xb + 32 * j + l];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    scales[j] = (hi - lo) / levels;
    mins[j] = -lo;
  }
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    maxScale = Math.max(maxScale, scales[j]);
    maxMin = Math.max(maxMin, mins[j]);
  }
  const d = putF16(dst, o, maxScale / 63);
  const dmin = putF16(dst, o + 2, maxMin / 63);
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  for (let j = 0; j < 8; j++) {
    sc[j] = d > 0 ? clamp(Math.round(scales[j] / d), 0, 63) : 0;
    mn[j] = dmin > 0 ? clamp(Math.round(mins[j] / dmin), 0, 63) : 0;
  }
  packKScales(dst, o + 4, sc, mn);
  for (let j = 0; j < 8; j++) {
    const ds = d * sc[j];
    const m = dmin * mn[j];
    for (let l = 0; l < 32; l++) {
      const i = 32 * j + l;
      L[i] = ds > 0 ? clamp(Math.round((x[xb + i] + m) / ds), 0, levels) : 0;
    }
  }
}

export function quantizeQ4_K(x: ArrayLike<number>, nb: number, dst: Uint8Array): void {
  const L = new Uint8Array(QK_K);
  for (let b = 0; b < nb; b++) {
    const o = 144 * b;
    quantizeAffineSuperBlock(x, QK_K * b, 15, dst, o, L);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) dst[o + 16 + 32 * c + l] = L[64 * c + l] | (L[64 * c + 32 + l] << 4);
    }
  }
}

export function quantizeQ5_K(x: ArrayLike<number>, nb: number, dst: Uint8Array): void {
  const L = new Uint8Array(QK_K);
  for (let b = 0; b < nb; b++) {
    const o = 176 * b;
    quantizeAffineSuperBlock(x, QK_K * b, 31, dst, o, L);
    dst.fill(0, o + 16, o + 48);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        const q0 = L[64 * c + l];
        const q1 = L[64 * c + 32 + l];
        dst[o + 48 + 32 * c + l] = (q0 & 0xf) | ((q1 & 0xf) << 4);
        dst[o + 16 + l] |= ((q0 >> 4) << (2 * c)) | ((q1 >> 4) << (2 * c + 1));
      }
    }
  }
}

export function quantizeQ6_K(x: ArrayLike<number>, nb: number, dst: Uint8Array): void {
  const L = new Uint8Array(QK_K);
  const scales = new Float64Array(16);
  for (let b = 0; b < nb; b++) {
    const o = 210 * b;
    const xb = QK_K * b;
    let maxAbsScale = 0;
    for (let j = 0; j < 16; j++) {
      let amax = 0;
      for (let l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[xb + 16 * j + l]));
      scales[j] = amax / 31; // symmetric: q in [-31, 31] of the format's [-32, 31]
      maxAbsScale = Math.max(maxAbsScale, scales[j]);
    }
    const d = putF16(dst, o + 208, maxAbsScale / 127);
    for (let j = 0; j < 16; j++) {
      const sc = d > 0 ? clamp(Math.round(scales[j] / d), -128, 127) : 0;
      dst[o + 192 + j] = sc & 0xff;
      const ds = d * sc;
      for (let l = 0; l < 16; l++) {
        const i = 16 * j + l;
        L[i] = ds !== 0 ? clamp(Math.round(x[xb + i] / ds), -32, 31) + 32 : 32;
      }
    }
    for (let half = 0; half < 2; half++) {
      const ql = o + 64 * half;
      const qh = o + 128 + 32 * half;
      const y = 128 * half;
      for (let l = 0; l < 32; l++) {
        const q1 = L[y + l];
        const q2 = L[y + l + 32];
        const q3 = L[y + l + 64];
        const q4 = L[y + l + 96];
        dst[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        dst[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        dst[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
}
