// WebAssembly SIMD kernels of the CPU backend, in AssemblyScript (built by `npm run build:wasm`).
// Memory is imported and owned by the JS side, which places weights, activations and outputs and
// passes byte offsets; nothing here allocates.
// Built twice over (see package.json's build:wasm): plain SIMD, and with relaxed SIMD's int8 dot
// product (kernels-relaxed*.wasm), picked at run time when the engine can run it.
export { matmul_q8_0, matmul_q8_0_u8, matmul_q4_0, matmul_q5_0, matmul_q4_1, matmul_q5_1, q8_split, q8_widen, q8_u8_group, q8_0_pack, q8_0_unpack, Q8_WIDE_MIN_TOKENS } from "./blocks32";
export { dot_i7_selftest, dot_u8_selftest, settled_lane } from "./common";
export { attention_f32, attention_f32_fma, f32_scratch_bytes, flash_attention, flash_attention_fma, flash_scratch_bytes, fma_exact_selftest, madd_selftest } from "./attention";
export { silu_mul } from "./activations";
export { rmsnorm, rope } from "./norms";
export { quantize_q8_0, quantize_q8_k } from "./quantize";
export { matmul_q4_k_x4, q4_k_pack_x4, q4_k_unpack_x4 } from "./q4k-x4";
export { matmul_q4_k, matmul_q5_k, matmul_q6_k, matmul_q5_k_vnni, q4_k_pack, q4_k_unpack, q8k_pairs } from "./k-quants";

/** Sum of n f32 values at ptr: a smoke test of the build and the memory hand-off. */
export function sum_f32(ptr: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, v128.load(ptr + (<usize>i << 2)));
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; i < n; i++) s += load<f32>(ptr + (<usize>i << 2));
  return s;
}

/**
 * Reads `bytes` (a multiple of 64) from ptr front to back, four vectors per cache line, and returns
 * a value derived from all of them: one sequential stream's read bandwidth (bench:engine times it).
 */
export function read_probe(ptr: usize, bytes: i32): i32 {
  let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (let i: usize = 0; i < <usize>bytes; i += 64) {
    a0 = v128.xor(a0, v128.load(ptr + i));
    a1 = v128.xor(a1, v128.load(ptr + i, 16));
    a2 = v128.xor(a2, v128.load(ptr + i, 32));
    a3 = v128.xor(a3, v128.load(ptr + i, 48));
  }
  return i32x4.extract_lane(v128.xor(v128.xor(a0, a1), v128.xor(a2, a3)), 0);
}

/**
 * Reads `bytes` (a multiple of 256) from ptr as four sequential streams, one per quarter, walked
 * together: the access pattern of the decode matvec (see rowDotStreams). A core keeps more cache-line
 * fills in flight this way, so this is the read bandwidth one thread can reach.
 */
export function read_probe_streams(ptr: usize, bytes: i32): i32 {
  const q = <usize>bytes >> 2;
  let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (let i: usize = 0; i < q; i += 64) {
    a0 = v128.xor(a0, v128.xor(v128.load(ptr + i), v128.load(ptr + i, 32)));
    a1 = v128.xor(a1, v128.xor(v128.load(ptr + q + i), v128.load(ptr + q + i, 32)));
    a2 = v128.xor(a2, v128.xor(v128.load(ptr + 2 * q + i), v128.load(ptr + 2 * q + i, 32)));
    a3 = v128.xor(a3, v128.xor(v128.load(ptr + 3 * q + i), v128.load(ptr + 3 * q + i, 32)));
    a0 = v128.xor(a0, v128.xor(v128.load(ptr + i, 16), v128.load(ptr + i, 48)));
    a1 = v128.xor(a1, v128.xor(v128.load(ptr + q + i, 16), v128.load(ptr + q + i, 48)));
    a2 = v128.xor(a2, v128.xor(v128.load(ptr + 2 * q + i, 16), v128.load(ptr + 2 * q + i, 48)));
    a3 = v128.xor(a3, v128.xor(v128.load(ptr + 3 * q + i, 16), v128.load(ptr + 3 * q + i, 48)));
  }
  return i32x4.extract_lane(v128.xor(v128.xor(a0, a1), v128.xor(a2, a3)), 0);
}
