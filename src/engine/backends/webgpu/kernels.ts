// The kernel table: each WGSL source with the buffers it binds, compiled once per device on first use.
import { GgmlType, typeName } from "../../../gguf/types.js";
import type { KernelSpec } from "./gpu-context.js";
import { ATTENTION } from "./wgsl/attention.js";
import { ADD, ADD_BIAS, COPY, SILU_MUL } from "./wgsl/elementwise.js";
import { MATVEC_WEIGHTS, matmulShader, matvecShader, type MatvecKind, type MatvecShape } from "./wgsl/matmul.js";
import { embedShader, rmsnormShader, ropeShader } from "./wgsl/rows.js";

const RW = "storage" as const;
const RO = "read-only-storage" as const;

export const SILU_MUL_KERNEL: KernelSpec = { name: "silu_mul", code: SILU_MUL, buffers: [RW, RW] };
export const ADD_KERNEL: KernelSpec = { name: "add", code: ADD, buffers: [RW, RW] };
export const ADD_BIAS_KERNEL: KernelSpec = { name: "add_bias", code: ADD_BIAS, buffers: [RW, RO] };
export const COPY_KERNEL: KernelSpec = { name: "copy", code: COPY, buffers: [RW, RW] };
export const ATTENTION_KERNEL: KernelSpec = { name: "attention", code: ATTENTION, buffers: [RW, RW, RW, RW, RW, RW] };
export const RMSNORM_KERNEL: KernelSpec = { name: "rmsnorm", code: rmsnormShader(false), buffers: [RW, RO, RW] };
export const RMSNORM_IN_PLACE_KERNEL: KernelSpec = { name: "rmsnorm_in_place", code: rmsnormShader(true), buffers: [RW, RO] };
export const ROPE_KERNEL: KernelSpec = { name: "rope", code: ropeShader(false), buffers: [RW, RO], data: true };
/** Rope of queries and keys in one dispatch. */
export const ROPE_PAIR_KERNEL: KernelSpec = { name: "rope_pair", code: ropeShader(true), buffers: [RW, RO, RW], data: true };

const matmulKernels = new Map<string, KernelSpec>();
const embedKernels = new Map<GgmlType, KernelSpec>();

/** Matmul of `type` weights over groups of `tokens` tokens. */
export function matmulKernel(type: GgmlType, tokens: number): KernelSpec {
  const name = `matmul_${typeName(type)}_x${tokens}`;
  let k = matmulKernels.get(name);
  if (!k) {
    k = { name, code: matmulShader(type, tokens), buffers: [RO, RW, RW] };
    matmulKernels.set(name, k);
  }
  return k;
}

/** The decode-step matvec of a quantised type, in the given shape, fused as `kind` says. */
export function matvecKernel(type: GgmlType, shape: MatvecShape, kind: MatvecKind = "store"): KernelSpec {
  const name = `matvec_${kind}_${typeName(type)}_${shape.workgroup}x${shape.rows}${shape.subgroups ? "_sg" : ""}`;
  let k = matmulKernels.get(name);
  if (!k) {
    const outs = kind === "split3" ? 3 : 1;
    k = { name, code: matvecShader(type, shape, kind), buffers: [...Array<typeof RO>(MATVEC_WEIGHTS[kind]).fill(RO), RW, ...Array<typeof RW>(outs).fill(RW)] };
    matmulKernels.set(name, k);
  }
  return k;
}

export function embedKernel(type: GgmlType): KernelSpec {
  let k = embedKernels.get(type);
  if (!k) {
    k = { name: `embed_${typeName(type)}`, code: embedShader(type), buffers: [RO, RW], data: true };
    embedKernels.set(type, k);
  }
  return k;
}
