// IEEE half precision (f16) conversions. f32 -> f16 rounds to nearest-even, as x86's F16C
// instruction does (ggml's CPU path uses it), including subnormals, infinities and NaN.
// f16 -> f32 goes through a 65536-entry table because kernels read one scale per block.

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Bits of the f16 nearest to `x` (first rounded to f32, as a Float32Array holds it). */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const f = u32Scratch[0];
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  const mant = f & 0x7fffff;
  if (exp === 0xff) {
    // Infinity keeps a zero mantissa; NaN becomes quiet and keeps its top payload bits.
    return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  }
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e >= 1) {
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (up to infinity).
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++;
    return sign | h;
  }
  // Subnormal result: the value in units of 2^-24 is m * 2^(exp - 126).
  const shift = 126 - exp;
  if (shift > 24) return sign;
  const m = mant | 0x800000;
  let q = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (q & 1) !== 0)) q++;
  return sign | q;
}

function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal f16: normalise it, f32 has the range to hold it as a normal number.
  let e = -14;
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | ((e + 127) << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

function buildF16Table(): Float32Array {
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) bits[h] = f16BitsToF32Bits(h);
  return new Float32Array(bits.buffer);
}

/** F16_TO_F32[bits] is the f32 value of the f16 with those bits. */
export const F16_TO_F32: Float32Array = buildF16Table();

export function f16BitsToF32(h: number): number {
  return F16_TO_F32[h & 0xffff];
}

/**
 * `x` rounded (through f32) to the nearest f16 value, returned as a number. Attention calls this for
 * every element it accumulates, so values in f16's normal range take a fast path that rounds the f32
 * mantissa to 10 bits in place (nearest-even); everything else goes through f32ToF16Bits.
 */
export function roundToF16(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  const exp = (bits >>> 23) & 0xff;
  // f32 exponents 113..141 are f16 normals that cannot round up past f16's largest finite value.
  if (exp >= 113 && exp <= 141) {
    u32Scratch[0] = (bits + 0xfff + ((bits >>> 13) & 1)) & 0xffffe000;
    return f32Scratch[0];
  }
  return F16_TO_F32[f32ToF16Bits(x)];
}

/** Reads the little-endian f16 at byte `o` of `src` (any alignment). */
export function readF16(src: Uint8Array, o: number): number {
  return F16_TO_F32[src[o] | (src[o + 1] << 8)];
}

export function writeF16(dst: Uint8Array, o: number, x: number): void {
  const h = f32ToF16Bits(x);
  dst[o] = h & 0xff;
  dst[o + 1] = h >>> 8;
}
