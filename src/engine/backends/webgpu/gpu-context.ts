// The device side of the backend: one GPUDevice, compiled pipelines, and a queue of dispatches.
// Ops only record dispatches into one open compute pass (WebGPU orders dispatches within a pass and
// makes each one's writes visible to the next); work is submitted every SUBMIT_EVERY dispatches, and
// when the host needs a result (read), writes a buffer, or the parameter arena fills up. Queue order
// keeps each slice's parameter upload after the slices before it have run.
//
// Every dispatch's parameters (a small uniform struct, plus variable data such as token ids or
// positions) go into one arena buffer at 256-byte steps and are bound with dynamic offsets, so a bind
// group depends only on the buffers and is cached: a decode step creates no new GPU objects.
import { BufferUsage, MapMode, ShaderStage } from "./gpu-constants.js";

/** Bytes of each dispatch's uniform struct. */
const PARAM_BYTES = 64;
/** Bytes of each dispatch's variable data binding (token ids, positions). */
export const DATA_BYTES = 16384;
const ARENA_BYTES = 1 << 20;
const MAX_BIND_GROUPS = 4096;
/**
 * Dispatches recorded before they are submitted without waiting for a read. Recording a dispatch
 * costs the host microseconds, so a decode step recorded whole and then submitted leaves the GPU
 * idle for that long; slices let it start early. A submit costs about as much as a few dispatches.
 */
export const SUBMIT_EVERY = 16;

export type BindingKind = "storage" | "read-only-storage";

export interface KernelSpec {
  readonly name: string;
  readonly code: string;
  /** Storage buffers after the uniform (binding 0), in binding order. */
  readonly buffers: readonly BindingKind[];
  /** The kernel also reads a variable data block bound right after the uniform (binding 1). */
  readonly data?: boolean;
}

interface Kernel {
  readonly spec: KernelSpec;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

/** Parameters of one dispatch, written as 32-bit words; floats are marked with f(). */
export type Param = number | { readonly f: number };
export const f = (x: number): Param => ({ f: x });

interface BindGroupNode {
  group?: GPUBindGroup;
  next?: Map<GPUBuffer, BindGroupNode>;
}

/**
 * Bind groups by pipeline and then by each bound buffer in turn: a lookup walks a few maps keyed by
 * the objects themselves (a string key per dispatch cost microseconds). Bind groups hold their
 * buffers alive, so a cache shared by short-lived buffers is bounded.
 */
export class BindGroupCache {
  private readonly roots = new Map<GPUComputePipeline, BindGroupNode>();
  private size = 0;
  constructor(private readonly limit = Infinity) {}

  get(pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[]): GPUBindGroup | undefined {
    let node = this.roots.get(pipeline);
    for (let i = 0; node && i < buffers.length; i++) node = node.next?.get(buffers[i]);
    return node?.group;
  }

  set(pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[], group: GPUBindGroup): void {
    if (this.size >= this.limit) this.clear();
    let node = this.roots.get(pipeline);
    if (!node) this.roots.set(pipeline, (node = {}));
    for (const b of buffers) {
      node.next ??= new Map();
      let child = node.next.get(b);
      if (!child) node.next.set(b, (child = {}));
      node = child;
    }
    node.group = group;
    this.size++;
  }

  clear(): void {
    this.roots.clear();
    this.size = 0;
  }
}

export class WebGpuDeviceError extends Error {
  override readonly name = "WebGpuDeviceError";
}

export class GpuContext {
  private readonly kernels = new Map<string, Kernel>();
  private readonly bindGroups = new BindGroupCache(MAX_BIND_GROUPS);
  private readonly arena: GPUBuffer;
  private readonly arenaHost = new ArrayBuffer(ARENA_BYTES + DATA_BYTES);
  private readonly arenaU32 = new Uint32Array(this.arenaHost);
  private readonly arenaF32 = new Float32Array(this.arenaHost);
  private arenaUsed = 0;
  private encoder?: GPUCommandEncoder;
  private pass?: GPUComputePassEncoder;
  private readonly staging: GPUBuffer[] = [];
  /** Errors Dawn reported without a caller to throw to; the next read throws the first. */
  private readonly errors: string[] = [];
  private destroyed = false;
  private readonly submitChecks: Promise<string | undefined>[] = [];
  private scopeOpen = false;
  /** Bytes between dispatch parameter blocks: WebGPU's dynamic offset alignment, at least 256. */
  private readonly step: number;
  private readonly maxGroupsPerDimension: number;
  /** The pipeline last set in the open pass: setting it again for the next dispatch is skipped. */
  private passPipeline?: GPUComputePipeline;
  /** Dispatches recorded since the last submit. */
  private pending = 0;
  /** Dispatches and submits so far (benchmarks report them per token). */
  dispatches = 0;
  submits = 0;

  /** submitEvery: dispatches per slice (0: submit only when the host needs a result or the arena fills). */
  constructor(readonly device: GPUDevice, private submitEvery = SUBMIT_EVERY) {
    const l = device.limits;
    this.step = Math.max(256, l.minUniformBufferOffsetAlignment, l.minStorageBufferOffsetAlignment);
    this.maxGroupsPerDimension = l.maxComputeWorkgroupsPerDimension;
    this.arena = device.createBuffer({ size: ARENA_BYTES + DATA_BYTES, usage: BufferUsage.UNIFORM | BufferUsage.STORAGE | BufferUsage.COPY_DST });
    device.addEventListener("uncapturederror", (e) => this.errors.push((e as GPUUncapturedErrorEvent).error.message));
    void device.lost.then((info) => {
      if (!this.destroyed) this.errors.push(`WebGPU device lost (${info.reason}): ${info.message}`);
    });
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  createBuffer(bytes: number, usage: number): GPUBuffer {
    return this.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage });
  }

  private kernel(spec: KernelSpec): Kernel {
    const known = this.kernels.get(spec.name);
    if (known) return known;
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: ShaderStage.COMPUTE, buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: PARAM_BYTES } },
    ];
    if (spec.data) entries.push({ binding: 1, visibility: ShaderStage.COMPUTE, buffer: { type: "read-only-storage", hasDynamicOffset: true } });
    const first = entries.length;
    spec.buffers.forEach((type, i) => entries.push({ binding: first + i, visibility: ShaderStage.COMPUTE, buffer: { type } }));
    const layout = this.device.createBindGroupLayout({ entries });
    const module = this.device.createShaderModule({ code: spec.code, label: spec.name });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
      label: spec.name,
    });
    const k = { spec, pipeline, layout };
    this.kernels.set(spec.name, k);
    return k;
  }

  private bindGroup(k: Kernel, buffers: readonly GPUBuffer[], cache: BindGroupCache): GPUBindGroup {
    const known = cache.get(k.pipeline, buffers);
    if (known) return known;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arena, size: PARAM_BYTES } }];
    if (k.spec.data) entries.push({ binding: 1, resource: { buffer: this.arena, size: DATA_BYTES } });
    const first = entries.length;
    buffers.forEach((buffer, i) => entries.push({ binding: first + i, resource: { buffer } }));
    const group = this.device.createBindGroup({ layout: k.layout, entries });
    cache.set(k.pipeline, buffers, group);
    return group;
  }

  /** Reserves arena bytes at the dynamic offset step. */
  private reserve(bytes: number): number {
    const size = Math.ceil(bytes / this.step) * this.step;
    if (this.arenaUsed + size > ARENA_BYTES) this.submit();
    const at = this.arenaUsed;
    this.arenaUsed += size;
    return at;
  }

  /**
   * Records one dispatch. `params` fill the kernel's uniform struct in order; `data` (u32 words) is
   * the variable block of kernels that declare one. Dispatches that bind short-lived buffers (a
   * sequence's KV cache) pass a bind-group cache owned by that object, so its buffers die with it.
   */
  dispatch(
    spec: KernelSpec, buffers: readonly GPUBuffer[], params: readonly Param[], groups: readonly [number, number?, number?],
    data?: Uint32Array, groupCache: BindGroupCache = this.bindGroups,
  ): void {
    if (this.destroyed) throw new WebGpuDeviceError("the WebGPU backend was disposed");
    if (buffers.length !== spec.buffers.length) throw new RangeError(`${spec.name} takes ${spec.buffers.length} buffers, got ${buffers.length}`);
    if (params.length * 4 > PARAM_BYTES) throw new RangeError(`${spec.name}: too many parameters`);
    // WebGPU forbids binding one buffer twice in a dispatch when either binding is writable.
    for (let i = 1; i < buffers.length; i++) {
      for (let j = 0; j < i; j++) {
        if (buffers[i] === buffers[j]) throw new RangeError(`${spec.name}: the same buffer is passed twice; the WebGPU backend cannot alias its operands`);
      }
    }
    const k = this.kernel(spec);
    const dataBytes = spec.data ? (data?.byteLength ?? 0) : 0;
    if (dataBytes > DATA_BYTES) throw new RangeError(`${spec.name}: ${dataBytes / 4} data words exceed the ${DATA_BYTES / 4} a dispatch carries`);
    // Parameters and data are reserved together: a reservation may submit and restart the arena.
    const pOff = this.reserve(this.step + dataBytes);
    const at = pOff / 4;
    for (let i = 0; i < params.length; i++) {
      const v = params[i];
      if (typeof v === "number") this.arenaU32[at + i] = v;
      else this.arenaF32[at + i] = v.f;
    }
    const pass = this.openPass();
    if (this.passPipeline !== k.pipeline) {
      pass.setPipeline(k.pipeline);
      this.passPipeline = k.pipeline;
    }
    const group = this.bindGroup(k, buffers, groupCache);
    if (spec.data) {
      if (data) this.arenaU32.set(data, (pOff + this.step) / 4);
      pass.setBindGroup(0, group, [pOff, pOff + this.step]);
    } else pass.setBindGroup(0, group, [pOff]);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    // Hand recorded work to the GPU in slices, so it runs while the rest of the step is recorded.
    this.dispatches++;
    if (++this.pending === this.submitEvery) this.submit();
  }

  /** Splits `groups` workgroups over x and y within the per-dimension limit; returns [x, y]. */
  grid(groups: number): [number, number] {
    const max = this.maxGroupsPerDimension;
    if (groups <= max) return [Math.max(groups, 1), 1];
    const y = Math.ceil(groups / max);
    if (y > max) throw new RangeError(`${groups} workgroups exceed one dispatch`);
    return [Math.ceil(groups / y), y];
  }

  private openPass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    if (!this.pass) {
      this.pass = this.encoder.beginComputePass();
      this.passPipeline = undefined;
    }
    return this.pass;
  }

  /**
   * Sends everything recorded so far to the GPU. The arena's bytes go first, in queue order. An error
   * scope catches validation errors of the recorded work, which the next read reports.
   */
  submit(): void {
    this.pending = 0;
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = undefined;
    // One scope spans every submit up to the next read (a scope per submit cost as much as the submit).
    if (!this.scopeOpen) {
      this.device.pushErrorScope("validation");
      this.scopeOpen = true;
    }
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaHost, 0, this.arenaUsed);
    this.arenaUsed = 0;
    this.device.queue.submit([this.encoder.finish()]);
    this.submits++;
    this.encoder = undefined;
  }

  /** Closes the error scope of the submits since the last read; the read awaits its verdict. */
  private closeScope(): void {
    if (!this.scopeOpen) return;
    this.scopeOpen = false;
    this.submitChecks.push(this.device.popErrorScope().then((e) => e?.message));
  }

  /** Host → buffer, after everything recorded before it (which may read the old contents). */
  write(dst: GPUBuffer, dstOffset: number, src: ArrayBufferView): void {
    this.submit();
    this.device.queue.writeBuffer(dst, dstOffset, src.buffer, src.byteOffset, src.byteLength);
  }

  /**
   * GPU time in seconds of the dispatches `record` makes, from timestamps written at the start and end
   * of one compute pass holding them; undefined where the device lacks "timestamp-query". Benchmarks
   * use it to time kernels apart from the host's cost of issuing them.
   */
  async gpuSeconds(record: () => void): Promise<number | undefined> {
    if (!this.device.features.has("timestamp-query")) return undefined;
    this.submit();
    const querySet = this.device.createQuerySet({ type: "timestamp", count: 2 });
    const resolved = this.device.createBuffer({ size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    this.encoder = this.device.createCommandEncoder();
    this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    this.passPipeline = undefined;
    // No slices inside the timed pass: a submit would end it.
    const every = this.submitEvery;
    this.submitEvery = 0;
    try {
      record();
    } finally {
      this.submitEvery = every;
    }
    this.pass.end();
    this.pass = undefined;
    this.encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
    const ticks = new BigUint64Array(await this.read(resolved, 0, 16));
    querySet.destroy();
    resolved.destroy();
    return Number(ticks[1] - ticks[0]) / 1e9;
  }

  /** Buffer → host once every recorded op has run. */
  async read(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    this.throwPending();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.takeStaging(size);
    this.encoder ??= this.device.createCommandEncoder();
    this.pass?.end();
    this.pass = undefined;
    this.encoder.copyBufferToBuffer(src, offset, staging, 0, size);
    this.submit();
    this.closeScope();
    try {
      await staging.mapAsync(MapMode.READ, 0, size);
      const out = staging.getMappedRange(0, size).slice(0, bytes);
      staging.unmap();
      for (const message of await Promise.all(this.submitChecks.splice(0))) {
        if (message) throw new WebGpuDeviceError(`WebGPU rejected the recorded work: ${message}`);
      }
      return out;
    } catch (e) {
      this.throwPending();
      throw e;
    } finally {
      this.staging.push(staging);
    }
  }

  /** A read-back buffer of at least `size` bytes, reused across reads. */
  private takeStaging(size: number): GPUBuffer {
    const i = this.staging.findIndex((b) => b.size >= size);
    if (i >= 0) return this.staging.splice(i, 1)[0];
    return this.device.createBuffer({ size: Math.max(size, 4096), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  }

  /** Throws the first error Dawn reported asynchronously (validation, out of memory, device lost). */
  throwPending(): void {
    if (this.errors.length > 0) throw new WebGpuDeviceError(this.errors[0]);
  }

  /** Checks a group of allocations for out-of-memory errors (WebGPU reports them asynchronously). */
  async allocationError(scope: () => void): Promise<string | undefined> {
    this.device.pushErrorScope("out-of-memory");
    scope();
    const e = await this.device.popErrorScope();
    return e?.message;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pass?.end();
    this.pass = undefined;
    this.encoder = undefined;
    this.bindGroups.clear();
    this.kernels.clear();
    this.device.destroy();
  }
}
