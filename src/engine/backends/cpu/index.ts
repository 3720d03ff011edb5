// The CPU backend: weights stay quantised (GGUF blocks; Q8_0 and Q4_K repacked with f32 scales in the wasm
// kernels' memory), activations are Float32Arrays.
import { cpus, totalmem } from "node:os";
import { dequantizeRow } from "../../../gguf/quants/index.js";
import type { GgmlType } from "../../../gguf/types.js";
import type { Activation, AttentionShape, Backend, BackendDevice, KvCache, RopeParams, Weight, WeightInfo } from "../../backend.js";
import { type PreparedActivations, activationFormat, matmul, prepareActivations } from "./kernels/index.js";
import { WasmKernels, type WasmActivations } from "./wasm-kernels.js";
import * as ops from "./ops.js";

/** Rows of a weight: the product of its dimensions after the first (the row length). */
const rowsOf = (info: WeightInfo): number => info.dims.slice(1).reduce((a, b) => a * b, 1);

class CpuWeight implements Weight {
  /** Dequantised copy for small vectors (norms, biases) that every op reads as f32. */
  private f32?: Float32Array;
  constructor(
    readonly info: WeightInfo,
    private readonly own: Uint8Array | undefined,
    /** Where the weight lives in the wasm kernels' memory (in its kernel's layout), when it was uploaded there. */
    readonly wasm?: { readonly kernels: WasmKernels; readonly ptr: number; readonly length: number },
  ) {}
  /** The weight's GGUF bytes (for wasm-resident weights, read back from the kernels' memory). */
  get data(): Uint8Array {
    return this.own ?? this.rowBytes(0, this.rows);
  }
  /** GGUF bytes of rows [r0, r1): a view, or a copy where the kernels keep the weight in a layout of their own. */
  rowBytes(r0: number, r1: number): Uint8Array {
    if (this.own) {
      const rowBytes = this.own.byteLength / this.rows;
      return this.own.subarray(r0 * rowBytes, r1 * rowBytes);
    }
    const w = this.wasm!;
    return w.kernels.weightRows(this.info.type, w.ptr, this.rows, this.rowLength, r0, r1);
  }
  get bytes(): number {
    return this.own ? this.own.byteLength : this.wasm!.length;
  }
  get rowLength(): number {
    return this.info.dims[0];
  }
  get rows(): number {
    return rowsOf(this.info);
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
  /** Bumped by every backend op that writes the buffer, so quantised copies of it know when they are stale. */
  version = 0;
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
/** The buffer of an activation an op is about to write (marks quantised copies of it stale). */
const out = (x: Activation) => {
  const act = x as CpuActivation;
  act.version++;
  return act.data;
};

/** Query rows from which ggml's CPU flash attention uses its tiled f32 path (GGML_FA_TILE_Q). */
const FLASH_TILE_ROWS = 64;

export interface CpuBackendOptions {
  /**
   * Which of llama.cpp's attention computations to reproduce: "flash" (its default on CPU) or
   * "classic" (llama.cpp with flash attention off). They round differently, so parity needs the same one.
   */
  readonly attention?: "flash" | "classic";
  /** "wasm" (default): SIMD kernels where they exist; "js": the TypeScript kernels only. */
  readonly kernels?: "wasm" | "js";
  /**
   * Threads for the wasm matmuls (default 1), the calling thread included: each large matmul's rows
   * are split across them, with identical results. Matmuls on F32/F16/BF16 weights (the TypeScript
   * kernels), and everything else the backend does, stay on the calling thread. Ignored with kernels: "js".
   */
  readonly threads?: number;
  /** Multiply-adds below which a matmul is not split (default MIN_PARALLEL_WORK); tests set 0. */
  readonly minParallelWork?: number;
}

export class CpuBackend implements Backend {
  readonly name = "cpu";
  /**
   * The last activations quantised for the wasm kernels: q, k and v (and gate and up) multiply the
   * same input, which is then quantised once instead of per matmul.
   */
  private lastPrepared?: { readonly x: CpuActivation; readonly version: number; readonly act: PreparedActivations | WasmActivations };
  private lastRope?: { readonly positions: readonly number[]; readonly nTok: number; readonly rope: RopeParams; readonly table: Float32Array };
  readonly attentionKind: "flash" | "classic";
  /** WebAssembly SIMD kernels, used for the weight types they cover; the TS kernels do the rest. */
  readonly wasm: WasmKernels | undefined;

  constructor(options: CpuBackendOptions = {}) {
    this.attentionKind = options.attention ?? "flash";
    this.wasm = options.kernels === "js" ? undefined : WasmKernels.load({ threads: options.threads, minParallelWork: options.minParallelWork });
  }

  /** Threads a large quantised matmul runs on. */
  get threads(): number {
    return this.wasm?.threads ?? 1;
  }

  /** Stops the matmul worker threads (they never keep the process alive, but hold memory until then). */
  async dispose(): Promise<void> {
    await this.wasm?.dispose();
  }

  async devices(): Promise<BackendDevice[]> {
    const cpu = cpus()[0];
    return [{ backend: this.name, name: cpu ? cpu.model.trim() : "cpu", memoryBytes: totalmem() }];
  }

  /**
   * Where a weight goes: matrices the wasm kernels can multiply move into their memory (this gives
   * their shape and size there); vectors stay as they are, and so, past wasm32's 4 GiB, do the
   * remaining weights, which then use the TypeScript kernels.
   */
  private wasmPlace(info: WeightInfo): { kernels: WasmKernels; rows: number; cols: number; length: number } | undefined {
    if (!this.wasm || info.dims.length < 2 || !this.wasm.supports(info.type)) return undefined;
    const cols = info.dims[0]!, rows = rowsOf(info);
    const length = this.wasm.weightBytes(info.type, rows, cols);
    return this.wasm.canHold(length) ? { kernels: this.wasm, rows, cols, length } : undefined;
  }

  uploadWeight(info: WeightInfo, data: Uint8Array): Weight {
    const at = this.wasmPlace(info);
    if (!at) return new CpuWeight(info, data);
    return new CpuWeight(info, undefined, { kernels: at.kernels, ptr: at.kernels.upload(info.type, data, at.rows, at.cols), length: at.length });
  }

  async uploadWeightFrom(info: WeightInfo, byteSize: number, read: (dst: Uint8Array, offset: number) => Promise<void>): Promise<Weight> {
    const at = this.wasmPlace(info);
    if (at) return new CpuWeight(info, undefined, { kernels: at.kernels, ptr: await at.kernels.uploadFrom(info.type, at.rows, at.cols, read), length: at.length });
    const data = new Uint8Array(byteSize);
    await read(data, 0);
    return new CpuWeight(info, data);
  }

  alloc(elements: number): Activation {
    return new CpuActivation(elements);
  }

  write(dst: Activation, src: Float32Array, offset = 0): void {
    out(dst).set(src, offset);
  }

  async read(src: Activation, elements = src.elements, offset = 0): Promise<Float32Array> {
    return a(src).slice(offset, offset + elements);
  }

  createKvCache(layers: number, capacity: number, kvDim: number): KvCache {
    return new CpuKvCache(layers, capacity, kvDim);
  }

  embed(table: Weight, ids: readonly number[], output: Activation): void {
    const t = w(table);
    const width = t.rowLength;
    const dst = out(output);
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= t.rows) throw new RangeError(`token id ${id} is outside the vocabulary (0..${t.rows - 1})`);
      dequantizeRow(t.info.type, t.rowBytes(id, id + 1), width, dst, i * width);
    });
  }

  matmul(weight: Weight, x: Activation, nTok: number, output: Activation): void {
    const t = w(weight);
    if (t.wasm) {
      const act = this.prepared(t.wasm.kernels, t.info.type, x as CpuActivation, nTok, t.rowLength);
      t.wasm.kernels.matmul(t.info.type, t.wasm.ptr, t.rows, t.rowLength, act, out(output));
    } else {
      matmul(t.info.type, t.data, t.rows, t.rowLength, a(x), nTok, out(output));
    }
  }

  /**
   * x quantised for weightType's wasm kernel (in the kernels' memory where they build that format,
   * else in JS), reusing the last conversion while x is unchanged: q, k and v share one, as do gate and up.
   */
  private prepared(kernels: WasmKernels, weightType: GgmlType, x: CpuActivation, nTok: number, cols: number): PreparedActivations | WasmActivations {
    const last = this.lastPrepared;
    if (last && last.x === x && last.version === x.version && last.act.nTok === nTok && last.act.cols === cols) {
      const act = last.act;
      if ("aq" in act ? kernels.isCurrent(act) && act.layout === kernels.activationLayout(weightType, nTok) : act.format === activationFormat(weightType)) return act;
    }
    const act = kernels.prepare(weightType, x.data, nTok, cols) ?? prepareActivations(weightType, x.data, nTok, cols, false);
    this.lastPrepared = { x, version: x.version, act };
    return act;
  }

  addBias(x: Activation, bias: Weight, nTok: number): void {
    const b = w(bias).asF32();
    const dst = out(x);
    for (let t = 0; t < nTok; t++) for (let i = 0; i < b.length; i++) dst[t * b.length + i] += b[i];
  }

  rmsnorm(x: Activation, weight: Weight, rows: number, width: number, eps: number, output: Activation): void {
    if (this.wasm) this.wasm.rmsnorm(a(x), w(weight).asF32(), rows, width, eps, out(output));
    else ops.rmsnorm(a(x), w(weight).asF32(), rows, width, eps, out(output));
  }

  rope(x: Activation, nTok: number, heads: number, headDim: number, positions: readonly number[], rope: RopeParams): void {
    const table = this.ropeTable(positions, nTok, rope);
    if (this.wasm) this.wasm.rope(out(x), nTok, heads, headDim, table, rope.dims / 2, rope.style === "neox");
    else ops.rope(out(x), nTok, heads, headDim, positions, rope, table);
  }

  /** The cos/sin table for these positions, reused while the model passes the same ones (every layer's q and k). */
  private ropeTable(positions: readonly number[], nTok: number, rope: RopeParams): Float32Array {
    const last = this.lastRope;
    if (last && last.nTok === nTok && last.rope === rope && last.positions.every((p, i) => p === positions[i])) return last.table;
    const table = ops.ropeTable(positions, nTok, rope);
    this.lastRope = { positions: positions.slice(0, nTok), nTok, rope, table };
    return table;
  }

  attention(q: Activation, k: Activation, v: Activation, cache: KvCache, layer: number, nTok: number, shape: AttentionShape, output: Activation): void {
    const c = cache as CpuKvCache;
    const start = c.length;
    if (start + nTok > c.capacity) throw new RangeError(`context is full: ${start} + ${nTok} tokens exceeds ${c.capacity}`);
    const kvLayer = c.layers[layer];
    ops.storeKv(kvLayer, start, nTok, c.kvDim, a(k), a(v));
    const { heads, kvHeads, headDim } = shape;
    const o = out(output);
    if (this.attentionKind === "classic") ops.attention(a(q), kvLayer, start, nTok, heads, kvHeads, headDim, o, c.scores, true);
    else {
      // ggml switches to its tiled, all-f32 flash attention for batches of FLASH_TILE_ROWS query rows or more.
      const tiled = nTok >= FLASH_TILE_ROWS;
      // The wasm kernels round as the TypeScript does; they work on four lanes of a head at a time.
      if (this.wasm && headDim % 4 === 0) this.wasm.attention(tiled ? "f32" : "flash", a(q), kvLayer.k, kvLayer.v, start, nTok, heads, kvHeads, headDim, o);
      else if (tiled) ops.attention(a(q), kvLayer, start, nTok, heads, kvHeads, headDim, o, c.scores, false);
      else ops.flashAttention(a(q), kvLayer, start, nTok, heads, kvHeads, headDim, o, c.scores);
    }
  }

  siluMul(gate: Activation, up: Activation, n: number): void {
    if (this.wasm) this.wasm.siluMul(out(gate), a(up), n);
    else ops.siluMul(out(gate), a(up), n);
  }

  add(dst: Activation, src: Activation, n: number): void {
    ops.add(out(dst), a(src), n);
  }

  copy(src: Activation, srcOffset: number, dst: Activation, dstOffset: number, elements: number): void {
    out(dst).set(a(src).subarray(srcOffset, srcOffset + elements), dstOffset);
  }
}
