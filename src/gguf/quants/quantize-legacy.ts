// Weight quantisers for the 32-element block formats, following ggml's reference quantisers
// (quantize_row_*_ref), which llama.cpp uses to write model files.
import { writeF16 } from "./f16.js";

const fr = Math.fround;

function absMaxSigned(x: ArrayLike<number>, o: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j];
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/** C's (int)/(int8_t) cast of a float: truncation toward zero. */
function trunc(v: number): number {
  return Math.trunc(v);
}

export function quantizeQ8_0(x: ArrayLike<number>, nb: number, dst: Uint8Array): void {
  for (let b = 0; b < nb; b++) {
    const o = 34 * b;
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeF16(dst, o, d);
    for (let j = 0; j < 32; j++) {
      // roundf: half away from zero
      const v = fr(x[32 * b + j] * id);
      const q = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
      dst[o + 2 + j] = q & 0xff;
    }
  }
}

export function quantizeQ4_0(x: ArrayLike<number>, nb: number, dst: Uint8Array): void {
  for (let b = 0; b < nb; b++) {
    const o = 18 * b;
    const xb = 32 * b;
    const d = fr(absMaxSigned(x, xb, 32) / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeF16(dst, o, d);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, trunc(fr(fr(x[xb + j] * id) + 8.5)));
      const q1 = Math.min(15, trunc(fr(fr(x[xb + 16 + j] * id) + 8.5)));
      dst[o + 2 + j] = q0 | (q1 << 4);
    }
  }
}

function minMax(x: ArrayLike<number>, o: number, n: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = x[o + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

export function quantizeQ4_1(x: ArrayLike<number>, nb: number, dst: Uint8Array): void {
  for (let b = 0; b < nb; b++) {
    const o = 20 * b;
    const xb = 32 * b;
    const [min, max] = minMax(x, xb, 32);
    const d = fr(fr(max - min) / 15);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeF16(dst, o, d);
    writeF16(dst, o + 2, min);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, trunc(fr(fr(fr(x[xb + j] - min) * id) + 0.5)));
      const q1 = Math.min(15, trunc(fr(fr(fr(x[xb + 16 + j] - min) * id) + 0.5)));
      dst[o + 4 + j] = q0 | (q1 << 4);
    }
  }
}

function writeU32(dst: Uint8Array, o: number, v: number): void {
  dst[o] = v & 0xff;
  dst[o + 1] = (v >>> 8) & 0xff;
  dst[o + 2] = (v >>> 16) & 0xff;
  dst[o + 3] = (v >>> 24) & 0xff;
}

export function quantizeQ5_0(x: ArrayLike<number>, nb: number, dst: Uint8Array): void {
  for (let b = 0; b < nb; b++) {
    const o = 22 * b;
    const xb = 32 * b;
    const d = fr(absMaxSigned(x, xb, 32) / -16);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeF16(dst, o, d);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(31, trunc(fr(fr(x[xb + j] * id) + 16.5)));
      const q1 = Math.min(31, trunc(fr(fr(x[xb + 16 + j] * id) + 16.5)));
      dst[o + 6 + j] = (q0 & 0xf) | ((q1 & 0xf) << 4);
      qh |= ((q0 >> 4) << j) | ((q1 >> 4) << (j + 16));
    }
    writeU32(dst, o + 2, qh);
  }
}

export function quantizeQ5_1(x: ArrayLike<number>, nb: number, dst: Uint8Array): void {
  for (let b = 0; b < nb; b++) {
    const o = 24 * b;
    const xb = 32 * b;
    const [min, max] = minMax(x, xb, 32);
    const d = fr(fr(max - min) / 31);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeF16(dst, o, d);
    writeF16(dst, o + 2, min);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(31, trunc(fr(fr(fr(x[xb + j] - min) * id) + 0.5)));
      const q1 = Math.min(31, trunc(fr(fr(fr(x[xb + 16 + j] - min) * id) + 0.5)));
      dst[o + 8 + j] = (q0 & 0xf) | ((q1 & 0xf) << 4);
      qh |= ((q0 >> 4) << j) | ((q1 >> 4) << (j + 16));
    }
    writeU32(dst, o + 4, qh);
  }
}
