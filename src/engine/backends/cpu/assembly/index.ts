// WebAssembly SIMD kernels of the CPU backend, in AssemblyScript (built by `npm run build:wasm`).
// Memory is imported and owned by the JS side, which places weights, activations and outputs and
// passes byte offsets; nothing here allocates.
export { matmul_q8_0, matmul_q4_0, matmul_q5_0, matmul_q4_1, matmul_q5_1 } from "./blocks32";
export { matmul_q4_k, matmul_q5_k, matmul_q6_k } from "./k-quants";

/** Sum of n f32 values at ptr: a smoke test of the build and the memory hand-off. */
export function sum_f32(ptr: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, v128.load(ptr + (<usize>i << 2)));
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; i < n; i++) s += load<f32>(ptr + (<usize>i << 2));
  return s;
}
