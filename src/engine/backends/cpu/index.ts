// The CPU backend: weights stay in their quantised GGUF bytes, activations are Float32Arrays.
import { cpus, totalmem } from "node:os";
import { dequantizeRow } from "../../../gguf/quants/index.js";
import { GgmlType } from "../../../gguf/types.js";
import type { Activation, AttentionShape, Backend, BackendDevice, KvCache, RopeParams, Weight, WeightInfo } from "../../backend.js";
import { matmul } from "./kernels/index.js";
import * as ops from "./ops.js";

class CpuWeight implements Weight {
  /** Dequantised copy for small vectors (norms, biases) that every op reads as f32. */
  private f32?: Float32Array;
  constructor(readonly info: WeightInfo, readonly data: Uint8Array) {}
  get bytes(): number {
    return this.data.byteLength;
  }
  get rowLength(): number {
    return this.info.dims[0];
  }
  get rows(): number {
    return this.info.dims.slice(1).reduce((a, b) => a * b, 1);
  }
  asF32(): Float32Array {
    if (!this.f32) {
      const n = this.rowLength * this.rows;
      this.f32 = new Float32Array(n);
      dequantizeRow(this.info.type, this.data, n, this.f32);
    }
    return this.f32;
  }
}

class CpuActivation implements Activation {
  readonly data: Float32Array;
  constructor(readonly elements: number) {
    this.data = new Float32Array(elements);
  }
}

class CpuKvCache implements KvCache {
  length = 0;
  readonly layers: ops.CpuKvLayer[];
  /** Scratch row of attention scores, one slot per cached position. */
  readonly scores: Float32Array;
  constructor(layers: number, readonly capacity: number, readonly kvDim: number) {
    this.layers = Array.from({ length: layers }, () => ({
      k: new Float32Array(capacity * kvDim),
      v: new Float32Array(capacity * kvDim),
    }));
    this.scores = new Float32Array(capacity);
  }
}

const w = (x: Weight) => x as CpuWeight;
const a = (x: Activation) => (x as CpuActivation).data;

export interface CpuBackendOptions {
  /**
   * Which of llama.cpp's attention computations to reproduce: "flash" (its default on CPU) or
   * "classic" (llama.cpp with flash attention off). They round differently, so parity needs the same one.
   */
  readonly attention?: "flash" | "classic";
}

export class CpuBackend implements Backend {
  readonly name = "cpu";
  readonly attentionKind: "flash" | "classic";

  constructor(options: CpuBackendOptions = {}) {
    this.attentionKind = options.attention ?? "flash";
  }

  async devices(): Promise<BackendDevice[]> {
    const cpu = cpus()[0];
    return [{ backend: this.name, name: cpu ? cpu.model.trim() : "cpu", memoryBytes: totalmem() }];
  }

  uploadWeight(info: WeightInfo, data: Uint8Array): Weight {
    return new CpuWeight(info, data);
  }

  alloc(elements: number): Activation {
    return new CpuActivation(elements);
  }

  write(dst: Activation, src: Float32Array, offset = 0): void {
    a(dst).set(src, offset);
  }

  async read(src: Activation, elements = src.elements, offset = 0): Promise<Float32Array> {
    return a(src).slice(offset, offset + elements);
  }

  createKvCache(layers: number, capacity: number, kvDim: number): KvCache {
    return new CpuKvCache(layers, capacity, kvDim);
  }

  embed(table: Weight, ids: readonly number[], out: Activation): void {
    const t = w(table);
    const width = t.rowLength;
    const rowBytes = t.bytes / t.rows;
    const dst = a(out);
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= t.rows) throw new RangeError(`token id ${id} is outside the vocabulary (0..${t.rows - 1})`);
      const row = t.data.subarray(id * rowBytes, (id + 1) * rowBytes);
      dequantizeRow(t.info.type, row, width, dst, i * width);
    });
  }

  matmul(weight: Weight, x: Activation, nTok: number, out: Activation): void {
    const t = w(weight);
    matmul(t.info.type, t.data, t.rows, t.rowLength, a(x), nTok, a(out));
  }

  addBias(x: Activation, bias: Weight, nTok: number): void {
    const b = w(bias).asF32();
    const dst = a(x);
    for (let t = 0; t < nTok; t++) for (let i = 0; i < b.length; i++) dst[t * b.length + i] += b[i];
  }

  rmsnorm(x: Activation, weight: Weight, rows: number, width: number, eps: number, out: Activation): void {
    ops.rmsnorm(a(x), w(weight).asF32(), rows, width, eps, a(out));
  }

  rope(x: Activation, nTok: number, heads: number, headDim: number, positions: readonly number[], rope: RopeParams): void {
    ops.rope(a(x), nTok, heads, headDim, positions, rope);
  }

  attention(q: Activation, k: Activation, v: Activation, cache: KvCache, layer: number, nTok: number, shape: AttentionShape, out: Activation): void {
    const c = cache as CpuKvCache;
    const start = c.length;
    if (start + nTok > c.capacity) throw new RangeError(`context is full: ${start} + ${nTok} tokens exceeds ${c.capacity}`);
    const kvLayer = c.layers[layer];
    ops.storeKv(kvLayer, start, nTok, c.kvDim, a(k), a(v));
    if (this.attentionKind === "flash") ops.flashAttention(a(q), kvLayer, start, nTok, shape.heads, shape.kvHeads, shape.headDim, a(out));
    else ops.attention(a(q), kvLayer, start, nTok, shape.heads, shape.kvHeads, shape.headDim, a(out), c.scores);
  }

  siluMul(gate: Activation, up: Activation, n: number): void {
    ops.siluMul(a(gate), a(up), n);
  }

  add(dst: Activation, src: Activation, n: number): void {
    ops.add(a(dst), a(src), n);
  }
}

/** Types the CPU backend can run directly. */
export const CPU_WEIGHT_TYPES: readonly GgmlType[] = [
  GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1,
  GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
];
