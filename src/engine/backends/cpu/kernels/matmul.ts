// The matmul entry points the CPU backend calls: y[t*rows + r] = dot(W row r, x row t).
import { QuantShapeError, UnsupportedQuantTypeError } from "../../../../gguf/quants/errors.js";
import { GgmlType, bytesFor, typeName } from "../../../../gguf/types.js";
import { matmulBF16, matmulF16, matmulF32 } from "./matmul-float.js";
import { matmulQ4_K, matmulQ5_K, matmulQ6_K } from "./matmul-k.js";
import { matmulQ4_0, matmulQ5_0, matmulQ8_0 } from "./matmul-q8-0.js";
import { matmulQ4_1, matmulQ5_1 } from "./matmul-q8-1.js";
import { type PreparedActivations, prepareActivations } from "./prepared-activations.js";

type RowKernel = (w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number) => void;

const KERNELS: ReadonlyMap<GgmlType, RowKernel> = new Map<GgmlType, RowKernel>([
  [GgmlType.F32, matmulF32],
  [GgmlType.F16, matmulF16],
  [GgmlType.BF16, matmulBF16],
  [GgmlType.Q4_0, matmulQ4_0],
  [GgmlType.Q4_1, matmulQ4_1],
  [GgmlType.Q5_0, matmulQ5_0],
  [GgmlType.Q5_1, matmulQ5_1],
  [GgmlType.Q8_0, matmulQ8_0],
  [GgmlType.Q4_K, matmulQ4_K],
  [GgmlType.Q5_K, matmulQ5_K],
  [GgmlType.Q6_K, matmulQ6_K],
]);

export const MATMUL_WEIGHT_TYPES: readonly GgmlType[] = [...KERNELS.keys()];

/**
 * y[t*rows + r] = dot(W row r, x row t), for rows [rowStart, rowEnd) (default all). W is `rows`
 * rows of `cols` elements of weightType, laid out as in GGUF (ne0 = cols). Each weight row is
 * read once for all nTok tokens.
 */
export function matmulPrepared(
  weightType: GgmlType, w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array,
  rowStart = 0, rowEnd = rows,
): void {
  const kernel = KERNELS.get(weightType);
  if (!kernel) throw new UnsupportedQuantTypeError(weightType, "matmul");
  if (act.weightType !== weightType) throw new QuantShapeError(`activations were prepared for ${typeName(act.weightType)}, not ${typeName(weightType)}`);
  if (act.cols !== cols) throw new QuantShapeError(`activations have ${act.cols} columns, weights ${cols}`);
  const need = rows * bytesFor(weightType, cols);
  if (w.length < need) throw new QuantShapeError(`${rows}x${cols} ${typeName(weightType)} weights need ${need} bytes, got ${w.length}`);
  if (y.length < act.nTok * rows) throw new QuantShapeError(`output holds ${y.length} values, need ${act.nTok * rows}`);
  if (!(rowStart >= 0 && rowStart <= rowEnd && rowEnd <= rows)) throw new QuantShapeError(`row range [${rowStart}, ${rowEnd}) outside [0, ${rows})`);
  kernel(w, rows, cols, act, y, rowStart, rowEnd);
}

/** prepareActivations + matmulPrepared over all rows. */
export function matmul(weightType: GgmlType, w: Uint8Array, rows: number, cols: number, x: Float32Array, nTok: number, y: Float32Array): void {
  matmulPrepared(weightType, w, rows, cols, prepareActivations(weightType, x, nTok, cols), y);
}
