// Activations converted once to the "vec_dot_type" of a weight type, as ggml's CPU matmul does
// before its dot products: F32 stays f32, F16/BF16 weights see f16/bf16-rounded activations,
// Q4_0/Q5_0/Q8_0 see Q8_0, Q4_1/Q5_1 see Q8_1, and the K formats see Q8_K.
import { roundToBf16 } from "../../../../gguf/quants/bf16.js";
import { QuantShapeError, UnsupportedQuantTypeError } from "../../../../gguf/quants/errors.js";
import { roundToF16 } from "../../../../gguf/quants/f16.js";
import { quantizeQ8_0Blocks, quantizeQ8_1Blocks, quantizeQ8_KBlocks } from "../../../../gguf/quants/q8-activations.js";
import { GgmlType, typeLayout } from "../../../../gguf/types.js";

export type ActivationFormat = "f32" | "f16" | "bf16" | "q8_0" | "q8_1" | "q8_K";

/** Activations already converted to the vec_dot_type of `weightType`, for nTok rows of `cols` values. */
export interface PreparedActivations {
  readonly weightType: GgmlType;
  readonly cols: number;
  readonly nTok: number;
  readonly format: ActivationFormat;
  /** f32/f16/bf16 formats: the (rounded) values, nTok * cols. Empty otherwise. */
  readonly values: Float64Array;
  /** q8 formats: the int8 quants, nTok * cols. Empty otherwise. */
  readonly qs: Int8Array;
  /** q8 formats: one scale per block (32 or 256 values), nTok * blocks; f16-rounded for q8_0/q8_1. */
  readonly d: Float32Array;
  /** q8_1: ggml's stored s = f16(d * sum(q)) per block. Empty otherwise. */
  readonly s: Float32Array;
  /** q8_0: sum of the 32 quants of each block; q8_K: the 16 bsums of each block. Empty otherwise. */
  readonly sums: Int32Array;
  /**
   * q8 formats: the quants two by two as int32 pairs for SWAR kernels. For each run of four
   * quants a0..a3 (index i = 4k): pairs[2k] = a2 + a0 * 65536 and pairs[2k+1] = a3 + a1 * 65536.
   * Math.imul of such a pair with (n0 + n2 * 65536) holds n0*a0 + n2*a2 in its top 16 bits.
   */
  readonly pairs: Int32Array;
}

export function activationFormat(weightType: GgmlType): ActivationFormat {
  switch (weightType) {
    case GgmlType.F32: return "f32";
    case GgmlType.F16: return "f16";
    case GgmlType.BF16: return "bf16";
    case GgmlType.Q4_0:
    case GgmlType.Q5_0:
    case GgmlType.Q8_0: return "q8_0";
    case GgmlType.Q4_1:
    case GgmlType.Q5_1: return "q8_1";
    case GgmlType.Q4_K:
    case GgmlType.Q5_K:
    case GgmlType.Q6_K: return "q8_K";
    default: throw new UnsupportedQuantTypeError(weightType, "matmul");
  }
}

const EMPTY_F64 = new Float64Array(0);
const EMPTY_I8 = new Int8Array(0);
const EMPTY_F32 = new Float32Array(0);
const EMPTY_I32 = new Int32Array(0);

/**
 * Converts nTok rows of x for weightType's kernels. `pairs` (default true) also builds the SWAR
 * pairs only the TypeScript kernels read; the wasm kernels' callers skip them.
 */
export function prepareActivations(weightType: GgmlType, x: Float32Array, nTok: number, cols: number, pairs = true): PreparedActivations {
  const format = activationFormat(weightType);
  const blockSize = typeLayout(weightType).blockSize;
  if (cols <= 0 || cols % blockSize !== 0) throw new QuantShapeError(`cols ${cols} is not a multiple of ${typeLayout(weightType).name}'s block size ${blockSize}`);
  if (x.length < nTok * cols) throw new QuantShapeError(`activations hold ${x.length} values, need ${nTok} x ${cols}`);
  const n = nTok * cols;
  const base = { weightType, cols, nTok, format, values: EMPTY_F64, qs: EMPTY_I8, d: EMPTY_F32, s: EMPTY_F32, sums: EMPTY_I32, pairs: EMPTY_I32 };
  switch (format) {
    case "f32":
    case "f16":
    case "bf16": {
      const values = new Float64Array(n);
      const round = format === "f16" ? roundToF16 : format === "bf16" ? roundToBf16 : Math.fround;
      for (let i = 0; i < n; i++) values[i] = round(x[i]);
      return { ...base, values };
    }
    case "q8_0": {
      const nb = n / 32;
      const qs = new Int8Array(n);
      const d = new Float32Array(nb);
      const sums = new Int32Array(nb);
      quantizeQ8_0Blocks(x, 0, nb, qs, 0, d, 0, sums, 0);
      return { ...base, qs, d, sums, pairs: pairs ? packPairs(qs) : EMPTY_I32 };
    }
    case "q8_1": {
      const nb = n / 32;
      const qs = new Int8Array(n);
      const d = new Float32Array(nb);
      const s = new Float32Array(nb);
      quantizeQ8_1Blocks(x, 0, nb, qs, 0, d, 0, s, 0);
      return { ...base, qs, d, s, pairs: pairs ? packPairs(qs) : EMPTY_I32 };
    }
    case "q8_K": {
      const nb = n / 256;
      const qs = new Int8Array(n);
      const d = new Float32Array(nb);
      const sums = new Int32Array(16 * nb);
      quantizeQ8_KBlocks(x, 0, nb, qs, 0, d, 0, sums, 0);
      return { ...base, qs, d, sums, pairs: pairs ? packPairs(qs) : EMPTY_I32 };
    }
  }
}

function packPairs(qs: Int8Array): Int32Array {
  const pairs = new Int32Array(qs.length >> 1);
  for (let i = 0; i < qs.length; i += 4) {
    pairs[i >> 1] = qs[i + 2] + qs[i] * 65536;
    pairs[(i >> 1) + 1] = qs[i + 3] + qs[i + 1] * 65536;
  }
  return pairs;
}

/** The f32 values the prepared activations of token t stand for (test and debugging aid). */
export function preparedRowValues(act: PreparedActivations, t: number): Float64Array {
  const out = new Float64Array(act.cols);
  const o = t * act.cols;
  if (act.format === "f32" || act.format === "f16" || act.format === "bf16") {
    out.set(act.values.subarray(o, o + act.cols));
    return out;
  }
  const bs = act.format === "q8_K" ? 256 : 32;
  for (let i = 0; i < act.cols; i++) out[i] = act.qs[o + i] * act.d[(o + i - ((o + i) % bs)) / bs];
  return out;
}
