// f32 -> block format, row by row: the entry points the model generator and tests use.
import { GgmlType, bytesFor, typeLayout } from "../types.js";
import { f32ToBf16Bits } from "./bf16.js";
import { QuantShapeError, UnsupportedQuantTypeError } from "./errors.js";
import { f32ToF16Bits } from "./f16.js";
import { quantizeQ8_1Blocks, quantizeQ8_KBlocks } from "./q8-activations.js";
import { quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from "./quantize-k.js";
import { quantizeQ4_0, quantizeQ4_1, quantizeQ5_0, quantizeQ5_1, quantizeQ8_0 } from "./quantize-legacy.js";

/** Quantises `src` (one row, length a multiple of the block size) into a new byte array. */
export function quantizeRow(type: GgmlType, src: Float32Array): Uint8Array {
  const dst = new Uint8Array(bytesFor(type, src.length));
  quantizeRowInto(type, src, dst);
  return dst;
}

/** Quantises `src` into dst[0 .. bytesFor(type, src.length)). Returns the bytes written. */
export function quantizeRowInto(type: GgmlType, src: Float32Array, dst: Uint8Array): number {
  const n = src.length;
  const size = bytesFor(type, n);
  if (dst.length < size) throw new QuantShapeError(`${typeLayout(type).name} row of ${n} needs ${size} bytes, got ${dst.length}`);
  const nb = n / typeLayout(type).blockSize;
  switch (type) {
    case GgmlType.F32: {
      const dv = new DataView(dst.buffer, dst.byteOffset, size);
      for (let i = 0; i < n; i++) dv.setFloat32(4 * i, src[i], true);
      break;
    }
    case GgmlType.F16:
    case GgmlType.BF16: {
      const conv = type === GgmlType.F16 ? f32ToF16Bits : f32ToBf16Bits;
      for (let i = 0; i < n; i++) {
        const h = conv(src[i]);
        dst[2 * i] = h & 0xff;
        dst[2 * i + 1] = h >>> 8;
      }
      break;
    }
    case GgmlType.Q4_0: quantizeQ4_0(src, nb, dst); break;
    case GgmlType.Q4_1: quantizeQ4_1(src, nb, dst); break;
    case GgmlType.Q5_0: quantizeQ5_0(src, nb, dst); break;
    case GgmlType.Q5_1: quantizeQ5_1(src, nb, dst); break;
    case GgmlType.Q8_0: quantizeQ8_0(src, nb, dst); break;
    case GgmlType.Q8_1: packQ8_1(src, nb, dst); break;
    case GgmlType.Q4_K: quantizeQ4_K(src, nb, dst); break;
    case GgmlType.Q5_K: quantizeQ5_K(src, nb, dst); break;
    case GgmlType.Q6_K: quantizeQ6_K(src, nb, dst); break;
    case GgmlType.Q8_K: packQ8_K(src, nb, dst); break;
    default:
      throw new UnsupportedQuantTypeError(type, "quantizeRow");
  }
  return size;
}

/** Quantises a tensor of data.length / rowLength rows, each independently. */
export function quantizeTensor(type: GgmlType, data: Float32Array, rowLength: number): Uint8Array {
  if (rowLength <= 0 || data.length % rowLength !== 0) {
    throw new QuantShapeError(`tensor of ${data.length} values is not whole rows of ${rowLength}`);
  }
  const rows = data.length / rowLength;
  const rowBytes = bytesFor(type, rowLength);
  const out = new Uint8Array(rows * rowBytes);
  for (let r = 0; r < rows; r++) {
    quantizeRowInto(type, data.subarray(r * rowLength, (r + 1) * rowLength), out.subarray(r * rowBytes, (r + 1) * rowBytes));
  }
  return out;
}

function packQ8_1(src: Float32Array, nb: number, dst: Uint8Array): void {
  const qs = new Int8Array(32 * nb);
  const d = new Float32Array(nb);
  const s = new Float32Array(nb);
  quantizeQ8_1Blocks(src, 0, nb, qs, 0, d, 0, s, 0);
  for (let b = 0; b < nb; b++) {
    const o = 36 * b;
    const hd = f32ToF16Bits(d[b]);
    const hs = f32ToF16Bits(s[b]);
    dst[o] = hd & 0xff;
    dst[o + 1] = hd >>> 8;
    dst[o + 2] = hs & 0xff;
    dst[o + 3] = hs >>> 8;
    for (let j = 0; j < 32; j++) dst[o + 4 + j] = qs[32 * b + j] & 0xff;
  }
}

function packQ8_K(src: Float32Array, nb: number, dst: Uint8Array): void {
  const qs = new Int8Array(256 * nb);
  const d = new Float32Array(nb);
  const bsums = new Int32Array(16 * nb);
  quantizeQ8_KBlocks(src, 0, nb, qs, 0, d, 0, bsums, 0);
  const dv = new DataView(dst.buffer, dst.byteOffset, 292 * nb);
  for (let b = 0; b < nb; b++) {
    const o = 292 * b;
    dv.setFloat32(o, d[b], true);
    for (let j = 0; j < 256; j++) dst[o + 4 + j] = qs[256 * b + j] & 0xff;
    for (let g = 0; g < 16; g++) dv.setInt16(o + 260 + 2 * g, bsums[16 * b + g], true);
  }
}
