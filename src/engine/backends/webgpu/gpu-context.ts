// The device side of the backend: one GPUDevice, compiled pipelines, and a queue of dispatches.
// Ops only record dispatches into one open compute pass (WebGPU orders dispatches within a pass and
// makes each one's writes visible to the next); work is submitted when the host needs a result
// (read), writes a buffer, or the parameter arena fills up.
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

export class WebGpuDeviceError extends Error {
  override readonly name = "WebGpuDeviceError";
}

export class GpuContext {
  private readonly kernels = new Map<string, Kernel>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
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

  constructor(readonly device: GPUDevice) {
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

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  private bindGroup(k: Kernel, buffers: readonly GPUBuffer[], cache: Map<string, GPUBindGroup>): GPUBindGroup {
    const key = `${k.spec.name}|${buffers.map((b) => this.bufferId(b)).join(",")}`;
    const known = cache.get(key);
    if (known) return known;
    // Bind groups hold their buffers alive, so the shared cache is bounded.
    if (cache.size >= MAX_BIND_GROUPS) cache.clear();
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arena, size: PARAM_BYTES } }];
    if (k.spec.data) entries.push({ binding: 1, resource: { buffer: this.arena, size: DATA_BYTES } });
    const first = entries.length;
    buffers.forEach((buffer, i) => entries.push({ binding: first + i, resource: { buffer } }));
    const group = this.device.createBindGroup({ layout: k.layout, entries });
    cache.set(key, group);
    return group;
  }

  /** Reserves arena bytes at a 256-byte step (WebGPU's dynamic offset alignment). */
  private offsetStep(): number {
    return Math.max(256, this.device.limits.minUniformBufferOffsetAlignment, this.device.limits.minStorageBufferOffsetAlignment);
  }

  private reserve(bytes: number): number {
    const step = this.offsetStep();
    const size = Math.ceil(bytes / step) * step;
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
    data?: Uint32Array, groupCache: Map<string, GPUBindGroup> = this.bindGroups,
  ): void {
    if (this.destroyed) throw new WebGpuDeviceError("the WebGPU backend was disposed");
    if (buffers.length !== spec.buffers.length) throw new RangeError(`${spec.name} takes ${spec.buffers.length} buffers, got ${buffers.length}`);
    if (params.length * 4 > PARAM_BYTES) throw new RangeError(`${spec.name}: too many parameters`);
    // WebGPU forbids binding one buffer twice in a dispatch when either binding is writable.
    if (new Set(buffers).size !== buffers.length) throw new RangeError(`${spec.name}: the same buffer is passed twice; the WebGPU backend cannot alias its operands`);
    const k = this.kernel(spec);
    const words = data ?? new Uint32Array(0);
    if (words.byteLength > DATA_BYTES) throw new RangeError(`${spec.name}: ${words.length} data words exceed the ${DATA_BYTES / 4} a dispatch carries`);
    // Parameters and data are reserved together: a reservation may submit and restart the arena.
    const step = this.offsetStep();
    const pOff = this.reserve(step + (spec.data ? words.byteLength : 0));
    params.forEach((v, i) => {
      if (typeof v === "number") this.arenaU32[pOff / 4 + i] = v;
      else this.arenaF32[pOff / 4 + i] = v.f;
    });
    const offsets = [pOff];
    if (spec.data) {
      this.arenaU32.set(words, (pOff + step) / 4);
      offsets.push(pOff + step);
    }
    const pass = this.openPass();
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, this.bindGroup(k, buffers, groupCache), offsets);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
  }

  /** Splits `groups` workgroups over x and y within the per-dimension limit; returns [x, y]. */
  grid(groups: number): [number, number] {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= max) return [Math.max(groups, 1), 1];
    const y = Math.ceil(groups / max);
    if (y > max) throw new RangeError(`${groups} workgroups exceed one dispatch`);
    return [Math.ceil(groups / y), y];
  }

  private openPass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    return this.pass;
  }

  /**
   * Sends everything recorded so far to the GPU. The arena's bytes go first, in queue order. An error
   * scope catches validation errors of the recorded work, which the next read reports.
   */
  submit(): void {
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = undefined;
    this.device.pushErrorScope("validation");
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaHost, 0, this.arenaUsed);
    this.arenaUsed = 0;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = undefined;
    this.submitChecks.push(this.device.popErrorScope().then((e) => e?.message));
  }

  /** Host → buffer, after everything recorded before it (which may read the old contents). */
  write(dst: GPUBuffer, dstOffset: number, src: ArrayBufferView): void {
    this.submit();
    this.device.queue.writeBuffer(dst, dstOffset, src.buffer, src.byteOffset, src.byteLength);
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
