// The 8-bit formats ggml converts an f32 activation row into before a quantised dot product
// (the weight type's "vec_dot_type"). These follow ggml's x86 AVX2 CPU build bit for bit:
//  - Q8_0 / Q8_1 (quantize_row_q8_0/q8_1, AVX2 path): amax over the 32-block, d = amax/127
//    stored as f16, multiplier id = 127/amax (not 1/d), q = round-half-even(x*id). Q8_1 also
//    stores s = f16(d * sum(q)) with the unrounded f32 d.
//  - Q8_K (quantize_row_q8_K_ref, the only x86 path): iscale = -127/max where max is the
//    signed value of largest magnitude, q = min(127, nearest_int(iscale*x)), d = 1/iscale as
//    f32, plus the int16 sums of each 16 quants.
// All intermediate products are f32 (Math.fround) as in C.
import { roundToF16 } from "./f16.js";

const fr = Math.fround;
const RNE_MAGIC = 6755399441055744; // 2^52 + 2^51: adding and subtracting rounds to an integer, ties to even

/** Round half to even, as _mm256_round_ps(_MM_ROUND_NEAREST) and ggml's nearest_int do. */
export function roundHalfEven(v: number): number {
  return v + RNE_MAGIC - RNE_MAGIC;
}

/**
 * Quantises nb 32-blocks of x (from xOff) to Q8_0: int8 quants into qs[qOff..], the f16-rounded
 * scale of each block into d[dOff..]. Returns nothing; sums[sOff + b] gets sum(q) of block b
 * when `sums` is given (kernels use it to fold the -8/-16 offsets of Q4_0/Q5_0 out of the loop).
 */
export function quantizeQ8_0Blocks(
  x: ArrayLike<number>, xOff: number, nb: number,
  qs: Int8Array, qOff: number, d: Float32Array, dOff: number,
  sums?: Int32Array, sOff = 0,
): void {
  for (let b = 0; b < nb; b++) {
    const xb = xOff + 32 * b;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[xb + j]);
      if (a > amax) amax = a;
    }
    const dd = fr(amax / 127);
    const id = amax !== 0 ? fr(127 / amax) : 0;
    d[dOff + b] = roundToF16(dd);
    let sum = 0;
    const qb = qOff + 32 * b;
    for (let j = 0; j < 32; j++) {
      let q = roundHalfEven(fr(x[xb + j] * id));
      if (q > 127) q = 127;
      else if (q < -128) q = -128;
      qs[qb + j] = q;
      sum += q;
    }
    if (sums) sums[sOff + b] = sum;
  }
}

/** Q8_1: as Q8_0, plus s[sOff + b] = f16(d * sum(q)) per block (the value ggml stores). */
export function quantizeQ8_1Blocks(
  x: ArrayLike<number>, xOff: number, nb: number,
  qs: Int8Array, qOff: number, d: Float32Array, dOff: number, s: Float32Array, sOff: number,
): void {
  for (let b = 0; b < nb; b++) {
    const xb = xOff + 32 * b;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[xb + j]);
      if (a > amax) amax = a;
    }
    const dd = fr(amax / 127);
    const id = amax !== 0 ? fr(127 / amax) : 0;
    d[dOff + b] = roundToF16(dd);
    let sum = 0;
    const qb = qOff + 32 * b;
    for (let j = 0; j < 32; j++) {
      let q = roundHalfEven(fr(x[xb + j] * id));
      if (q > 127) q = 127;
      else if (q < -128) q = -128;
      qs[qb + j] = q;
      sum += q;
    }
    s[sOff + b] = roundToF16(fr(dd * sum));
  }
}

/**
 * Q8_K: nb 256-blocks of x to int8 quants qs[qOff..], f32 scales d[dOff + b] and the sums of each
 * 16 quants into bsums[bOff + 16*b ..].
 */
export function quantizeQ8_KBlocks(
  x: ArrayLike<number>, xOff: number, nb: number,
  qs: Int8Array, qOff: number, d: Float32Array, dOff: number, bsums: Int32Array, bOff: number,
): void {
  for (let b = 0; b < nb; b++) {
    const xb = xOff + 256 * b;
    const qb = qOff + 256 * b;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 256; j++) {
      const v = x[xb + j];
      const a = Math.abs(v);
      if (a > amax) {
        amax = a;
        max = v;
      }
    }
    if (amax === 0) {
      d[dOff + b] = 0;
      qs.fill(0, qb, qb + 256);
      bsums.fill(0, bOff + 16 * b, bOff + 16 * b + 16);
      continue;
    }
    const iscale = fr(-127 / max);
    for (let j = 0; j < 256; j++) {
      const q = roundHalfEven(fr(iscale * x[xb + j]));
      qs[qb + j] = q > 127 ? 127 : q;
    }
    for (let g = 0; g < 16; g++) {
      let sum = 0;
      for (let j = 0; j < 16; j++) sum += qs[qb + 16 * g + j];
      bsums[bOff + 16 * b + g] = sum;
    }
    d[dOff + b] = fr(1 / iscale);
  }
}
