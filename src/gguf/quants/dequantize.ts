// Block-format -> f32 conversion for every type Tessera reads (layouts: ggml-common.h).
import { GgmlType, QK_K, bytesFor, typeLayout } from "../types.js";
import { BF16_TO_F32 } from "./bf16.js";
import { QuantShapeError, UnsupportedQuantTypeError } from "./errors.js";
import { F16_TO_F32 } from "./f16.js";
import { kMin, kScale } from "./k-scales.js";

/**
 * Dequantises `n` values of `type` from `src` (starting at src[0]) into out[outOffset..].
 * `src` may sit at any byte offset of its buffer.
 */
export function dequantizeRow(type: GgmlType, src: Uint8Array, n: number, out: Float32Array, outOffset = 0): void {
  const need = bytesFor(type, n);
  if (src.length < need) throw new QuantShapeError(`${typeLayout(type).name} row of ${n} needs ${need} bytes, got ${src.length}`);
  if (out.length < outOffset + n) throw new QuantShapeError(`output holds ${out.length - outOffset} values, need ${n}`);
  const nb = n / typeLayout(type).blockSize;
  switch (type) {
    case GgmlType.F32: {
      if (src.byteOffset % 4 === 0) {
        out.set(new Float32Array(src.buffer, src.byteOffset, n), outOffset);
        return;
      }
      const dv = new DataView(src.buffer, src.byteOffset, need);
      for (let i = 0; i < n; i++) out[outOffset + i] = dv.getFloat32(4 * i, true);
      return;
    }
    case GgmlType.F16:
      for (let i = 0; i < n; i++) out[outOffset + i] = F16_TO_F32[src[2 * i] | (src[2 * i + 1] << 8)];
      return;
    case GgmlType.BF16:
      for (let i = 0; i < n; i++) out[outOffset + i] = BF16_TO_F32[src[2 * i] | (src[2 * i + 1] << 8)];
      return;
    case GgmlType.Q4_0: return deqQ4_0(src, nb, out, outOffset);
    case GgmlType.Q4_1: return deqQ4_1(src, nb, out, outOffset);
    case GgmlType.Q5_0: return deqQ5_0(src, nb, out, outOffset);
    case GgmlType.Q5_1: return deqQ5_1(src, nb, out, outOffset);
    case GgmlType.Q8_0: return deqQ8_0(src, nb, out, outOffset);
    case GgmlType.Q8_1: return deqQ8_1(src, nb, out, outOffset);
    case GgmlType.Q4_K: return deqQ4_K(src, nb, out, outOffset);
    case GgmlType.Q5_K: return deqQ5_K(src, nb, out, outOffset);
    case GgmlType.Q6_K: return deqQ6_K(src, nb, out, outOffset);
    case GgmlType.Q8_K: return deqQ8_K(src, nb, out, outOffset);
    default:
      throw new UnsupportedQuantTypeError(type, "dequantizeRow");
  }
}

/** Convenience: a fresh Float32Array holding the `n` dequantised values. */
export function dequantize(type: GgmlType, src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  dequantizeRow(type, src, n, out, 0);
  return out;
}

function f16(src: Uint8Array, o: number): number {
  return F16_TO_F32[src[o] | (src[o + 1] << 8)];
}

function i8(b: number): number {
  return (b << 24) >> 24;
}

// Q4_0: f16 d, 16 bytes; element j is the low nibble of byte j, element j+16 the high nibble.
function deqQ4_0(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 18;
    const d = f16(src, o);
    const y = base + b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j];
      out[y + j] = ((q & 0xf) - 8) * d;
      out[y + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

// Q4_1: f16 d, f16 m, 16 bytes of nibbles; value = q*d + m.
function deqQ4_1(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 20;
    const d = f16(src, o);
    const m = f16(src, o + 2);
    const y = base + b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 4 + j];
      out[y + j] = (q & 0xf) * d + m;
      out[y + j + 16] = (q >> 4) * d + m;
    }
  }
}

function u32le(src: Uint8Array, o: number): number {
  return (src[o] | (src[o + 1] << 8) | (src[o + 2] << 16) | (src[o + 3] << 24)) >>> 0;
}

// Q5_0: f16 d, u32 qh (bit j = 5th bit of element j), 16 nibble bytes; value = (q - 16)*d.
function deqQ5_0(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 22;
    const d = f16(src, o);
    const qh = u32le(src, o + 2);
    const y = base + b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 6 + j];
      const h0 = ((qh >>> j) & 1) << 4;
      const h1 = ((qh >>> (j + 16)) & 1) << 4;
      out[y + j] = (((q & 0xf) | h0) - 16) * d;
      out[y + j + 16] = (((q >> 4) | h1) - 16) * d;
    }
  }
}

// Q5_1: f16 d, f16 m, u32 qh, 16 nibble bytes; value = q*d + m.
function deqQ5_1(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 24;
    const d = f16(src, o);
    const m = f16(src, o + 2);
    const qh = u32le(src, o + 4);
    const y = base + b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 8 + j];
      const h0 = ((qh >>> j) & 1) << 4;
      const h1 = ((qh >>> (j + 16)) & 1) << 4;
      out[y + j] = ((q & 0xf) | h0) * d + m;
      out[y + j + 16] = ((q >> 4) | h1) * d + m;
    }
  }
}

function deqQ8_0(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 34;
    const d = f16(src, o);
    for (let j = 0; j < 32; j++) out[base + b * 32 + j] = i8(src[o + 2 + j]) * d;
  }
}

// Q8_1: f16 d, f16 s (= d * sum of qs, unused here), 32 int8.
function deqQ8_1(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 36;
    const d = f16(src, o);
    for (let j = 0; j < 32; j++) out[base + b * 32 + j] = i8(src[o + 4 + j]) * d;
  }
}

// Q4_K: f16 d, f16 dmin, 12 scale bytes, 128 nibble bytes. Each 64 values use 32 bytes:
// low nibbles are sub-block 2i, high nibbles sub-block 2i+1; value = d*sc*q - dmin*m.
function deqQ4_K(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 144;
    const d = f16(src, o);
    const dmin = f16(src, o + 2);
    let y = base + b * QK_K;
    for (let c = 0; c < 4; c++) {
      const d1 = Math.fround(d * kScale(src, o + 4, 2 * c));
      const m1 = Math.fround(dmin * kMin(src, o + 4, 2 * c));
      const d2 = Math.fround(d * kScale(src, o + 4, 2 * c + 1));
      const m2 = Math.fround(dmin * kMin(src, o + 4, 2 * c + 1));
      const q = o + 16 + 32 * c;
      for (let l = 0; l < 32; l++) out[y + l] = d1 * (src[q + l] & 0xf) - m1;
      for (let l = 0; l < 32; l++) out[y + 32 + l] = d2 * (src[q + l] >> 4) - m2;
      y += 64;
    }
  }
}

// Q5_K: as Q4_K plus 32 bytes qh: bit 2c of qh[l] is the 5th bit of the low nibble of chunk c,
// bit 2c+1 that of the high nibble.
function deqQ5_K(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 176;
    const d = f16(src, o);
    const dmin = f16(src, o + 2);
    const qh = o + 16;
    let y = base + b * QK_K;
    for (let c = 0; c < 4; c++) {
      const d1 = Math.fround(d * kScale(src, o + 4, 2 * c));
      const m1 = Math.fround(dmin * kMin(src, o + 4, 2 * c));
      const d2 = Math.fround(d * kScale(src, o + 4, 2 * c + 1));
      const m2 = Math.fround(dmin * kMin(src, o + 4, 2 * c + 1));
      const q = o + 48 + 32 * c;
      for (let l = 0; l < 32; l++) {
        const h = src[qh + l] >> (2 * c);
        out[y + l] = d1 * ((src[q + l] & 0xf) | ((h & 1) << 4)) - m1;
        out[y + 32 + l] = d2 * ((src[q + l] >> 4) | ((h & 2) << 3)) - m2;
      }
      y += 64;
    }
  }
}

// Q6_K: 128 bytes ql, 64 bytes qh, 16 int8 scales, f16 d. Each half (128 values) uses 64 ql
// bytes, 32 qh bytes and 8 scales; value = d * scale * (q - 32).
function deqQ6_K(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 210;
    const d = f16(src, o + 208);
    for (let half = 0; half < 2; half++) {
      const ql = o + 64 * half;
      const qh = o + 128 + 32 * half;
      const sc = o + 192 + 8 * half;
      const y = base + b * QK_K + 128 * half;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = src[qh + l];
        const q1 = ((src[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[y + l] = Math.fround(d * i8(src[sc + is])) * q1;
        out[y + l + 32] = Math.fround(d * i8(src[sc + is + 2])) * q2;
        out[y + l + 64] = Math.fround(d * i8(src[sc + is + 4])) * q3;
        out[y + l + 96] = Math.fround(d * i8(src[sc + is + 6])) * q4;
      }
    }
  }
}

// Q8_K: f32 d, 256 int8, 16 int16 bsums (unused here).
function deqQ8_K(src: Uint8Array, nb: number, out: Float32Array, base: number): void {
  const dv = new DataView(src.buffer, src.byteOffset, nb * 292);
  for (let b = 0; b < nb; b++) {
    const o = b * 292;
    const d = dv.getFloat32(o, true);
    for (let j = 0; j < QK_K; j++) out[base + b * QK_K + j] = i8(src[o + 4 + j]) * d;
  }
}
