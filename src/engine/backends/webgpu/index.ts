// The WebGPU backend: weights uploaded once in their GGUF bytes, activations and the KV cache as f32
// buffers on the device, every op a compute dispatch recorded without waiting; only read() waits.
import type { Activation, AttentionShape, Backend, BackendDevice, KvCache, RopeParams, Weight, WeightInfo } from "../../backend.js";
import { dequantizeRow } from "../../../gguf/quants/index.js";
import { bytesFor, typeName } from "../../../gguf/types.js";
import { chooseAdapter, openAdapter, type AdapterReport, type FoundAdapter } from "./adapters.js";
import { BufferUsage } from "./gpu-constants.js";
import { BindGroupCache, f, GpuContext, DATA_BYTES } from "./gpu-context.js";
import * as K from "./kernels.js";
import { GpuWeight, splitRows, WebGpuMemoryError, type WeightChunk } from "./weights.js";
import { MAX_HEAD_DIM } from "./wgsl/attention.js";
import { ELEMENTWISE_WORKGROUP } from "./wgsl/elementwise.js";
import { isSupportedType, QUANT_FORMATS, UnsupportedWebGpuTypeError } from "./wgsl/formats.js";
import { DEFAULT_MATVEC_SHAPE, TOKENS_PER_GROUP, type MatvecShape } from "./wgsl/matmul.js";
import { ROW_WORKGROUP } from "./wgsl/rows.js";

export { describeAdapters, adapterLine, NoWebGpuAdapterError, type AdapterReport } from "./adapters.js";
export { WebGpuMemoryError } from "./weights.js";

export interface WebGpuBackendOptions {
  /** Index into the ranked adapter list (describeAdapters); the best-ranked adapter by default. */
  readonly gpu?: number;
  /** Use this adapter instead of searching (the list from findAdapters). */
  readonly adapter?: FoundAdapter;
  /** A smaller limit on weight chunks than the adapter's binding limit, so tests can exercise the row split. */
  readonly maxWeightChunkBytes?: number;
  /** Refuse to hold more than this many bytes of weights, caches and activations (a shard's budget). */
  readonly memoryLimitBytes?: number;
  /** How decode-step matvecs are laid out (benchmarks sweep this); subgroups are used only where the adapter has them. */
  readonly matvec?: Partial<MatvecShape>;
  /** Ask for "timestamp-query" where the adapter has it, so gpuSeconds can time kernels (benchmarks). */
  readonly timestamps?: boolean;
  /** false: the fused decode kernels decline (matmulAdd and the rest return false), for comparisons. */
  readonly fuse?: boolean;
  /** Dispatches recorded before a submit that does not wait (0: only reads submit); benchmarks sweep it. */
  readonly submitEvery?: number;
}

export interface WebGpuDevice extends BackendDevice {
  readonly adapter: AdapterReport;
}

class GpuActivation implements Activation {
  constructor(readonly elements: number, readonly buffer: GPUBuffer) {}
}

class GpuKvCache implements KvCache {
  length = 0;
  /** Bind groups of this cache's dispatches: they go when the cache (a finished sequence) is collected. */
  readonly bindGroups = new BindGroupCache();
  constructor(readonly capacity: number, readonly kvDim: number, readonly layers: readonly { readonly k: GPUBuffer; readonly v: GPUBuffer }[]) {}
}

const act = (x: Activation) => (x as GpuActivation).buffer;
const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;

export class WebGpuBackend implements Backend {
  readonly name = "webgpu";
  private gpu: GPU | undefined;
  private readonly ctx: GpuContext;
  /** Per-buffer byte limit: the smaller of the binding and buffer limits. */
  readonly bindingLimit: number;
  /** Bytes of one weight chunk at most. */
  private readonly chunkLimit: number;
  /** Bytes of weights, caches and activations created so far. */
  private residentBytes = 0;
  private readonly allocationChecks: Promise<string | undefined>[] = [];
  private readonly factorBuffers = new WeakMap<Float32Array, GPUBuffer>();
  private readonly noFactors: GPUBuffer;
  private shape: MatvecShape;

  private constructor(gpu: GPU, device: GPUDevice, readonly adapter: AdapterReport, private readonly options: WebGpuBackendOptions) {
    this.gpu = gpu;
    this.ctx = new GpuContext(device, options.submitEvery);
    this.shape = this.supportedShape({ ...DEFAULT_MATVEC_SHAPE, ...options.matvec });
    const l = device.limits;
    this.bindingLimit = Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
    this.chunkLimit = Math.min(this.bindingLimit, options.maxWeightChunkBytes ?? Infinity);
    this.noFactors = this.ctx.createBuffer(4, STORAGE);
  }

  /** Opens the chosen adapter (see WebGpuBackendOptions.gpu) with its full buffer limits. */
  static async create(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    const found = options.adapter ?? (await chooseAdapter(options.gpu));
    const { gpu, adapter } = await openAdapter(found);
    const device = await adapter.requestDevice({
      requiredFeatures: [
        ...(adapter.features.has("subgroups") ? ["subgroups" as GPUFeatureName] : []),
        ...(options.timestamps && adapter.features.has("timestamp-query") ? ["timestamp-query" as GPUFeatureName] : []),
      ],
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    return new WebGpuBackend(gpu, device, found.report, options);
  }

  private supportedShape(shape: MatvecShape): MatvecShape {
    return { ...shape, subgroups: shape.subgroups && this.ctx.device.features.has("subgroups") };
  }

  /** The decode-step matvec layout in use (subgroups only where the device has them). */
  get matvecShape(): MatvecShape {
    return this.shape;
  }

  /** Changes the matvec layout for later dispatches (the kernel benchmark sweeps layouts on one device). */
  setMatvecShape(shape: MatvecShape): void {
    this.shape = this.supportedShape(shape);
  }

  /** GPU seconds of the ops `record` issues (see GpuContext.gpuSeconds); undefined without timestamps. */
  gpuSeconds(record: () => void): Promise<number | undefined> {
    return this.ctx.gpuSeconds(record);
  }

  /** Dispatches and submits issued so far. */
  get counts(): { readonly dispatches: number; readonly submits: number } {
    return { dispatches: this.ctx.dispatches, submits: this.ctx.submits };
  }

  /** The device, for benchmarks that time raw WebGPU calls. */
  get device(): GPUDevice {
    return this.ctx.device;
  }

  /** Frees a weight's device buffers; it must not be used afterwards. */
  releaseWeight(weight: Weight): void {
    const w = weight as GpuWeight;
    this.ctx.submit();
    for (const c of w.chunks) {
      // What uploadWeight charged for the chunk (its buffers are padded past that).
      this.residentBytes -= c.rows * w.rowBytes;
      c.buffer.destroy();
    }
  }

  async devices(): Promise<WebGpuDevice[]> {
    return [{ backend: this.name, name: this.adapter.description || this.adapter.name, adapter: this.adapter }];
  }

  get description(): string {
    return this.adapter.description || this.adapter.name;
  }

  /** Counts bytes against memoryLimitBytes before they are allocated. */
  private charge(bytes: number, what: string): void {
    const limit = this.options.memoryLimitBytes;
    if (limit !== undefined && this.residentBytes + bytes > limit) {
      throw new WebGpuMemoryError(
        `${what} needs ${bytes} bytes, but ${this.residentBytes} of the ${limit} bytes allowed on ${this.description} are already in use`,
      );
    }
    this.residentBytes += bytes;
  }

  /** Creates a buffer, watching for an out-of-memory error that WebGPU only reports later. */
  private buffer(bytes: number, usage: number, what: string, fill?: Uint8Array): GPUBuffer {
    if (Math.ceil(bytes / 4) * 4 + 4 > this.bindingLimit) {
      throw new WebGpuMemoryError(`${what} needs one buffer of ${bytes} bytes; ${this.description} binds at most ${this.bindingLimit} bytes`);
    }
    this.charge(bytes, what);
    let buffer: GPUBuffer | undefined;
    const before = this.residentBytes - bytes;
    const check = this.ctx.allocationError(() => {
      // One spare word past the data: the shaders' unaligned 32-bit loads read one word ahead.
      buffer = this.ctx.device.createBuffer({ size: Math.ceil(bytes / 4) * 4 + 4, usage, mappedAtCreation: fill !== undefined });
    }).then((message) => message && `${what} (${bytes} bytes, after ${before} bytes already on the device) did not fit on ${this.description}: ${message}`);
    this.allocationChecks.push(check);
    const b = buffer!;
    if (fill) {
      new Uint8Array(b.getMappedRange()).set(fill);
      b.unmap();
    }
    return b;
  }

  /** Throws when any allocation so far ran out of device memory (read() calls it). */
  async checkMemory(): Promise<void> {
    const checks = this.allocationChecks.splice(0);
    for (const message of await Promise.all(checks)) if (message) throw new WebGpuMemoryError(message);
  }

  uploadWeight(info: WeightInfo, data: Uint8Array): Weight {
    if (!isSupportedType(info.type)) throw new UnsupportedWebGpuTypeError(info.type, "weight");
    const elements = info.dims.reduce((a, b) => a * b, 1);
    const need = bytesFor(info.type, elements);
    if (data.length < need) throw new RangeError(`tensor ${info.name}: ${typeName(info.type)} [${info.dims.join(", ")}] needs ${need} bytes, got ${data.length}`);
    if (info.dims.length < 2) {
      const values = new Float32Array(elements);
      dequantizeRow(info.type, data, elements, values);
      const buffer = this.buffer(values.byteLength, STORAGE, `tensor ${info.name}`, new Uint8Array(values.buffer));
      return new GpuWeight(info, need, [{ buffer, rowStart: 0, rows: 1 }], values.byteLength);
    }
    const split = splitRows(info, this.chunkLimit);
    const rows = elements / info.dims[0];
    const chunks: WeightChunk[] = [];
    for (let c = 0; c < split.chunks; c++) {
      const rowStart = c * split.rowsPerChunk;
      const n = Math.min(split.rowsPerChunk, rows - rowStart);
      const bytes = data.subarray(rowStart * split.rowBytes, (rowStart + n) * split.rowBytes);
      const what = split.chunks > 1 ? `tensor ${info.name} rows ${rowStart}..${rowStart + n - 1}` : `tensor ${info.name}`;
      chunks.push({ buffer: this.buffer(bytes.length, STORAGE, what, bytes), rowStart, rows: n });
    }
    return new GpuWeight(info, need, chunks, split.rowBytes);
  }

  alloc(elements: number): Activation {
    if (!Number.isInteger(elements) || elements <= 0) throw new RangeError(`cannot allocate ${elements} activation values`);
    return new GpuActivation(elements, this.buffer(elements * 4, STORAGE, `an activation of ${elements} values`));
  }

  write(dst: Activation, src: Float32Array, offset = 0): void {
    if (offset < 0 || offset + src.length > dst.elements) throw new RangeError(`writing ${src.length} values at ${offset} overflows ${dst.elements}`);
    this.ctx.write(act(dst), offset * 4, src);
  }

  async read(src: Activation, elements = src.elements, offset = 0): Promise<Float32Array> {
    if (offset < 0 || elements < 0 || offset + elements > src.elements) throw new RangeError(`reading ${elements} values at ${offset} overflows ${src.elements}`);
    await this.checkMemory();
    return new Float32Array(await this.ctx.read(act(src), offset * 4, elements * 4));
  }

  createKvCache(layers: number, capacity: number, kvDim: number): KvCache {
    const bytes = capacity * kvDim * 4;
    const buffers = Array.from({ length: layers }, (_, l) => ({
      k: this.buffer(bytes, STORAGE, `the key cache of layer ${l} (${capacity} positions × ${kvDim})`),
      v: this.buffer(bytes, STORAGE, `the value cache of layer ${l} (${capacity} positions × ${kvDim})`),
    }));
    return new GpuKvCache(capacity, kvDim, buffers);
  }

  /** Elementwise dispatch over n values. */
  private each(kernel: typeof K.ADD_KERNEL, buffers: GPUBuffer[], n: number, extra: number[] = [], groupCache?: BindGroupCache): void {
    if (n <= 0) return;
    const [x, y] = this.ctx.grid(Math.ceil(n / ELEMENTWISE_WORKGROUP));
    this.ctx.dispatch(kernel, buffers, [n, x, ...extra], [x, y], undefined, groupCache);
  }

  embed(table: Weight, ids: readonly number[], out: Activation): void {
    const t = table as GpuWeight;
    const width = t.rowLength;
    if (out.elements < ids.length * width) throw new RangeError(`embedding ${ids.length} rows of ${width} needs ${ids.length * width} values, out holds ${out.elements}`);
    // Pairs (output row, row within the chunk), grouped by the chunk holding each id.
    const perChunk = t.chunks.map(() => [] as number[]);
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= t.rows) throw new RangeError(`token id ${id} is outside the vocabulary (0..${t.rows - 1})`);
      const c = Math.floor(id / t.chunkRows);
      perChunk[c].push(i, id - t.chunks[c].rowStart);
    });
    const kernel = K.embedKernel(t.info.type);
    const maxPairs = DATA_BYTES / 8;
    perChunk.forEach((pairs, c) => {
      for (let at = 0; at < pairs.length; at += 2 * maxPairs) {
        const part = Uint32Array.from(pairs.slice(at, at + 2 * maxPairs));
        const count = part.length / 2;
        this.ctx.dispatch(kernel, [t.chunks[c].buffer, act(out)], [count, width, t.rowBytes, 0], [Math.ceil(width / ROW_WORKGROUP), count], part);
      }
    });
  }

  matmul(weight: Weight, x: Activation, nTok: number, out: Activation): void {
    const w = weight as GpuWeight;
    const { rows, rowLength } = w;
    if (x.elements < nTok * rowLength) throw new RangeError(`matmul by ${w.info.name}: x holds ${x.elements} values, needs ${nTok} × ${rowLength}`);
    if (out.elements < nTok * rows) throw new RangeError(`matmul by ${w.info.name}: out holds ${out.elements} values, needs ${nTok} × ${rows}`);
    if (nTok === 1 && QUANT_FORMATS.has(w.info.type)) {
      this.matvecChunks(w, x, out, "store");
      return;
    }
    // A decode step (one token) of float weights gets the single-accumulator variant.
    const group = nTok === 1 ? 1 : TOKENS_PER_GROUP;
    const kernel = K.matmulKernel(w.info.type, group);
    const tokenGroups = Math.ceil(nTok / group);
    for (const chunk of w.chunks) {
      const [gx, gy] = this.ctx.grid(chunk.rows);
      this.ctx.dispatch(kernel, [chunk.buffer, act(x), act(out)], [chunk.rows, rowLength, nTok, chunk.rowStart, rows, w.rowBytes, gx, 0], [gx, gy, tokenGroups]);
    }
  }

  /** A decode-step matvec (store or add) of every row chunk of w. */
  private matvecChunks(w: GpuWeight, x: Activation, out: Activation, kind: "store" | "add"): void {
    const kernel = K.matvecKernel(w.info.type, this.shape, kind);
    for (const chunk of w.chunks) {
      const [gx, gy] = this.ctx.grid(Math.ceil(chunk.rows / this.shape.rows));
      this.ctx.dispatch(kernel, [chunk.buffer, act(x), act(out)], [chunk.rows, 0, 0, w.rowLength, w.rowBytes, gx, chunk.rowStart, 0, 0], [gx, gy]);
    }
  }

  /** The fused kernels take decode steps of quantised weights held in one buffer each, sharing type and width. */
  private fusable(ws: readonly GpuWeight[], x: Activation, nTok: number): boolean {
    if (this.options.fuse === false || nTok !== 1) return false;
    const { type } = ws[0].info;
    const cols = ws[0].rowLength;
    return QUANT_FORMATS.has(type) && x.elements >= cols && ws.every((w) => w.info.type === type && w.rowLength === cols && w.chunks.length === 1);
  }

  matmulAdd(weight: Weight, x: Activation, nTok: number, dst: Activation): boolean {
    const w = weight as GpuWeight;
    if (this.options.fuse === false || nTok !== 1 || !QUANT_FORMATS.has(w.info.type)) return false;
    if (x.elements < w.rowLength || dst.elements < w.rows) throw new RangeError(`matmulAdd by ${w.info.name}: operands too small`);
    this.matvecChunks(w, x, dst, "add");
    return true;
  }

  matmulSwiGlu(gate: Weight, up: Weight, x: Activation, nTok: number, out: Activation): boolean {
    const g = gate as GpuWeight;
    const u = up as GpuWeight;
    if (!this.fusable([g, u], x, nTok) || g.rows !== u.rows) return false;
    if (out.elements < g.rows) throw new RangeError(`matmulSwiGlu: out holds ${out.elements} values, needs ${g.rows}`);
    const R = this.shape.rows;
    const [gx, gy] = this.ctx.grid(Math.ceil(g.rows / R));
    const kernel = K.matvecKernel(g.info.type, this.shape, "swiglu");
    this.ctx.dispatch(kernel, [g.chunks[0].buffer, u.chunks[0].buffer, act(x), act(out)], [g.rows, 0, 0, g.rowLength, g.rowBytes, gx, 0, 0, 0], [gx, gy]);
    return true;
  }

  matmulEach(weights: readonly Weight[], x: Activation, nTok: number, outs: readonly Activation[]): boolean {
    const ws = weights as readonly GpuWeight[];
    if (ws.length !== 3 || outs.length !== 3 || !this.fusable(ws, x, nTok)) return false;
    ws.forEach((w, i) => {
      if (outs[i].elements < w.rows) throw new RangeError(`matmulEach: output ${i} holds ${outs[i].elements} values, needs ${w.rows}`);
    });
    const R = this.shape.rows;
    const groups = ws.map((w) => Math.ceil(w.rows / R));
    const [gx, gy] = this.ctx.grid(groups[0] + groups[1] + groups[2]);
    const kernel = K.matvecKernel(ws[0].info.type, this.shape, "split3");
    this.ctx.dispatch(
      kernel,
      [...ws.map((w) => w.chunks[0].buffer), act(x), ...outs.map(act)],
      [ws[0].rows, ws[1].rows, ws[2].rows, ws[0].rowLength, ws[0].rowBytes, gx, 0, groups[0], groups[0] + groups[1]],
      [gx, gy],
    );
    return true;
  }

  addBias(x: Activation, bias: Weight, nTok: number): void {
    const b = bias as GpuWeight;
    const width = b.info.dims.reduce((p, q) => p * q, 1);
    this.each(K.ADD_BIAS_KERNEL, [act(x), b.chunks[0].buffer], nTok * width, [width]);
  }

  rmsnorm(x: Activation, weight: Weight, rows: number, width: number, eps: number, out: Activation): void {
    const w = weight as GpuWeight;
    if (x.elements < rows * width || out.elements < rows * width) throw new RangeError(`rmsnorm of ${rows} × ${width} overflows its buffers`);
    const [gx, gy] = this.ctx.grid(rows);
    const params = [rows, width, f(eps), gx];
    if (x === out) this.ctx.dispatch(K.RMSNORM_IN_PLACE_KERNEL, [act(x), w.chunks[0].buffer], params, [gx, gy]);
    else this.ctx.dispatch(K.RMSNORM_KERNEL, [act(x), w.chunks[0].buffer, act(out)], params, [gx, gy]);
  }

  private factors(rope: RopeParams): GPUBuffer {
    const ff = rope.freqFactors;
    if (!ff) return this.noFactors;
    let b = this.factorBuffers.get(ff);
    if (!b) {
      b = this.buffer(ff.byteLength, STORAGE, "rope frequency factors", new Uint8Array(ff.buffer, ff.byteOffset, ff.byteLength));
      this.factorBuffers.set(ff, b);
    }
    return b;
  }

  rope(x: Activation, nTok: number, heads: number, headDim: number, positions: readonly number[], rope: RopeParams): void {
    this.ropeDispatch(x, undefined, nTok, heads, 0, headDim, positions, rope);
  }

  ropeQk(q: Activation, k: Activation, nTok: number, heads: number, kvHeads: number, headDim: number, positions: readonly number[], rope: RopeParams): boolean {
    if (this.options.fuse === false) return false;
    this.ropeDispatch(q, k, nTok, heads, kvHeads, headDim, positions, rope);
    return true;
  }

  /** Rope over x's heads, and over y's yHeads in the same dispatch when y is given. */
  private ropeDispatch(x: Activation, y: Activation | undefined, nTok: number, heads: number, yHeads: number, headDim: number, positions: readonly number[], rope: RopeParams): void {
    if (positions.length < nTok) throw new RangeError(`rope: ${positions.length} positions for ${nTok} rows`);
    const half = rope.dims / 2;
    const thetaScale = Math.fround(Math.pow(rope.base, -2 / rope.dims));
    const [gx, gy] = this.ctx.grid(Math.ceil((nTok * (heads + yHeads) * half) / ROW_WORKGROUP));
    this.ctx.dispatch(
      y ? K.ROPE_PAIR_KERNEL : K.ROPE_KERNEL,
      y ? [act(x), this.factors(rope), act(y)] : [act(x), this.factors(rope)],
      [nTok, heads, headDim, half, f(thetaScale), f(rope.freqScale), rope.style === "normal" ? 0 : 1, rope.freqFactors ? 1 : 0, gx, yHeads],
      [gx, gy],
      Uint32Array.from(positions.slice(0, nTok)),
    );
  }

  attention(q: Activation, k: Activation, v: Activation, cache: KvCache, layer: number, nTok: number, shape: AttentionShape, out: Activation): void {
    const c = cache as GpuKvCache;
    const start = c.length;
    if (start + nTok > c.capacity) throw new RangeError(`context is full: ${start} + ${nTok} tokens exceeds ${c.capacity}`);
    const { heads, kvHeads, headDim } = shape;
    if (headDim > MAX_HEAD_DIM) throw new RangeError(`head size ${headDim} exceeds the WebGPU attention kernel's ${MAX_HEAD_DIM}`);
    if (kvHeads * headDim !== c.kvDim) throw new RangeError(`cache rows hold ${c.kvDim} values, the shape needs ${kvHeads * headDim}`);
    if (heads % kvHeads !== 0) throw new RangeError(`${heads} query heads cannot share ${kvHeads} KV heads evenly`);
    const kv = c.layers[layer];
    const scale = Math.fround(1 / Math.sqrt(headDim));
    const params = [start, heads, headDim, c.kvDim, heads / kvHeads, f(scale)];
    // One dispatch appends k and v to the cache and attends (see the kernel).
    this.ctx.dispatch(K.ATTENTION_KERNEL, [act(q), act(k), act(v), kv.k, kv.v, act(out)], params, [heads, nTok], undefined, c.bindGroups);
  }

  siluMul(gate: Activation, up: Activation, n: number): void {
    this.each(K.SILU_MUL_KERNEL, [act(gate), act(up)], n);
  }

  add(dst: Activation, src: Activation, n: number): void {
    this.each(K.ADD_KERNEL, [act(dst), act(src)], n);
  }

  copy(src: Activation, srcOffset: number, dst: Activation, dstOffset: number, elements: number): void {
    if (srcOffset + elements > src.elements || dstOffset + elements > dst.elements) throw new RangeError(`copy of ${elements} values overflows its buffers`);
    this.each(K.COPY_KERNEL, [act(src), act(dst)], elements, [srcOffset, dstOffset]);
  }

  /** Waits for the queue, then destroys the device so Dawn lets the process exit. */
  async dispose(): Promise<void> {
    if (!this.gpu) return;
    this.ctx.submit();
    await this.ctx.device.queue.onSubmittedWorkDone();
    this.ctx.destroy();
    this.gpu = undefined;
  }
}
