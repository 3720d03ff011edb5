// The operations a model is written against. A backend owns its buffers (CPU arrays today, GPU buffers
// later); the model only holds opaque handles, so the same forward pass runs on any backend.
import type { GgmlType } from "../gguf/types.js";
import type { RopeStyle } from "./config.js";

export interface WeightInfo {
  readonly name: string;
  readonly type: GgmlType;
  /** ggml order: dims[0] is the row length. */
  readonly dims: readonly number[];
}

/** A weight tensor resident on a backend. */
export interface Weight {
  readonly info: WeightInfo;
  readonly bytes: number;
}

/** An f32 activation buffer resident on a backend. */
export interface Activation {
  readonly elements: number;
}

/** Keys and values of one sequence, for every layer this backend runs. */
export interface KvCache {
  readonly capacity: number;
  /** Positions filled so far. */
  length: number;
}

export interface RopeParams {
  readonly style: RopeStyle;
  readonly base: number;
  readonly dims: number;
  readonly freqScale: number;
  /** Per-pair frequency divisors (llama3's rope_freqs tensor), when the model has them. */
  readonly freqFactors?: Float32Array;
}

export interface AttentionShape {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

export interface BackendDevice {
  readonly backend: string;
  readonly name: string;
  /** Bytes the device can hold for weights and caches, when known. */
  readonly memoryBytes?: number;
}

export interface Backend {
  readonly name: string;
  devices(): Promise<BackendDevice[]>;

  uploadWeight(info: WeightInfo, data: Uint8Array): Weight;
  /**
   * Optional: uploadWeight from a reader that fills `dst` with the tensor's bytes from `offset`, so a
   * backend that keeps weights in memory of its own can stream them there piece by piece instead of
   * the loader holding each whole tensor in a buffer (whose garbage raises peak memory).
   */
  uploadWeightFrom?(info: WeightInfo, byteSize: number, read: (dst: Uint8Array, offset: number) => Promise<void>): Promise<Weight>;
  alloc(elements: number): Activation;
  write(dst: Activation, src: Float32Array, offset?: number): void;
  /** Downloads to the host; async because GPU read-back is. */
  read(src: Activation, elements?: number, offset?: number): Promise<Float32Array>;
  createKvCache(layers: number, capacity: number, kvDim: number): KvCache;

  /** out[t] = row ids[t] of the embedding table. */
  embed(table: Weight, ids: readonly number[], out: Activation): void;
  /** out[t, r] = W[r] · x[t] for nTok rows of x; W is rows × cols in its own quantised type. */
  matmul(w: Weight, x: Activation, nTok: number, out: Activation): void;
  /** x[t] += bias for nTok rows. */
  addBias(x: Activation, bias: Weight, nTok: number): void;
  /** out[i] = x[i] / rms(x[i]) * weight, over `rows` rows of `width`. */
  rmsnorm(x: Activation, weight: Weight, rows: number, width: number, eps: number, out: Activation): void;
  /** Rotates every head of nTok rows in place; positions[t] is row t's position. */
  rope(x: Activation, nTok: number, heads: number, headDim: number, positions: readonly number[], rope: RopeParams): void;
  /**
   * Appends k and v (nTok rows at the cache's current length) to `layer` of the cache, then writes
   * causal attention of q over everything cached so far into out. Does not advance cache.length.
   */
  attention(q: Activation, k: Activation, v: Activation, cache: KvCache, layer: number, nTok: number, shape: AttentionShape, out: Activation): void;
  /** gate = silu(gate) * up, elementwise over n values. */
  siluMul(gate: Activation, up: Activation, n: number): void;
  /** dst += src over n values. */
  add(dst: Activation, src: Activation, n: number): void;
  /** Copies `elements` values from src[srcOffset..] to dst[dstOffset..] (rows in and out of a batch). */
  copy(src: Activation, srcOffset: number, dst: Activation, dstOffset: number, elements: number): void;
  /*
   * Optional fused forms of op sequences a layer runs. Each returns false when it cannot take this
   * case (the caller then runs the plain ops); when it returns true the results equal the plain ops'.
   * A GPU backend spends as much on issuing a kernel as on running a small one, so fewer kernels per
   * token is most of its decode speed.
   */
  /** dst[t] += W · x[t] (matmul, then add). */
  matmulAdd?(w: Weight, x: Activation, nTok: number, dst: Activation): boolean;
  /** out[t] = silu(G · x[t]) * (U · x[t]) (two matmuls, then siluMul into out). */
  matmulSwiGlu?(gate: Weight, up: Weight, x: Activation, nTok: number, out: Activation): boolean;
  /** outs[i][t] = ws[i] · x[t] for every weight (several matmuls of the same input). */
  matmulEach?(ws: readonly Weight[], x: Activation, nTok: number, outs: readonly Activation[]): boolean;
  /** Rope of q's heads and k's kvHeads (the two rope calls of a layer). */
  ropeQk?(q: Activation, k: Activation, nTok: number, heads: number, kvHeads: number, headDim: number, positions: readonly number[], rope: RopeParams): boolean;
  /** Releases what the backend holds beyond its buffers (worker threads, devices); call it when done. */
  dispose?(): Promise<void> | void;
}
