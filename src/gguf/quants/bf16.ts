// bfloat16 conversions: the top half of an f32. Rounding follows ggml's scalar conversion
// (nearest-even, NaN forced quiet), which is what its AVX2 build uses for activations.

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  // u + 0x8000 stays below 2^32 for every non-NaN f32, so plain number arithmetic is exact.
  return Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff;
}

function buildBf16Table(): Float32Array {
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) bits[h] = (h << 16) >>> 0;
  return new Float32Array(bits.buffer);
}

/** BF16_TO_F32[bits] is the f32 value of the bf16 with those bits. */
export const BF16_TO_F32: Float32Array = buildBf16Table();

export function bf16BitsToF32(h: number): number {
  return BF16_TO_F32[h & 0xffff];
}

export function roundToBf16(x: number): number {
  return BF16_TO_F32[f32ToBf16Bits(x)];
}
