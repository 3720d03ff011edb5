// Shared by the WebGPU tests: random inputs, references and tolerance checks. There is no skipping
// here: a machine without any WebGPU adapter fails these tests with Dawn's reason.
import assert from "node:assert/strict";
import { writeF16 } from "../../../gguf/quants/f16.js";
import { quantizeTensor } from "../../../gguf/quants/quantize.js";
import { randomNormals } from "../../../gguf/quants/seeded-random.js";
import { GgmlType, bytesFor, typeLayout } from "../../../gguf/types.js";
import { WebGpuBackend, type WebGpuBackendOptions } from "./index.js";

export async function openWebGpu(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  try {
    return await WebGpuBackend.create(options);
  } catch (e) {
    throw new Error(`the WebGPU tests need a WebGPU adapter (on Linux CI: Mesa's llvmpipe Vulkan driver); opening one failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Byte offsets of the f16 scale fields in one block. */
const SCALES: ReadonlyMap<GgmlType, readonly number[]> = new Map([
  [GgmlType.Q8_0, [0]], [GgmlType.Q4_0, [0]], [GgmlType.Q4_K, [0, 2]], [GgmlType.Q6_K, [208]],
]);

/**
 * Weights of `type`: quantised random rows, or for `raw` random bytes with finite scales, which
 * reach every bit of the packed fields (K-quant scale high bits, Q6_K's top bits) that quantised
 * normal data seldom sets.
 */
export function randomWeights(type: GgmlType, rows: number, cols: number, rand: () => number, raw = false): Uint8Array {
  if (!raw || type === GgmlType.F32 || type === GgmlType.F16) return quantizeTensor(type, randomNormals(rand, rows * cols, 0.5), cols);
  const w = new Uint8Array(rows * bytesFor(type, cols));
  for (let i = 0; i < w.length; i++) w[i] = Math.floor(rand() * 256);
  const { typeSize } = typeLayout(type);
  for (let o = 0; o < w.length; o += typeSize) for (const f of SCALES.get(type) ?? []) writeF16(w, o + f, (rand() - 0.4) * 2 ** -6);
  return w;
}

/** |actual - expected| <= tol * scale[i] for every value, with the worst case in the message. */
export function assertClose(actual: Float32Array, expected: ArrayLike<number>, tol: number, scale: ArrayLike<number> | number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const s = typeof scale === "number" ? scale : Math.max(scale[i], 1e-30);
    const err = Math.abs(actual[i] - expected[i]) / s;
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  assert.ok(worst <= tol, `${what}: value ${at} is ${actual[at]}, expected ${expected[at]} (error ${worst.toExponential(2)} × scale, tolerance ${tol})`);
}
