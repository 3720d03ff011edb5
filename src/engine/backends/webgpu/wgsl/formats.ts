// How each GGUF weight type is read inside a shader, as data: the matmul kernel walks a row in units
// of 32 values and asks the format for four dequantised weights at a time; embed asks for one value.
// Block layouts are ggml's (the CPU dequantisers in src/gguf/quants/dequantize.ts are the reference).
import { GgmlType, typeName } from "../../../../gguf/types.js";

export interface QuantFormat {
  readonly type: GgmlType;
  /** Bytes of one 32-value unit's block (for K-quants, of the 256-value super-block). */
  readonly blockBytes: number;
  readonly blockValues: number;
  /**
   * WGSL run once per 32-value unit `u` of the row starting at byte `rowBase`; it may declare lets
   * used by `word`.
   */
  readonly unit: string;
  /** WGSL defining `wv: vec4<f32>`, weights 4k..4k+3 of the unit (k in 0..7). */
  readonly word: string;
  /**
   * The decode matvec's cheaper form, where the format allows it: `raw` defines `wq: vec4<f32>`, the
   * unscaled quants of word k, and `sum` turns sq (the sum of wq·x over the unit) and sx (the sum of
   * the unit's 32 activations) into the unit's dot product, so scales apply once per unit.
   */
  readonly factored?: { readonly raw: string; readonly sum: string };
  /** WGSL function body of `fn elem(rowBase: u32, c: u32) -> f32`: value c of the row. */
  readonly elem: string;
}

const Q8_0: QuantFormat = {
  type: GgmlType.Q8_0,
  blockBytes: 34,
  blockValues: 32,
  // f16 d, then 32 int8.
  unit: `let o = rowBase + u * 34u; let d = f16at(o);`,
  word: `let wv = i8x4(ld32(o + 2u + 4u * k)) * d;`,
  factored: { raw: `let wq = i8x4(ld32(o + 2u + 4u * k));`, sum: `d * sq` },
  elem: `let o = rowBase + (c >> 5u) * 34u; return i8of(ld8(o + 2u + (c & 31u))) * f16at(o);`,
};

const Q4_0: QuantFormat = {
  type: GgmlType.Q4_0,
  blockBytes: 18,
  blockValues: 32,
  // f16 d, then 16 bytes: value j is the low nibble of byte j, value j+16 its high nibble.
  unit: `let o = rowBase + u * 18u; let d = f16at(o);`,
  word: `let wv = (u8x4((ld32(o + 2u + 4u * (k & 3u)) >> select(0u, 4u, k >= 4u)) & 0x0f0f0f0fu) - 8.0) * d;`,
  factored: { raw: `let wq = u8x4((ld32(o + 2u + 4u * (k & 3u)) >> select(0u, 4u, k >= 4u)) & 0x0f0f0f0fu);`, sum: `d * (sq - 8.0 * sx)` },
  elem: `let o = rowBase + (c >> 5u) * 18u; let j = c & 31u; let b = ld8(o + 2u + (j & 15u));
    return (f32(select(b & 15u, b >> 4u, j >= 16u)) - 8.0) * f16at(o);`,
};

const Q4_K: QuantFormat = {
  type: GgmlType.Q4_K,
  blockBytes: 144,
  blockValues: 256,
  // f16 d, f16 dmin, 12 scale bytes, 128 nibble bytes; sub-block j uses the low (even j) or high
  // (odd j) nibbles of bytes 32*(j/2)..+32; value = d*scale*q - dmin*min.
  unit: `let o = rowBase + (u >> 3u) * 144u; let j = u & 7u;
    let d = f16at(o) * kScale(o + 4u, j); let m = f16at(o + 2u) * kMin(o + 4u, j);
    let qo = o + 16u + 32u * (j >> 1u); let sh = (j & 1u) * 4u;`,
  // Blocks are 144 bytes, so rows and every field here start on a 4-byte boundary.
  word: `let wv = u8x4((ld32a(qo + 4u * k) >> sh) & 0x0f0f0f0fu) * d - m;`,
  factored: { raw: `let wq = u8x4((ld32a(qo + 4u * k) >> sh) & 0x0f0f0f0fu);`, sum: `d * sq - m * sx` },
  elem: `let o = rowBase + (c >> 8u) * 144u; let i = c & 255u; let j = i >> 5u;
    let b = ld8(o + 16u + 32u * (j >> 1u) + (i & 31u)); let q = f32(select(b & 15u, b >> 4u, (j & 1u) == 1u));
    return f16at(o) * kScale(o + 4u, j) * q - f16at(o + 2u) * kMin(o + 4u, j);`,
};

const Q6_K: QuantFormat = {
  type: GgmlType.Q6_K,
  blockBytes: 210,
  blockValues: 256,
  // 128 bytes ql, 64 bytes qh, 16 int8 scales, f16 d. Each half of 128 values has four groups g of 32:
  // the low 4 bits come from ql[l + 32*(g&1)] (low nibble for g<2, high for g>=2), the top 2 bits
  // from bits 2g of qh[l], the scale from scales[l/16 + 2g]; value = d*scale*(q - 32).
  unit: `let o = rowBase + (u >> 3u) * 210u; let half = (u >> 2u) & 1u; let g = u & 3u;
    let d = f16at(o + 208u); let ql = o + 64u * half + 32u * (g & 1u); let qh = o + 128u + 32u * half;
    let shl = (g >> 1u) * 4u; let shh = 2u * g; let sc = o + 192u + 8u * half + 2u * g;`,
  word: `let q = ((ld32(ql + 4u * k) >> shl) & 0x0f0f0f0fu) | (((ld32(qh + 4u * k) >> shh) & 0x03030303u) << 4u);
    let wv = (u8x4(q) - 32.0) * (d * i8of(ld8(sc + (k >> 2u))));`,
  elem: `let o = rowBase + (c >> 8u) * 210u; let i = c & 255u; let half = i >> 7u; let g = (i >> 5u) & 3u; let l = i & 31u;
    let b = ld8(o + 64u * half + 32u * (g & 1u) + l); let lo = select(b & 15u, b >> 4u, g >= 2u);
    let hi = (ld8(o + 128u + 32u * half + l) >> (2u * g)) & 3u;
    return f16at(o + 208u) * i8of(ld8(o + 192u + 8u * half + (l >> 4u) + 2u * g)) * (f32(lo | (hi << 4u)) - 32.0);`,
};

/** Formats of the quantised kernels; F32 and F16 have their own float kernel. */
export const QUANT_FORMATS: ReadonlyMap<GgmlType, QuantFormat> = new Map([Q8_0, Q4_0, Q4_K, Q6_K].map((f) => [f.type, f]));

/** Per-value reads of the float types, for embed. */
export const FLOAT_ELEM: ReadonlyMap<GgmlType, string> = new Map([
  [GgmlType.F32, `return bitcast<f32>(w[(rowBase >> 2u) + c]);`],
  [GgmlType.F16, `return f16at(rowBase + 2u * c);`],
]);

export class UnsupportedWebGpuTypeError extends Error {
  override readonly name = "UnsupportedWebGpuTypeError";
  constructor(type: GgmlType, what: string) {
    super(`the WebGPU backend has no ${what} kernel for ${typeName(type)} weights (it reads F32, F16, Q8_0, Q4_0, Q4_K and Q6_K)`);
  }
}

export function elemBody(type: GgmlType): string {
  const body = FLOAT_ELEM.get(type) ?? QUANT_FORMATS.get(type)?.elem;
  if (!body) throw new UnsupportedWebGpuTypeError(type, "embedding");
  return body;
}

export function isSupportedType(type: GgmlType): boolean {
  return FLOAT_ELEM.has(type) || QUANT_FORMATS.has(type);
}
