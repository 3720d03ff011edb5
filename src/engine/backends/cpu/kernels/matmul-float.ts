// F32, F16 and BF16 weights against activations rounded to the same type (ggml's vec_dot_f32 /
// vec_dot_f16 / vec_dot_bf16). Products are exact in f64 and summed in f64; ggml sums in f32
// lanes (bf16: f64), so results agree to f32 rounding, not bit for bit.
import { BF16_TO_F32 } from "../../../../gguf/quants/bf16.js";
import { F16_TO_F32 } from "../../../../gguf/quants/f16.js";
import { alignedBytes } from "./aligned.js";
import type { PreparedActivations } from "./prepared-activations.js";

export function matmulF32(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const wb = alignedBytes(w, 4);
  const wf = new Float32Array(wb.buffer, wb.byteOffset, rows * cols);
  const a = act.values;
  const n4 = cols & ~3;
  for (let r = r0; r < r1; r++) {
    const o = r * cols;
    for (let t = 0; t < act.nTok; t++) {
      const p = t * cols;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let i = 0;
      for (; i < n4; i += 4) {
        s0 += wf[o + i] * a[p + i];
        s1 += wf[o + i + 1] * a[p + i + 1];
        s2 += wf[o + i + 2] * a[p + i + 2];
        s3 += wf[o + i + 3] * a[p + i + 3];
      }
      for (; i < cols; i++) s0 += wf[o + i] * a[p + i];
      y[t * rows + r] = s0 + s1 + s2 + s3;
    }
  }
}

/** Shared by F16 and BF16: `table` maps the 16-bit pattern to its f32 value. */
function matmulHalf(table: Float32Array, w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  const wb = alignedBytes(w, 2);
  const wh = new Uint16Array(wb.buffer, wb.byteOffset, rows * cols);
  for (let r = r0; r < r1;) {
    // Four rows at a time share each activation load.
    const four = r + 4 <= r1;
    for (let t = 0; t < act.nTok; t++) {
      if (four) dotHalfx4(table, wh, r * cols, cols, act.values, t * cols, y, t * rows + r);
      else y[t * rows + r] = dotHalf(table, wh, r * cols, cols, act.values, t * cols);
    }
    r += four ? 4 : 1;
  }
}

/** One row, summed in the same order as dotHalfx4 so a row's result never depends on its grouping. */
function dotHalf(table: Float32Array, wh: Uint16Array, o: number, cols: number, a: Float64Array, p: number): number {
  let s = 0;
  for (let i = 0; i < cols; i++) s += table[wh[o + i]] * a[p + i];
  return s;
}

function dotHalfx4(table: Float32Array, wh: Uint16Array, o: number, cols: number, a: Float64Array, p: number, y: Float32Array, yo: number): void {
  const o1 = o + cols, o2 = o1 + cols, o3 = o2 + cols;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let i = 0; i < cols; i++) {
    const x = a[p + i];
    s0 += table[wh[o + i]] * x;
    s1 += table[wh[o1 + i]] * x;
    s2 += table[wh[o2 + i]] * x;
    s3 += table[wh[o3 + i]] * x;
  }
  y[yo] = s0;
  y[yo + 1] = s1;
  y[yo + 2] = s2;
  y[yo + 3] = s3;
}

export function matmulF16(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  matmulHalf(F16_TO_F32, w, rows, cols, act, y, r0, r1);
}

export function matmulBF16(w: Uint8Array, rows: number, cols: number, act: PreparedActivations, y: Float32Array, r0: number, r1: number): void {
  matmulHalf(BF16_TO_F32, w, rows, cols, act, y, r0, r1);
}
