// Puts this node's device into the cluster state: its static profile once per membership
// (NodeProfileUpdated, with the measured CPU-backend rate), then a telemetry sample every period
// (NodeTelemetryUpdated, plus DeviceGPUStateUpdated while it has GPUs). Also keeps the history of every
// node's samples as they are applied, for GET /telemetry/:nodeId.
import { cpuBackendVersion } from "../devices/benchmark.js";
import { cachedCpuBenchmarkOffThread, type OffThreadBenchmark } from "../devices/benchmark-off-thread.js";
import type { BackendChoice } from "../engine/backends/select.js";
import { toLooseRecord } from "../devices/loose.js";
import { gpuMemoryFor } from "../devices/gpu-memory.js";
import { toPlacementProfile } from "../devices/placement.js";
import { collectProfile } from "../devices/profile.js";
import { TelemetrySampler } from "../devices/telemetry-sampler.js";
import { gpuRecord, telemetryRecord, type TelemetrySample } from "../devices/telemetry.js";
import type { CachedBenchmark } from "../devices/profile-cache.js";
import type { DeviceProfile } from "../devices/types.js";
import { EventSchema, type ClusterState, type Event, type IndexedEvent, type LooseRecord } from "../cluster/index.js";
import { TelemetryHistory } from "./telemetry-history.js";

export const DEFAULT_TELEMETRY_MS = 2000;
/** A profile proposed but not yet in the state is proposed again after this long (the master may have changed). */
const PROFILE_RETRY_MS = 5000;

export interface TelemetryNode {
  readonly nodeId: string;
  readonly name: string;
  readonly state: ClusterState;
  readonly applied: readonly IndexedEvent[];
  propose(events: readonly Event[]): Promise<void>;
  onApplied(listener: (events: readonly IndexedEvent[]) => void): () => void;
  /** Every proposed event as it is heard: the log keeps only telemetry that matters (telemetry-coalesce.ts). */
  onProposed?(listener: (events: readonly Event[]) => void): () => void;
}

/** A history that follows the node's applied log from now on, seeded with what it has applied already. */
export function followHistory(node: TelemetryNode, history = new TelemetryHistory()): { history: TelemetryHistory; stop: () => void } {
  const keep = (id: string) => {
    const status = node.state.nodes[id]?.status;
    return status !== undefined && status !== "left";
  };
  history.observe(node.applied, Date.now());
  history.retain(keep);
  const stopApplied = node.onApplied((events) => {
    history.observe(events, Date.now());
    history.retain(keep);
  });
  const stopProposed = node.onProposed?.((events) => history.observeEvents(events, Date.now()));
  return {
    history,
    stop: () => {
      stopApplied();
      stopProposed?.();
    },
  };
}

/** The NodeProfileUpdated payload: the profile, the measured CPU backend, and the solver's view of both. */
/** The WebGPU backend's measured matvec rate, when the node runs stages on a GPU. */
export interface GpuRate {
  readonly adapter: string;
  readonly q8_0GBs: number;
  /** What the adapter can hold, from the vendor tool's view of the same card; absent: system memory. */
  readonly memoryBytes?: number;
}

export function profileRecord(nodeId: string, name: string, profile: DeviceProfile, cpu: CachedBenchmark | null, benchmarkError?: string, memoryLimitBytes?: number, gpu?: GpuRate): LooseRecord | null {
  const notes = benchmarkError === undefined ? profile.notes : [...profile.notes, `benchmark: ${benchmarkError}`];
  return toLooseRecord({
    ...profile,
    notes,
    benchmark: cpu === null ? null : { ...cpu.benchmark, fromCache: cpu.fromCache },
    // The limit travels beside the solver's view, since telemetry's free memory replaces memoryBytes.
    ...(gpu ? { webgpu: { ...gpu } } : {}),
    placement: cpu === null ? null : withGpu(toPlacementProfile(profile, cpu.benchmark, { id: nodeId, name, memoryLimitBytes }), gpu, memoryLimitBytes),
  });
}

/**
 * The solver's view, with the rate of the backend this node's stages run on (a measured GPU rate means
 * they run on WebGPU: --backend webgpu, or auto on a hardware GPU) and the memory cap.
 */
function withGpu(view: ReturnType<typeof toPlacementProfile>, gpu: GpuRate | undefined, memoryLimitBytes: number | undefined) {
  const backends = gpu ? [{ kind: "webgpu" as const, weightBytesPerSec: gpu.q8_0GBs * 1e9 }] : view.backends;
  // A discrete GPU holds the stages' weights and caches in its own memory, not the system's.
  const gpuMemory = gpu?.memoryBytes;
  return {
    ...view,
    backends,
    ...(gpuMemory !== undefined ? { gpuMemoryBytes: gpuMemory, memoryBytes: Math.min(gpuMemory, memoryLimitBytes ?? Infinity) } : {}),
    ...(memoryLimitBytes !== undefined ? { memoryLimitBytes } : {}),
  };
}

/** The events one sample becomes; GPU state is sent while there are GPUs and once more when they are gone. */
export function sampleEvents(nodeId: string, sample: TelemetrySample, hadGpus: boolean): Event[] {
  const events: Event[] = [];
  if (sample.gpus.length > 0 || hadGpus) events.push({ type: "DeviceGPUStateUpdated", nodeId, gpus: sample.gpus.slice(0, 64).map(gpuRecord) });
  events.push({ type: "NodeTelemetryUpdated", nodeId, telemetry: telemetryRecord(sample) });
  return events;
}

export interface PublisherOptions {
  readonly periodMs: number;
  /** Where the benchmark cache lives (the node's data directory). */
  readonly dataDir: string;
  /** The node's stage thread count: the benchmark measures the matmul rate with it (default 1). */
  readonly threads?: number;
  /** `--max-memory`: the most memory this node offers the cluster, whatever is free. */
  readonly memoryLimitBytes?: number;
  /** The stages' backend (`--backend`): with webgpu, or auto on a hardware GPU, its rate is measured too. */
  readonly backend?: BackendChoice;
  readonly gpu?: number;
  readonly sampler?: TelemetrySampler;
  /** Problems worth a line on stderr; each distinct message is reported once. */
  readonly warn?: (message: string) => void;
}

export class TelemetryPublisher {
  private timer: NodeJS.Timeout | undefined;
  private off: (() => void) | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private hadGpus = false;
  private profile: LooseRecord | null = null;
  private profileSentAt = -Infinity;
  private benchmark: OffThreadBenchmark | undefined;
  private readonly warned = new Set<string>();
  private readonly sampler: TelemetrySampler;
  /** Samples proposed so far. */
  published = 0;

  constructor(private readonly node: TelemetryNode, private readonly options: PublisherOptions) {
    this.sampler = options.sampler ?? new TelemetrySampler();
  }

  async start(): Promise<void> {
    await this.sampler.prime();
    this.timer = setInterval(() => this.tick(), this.options.periodMs);
    this.off = this.node.onApplied(() => void this.proposeProfile());
    void this.loadProfile();
  }

  private warn(message: string): void {
    if (this.warned.has(message) || this.warned.size > 32) return;
    this.warned.add(message);
    (this.options.warn ?? ((m) => process.stderr.write(`tessera: telemetry: ${m}\n`)))(message);
  }

  private get selfAlive(): boolean {
    return this.node.state.nodes[this.node.nodeId]?.status === "alive";
  }

  /** One sample per period; a sample still running when the next is due (a slow tool) skips that one. */
  private tick(): void {
    if (this.inFlight || this.stopped) return;
    this.inFlight = this.publishSample().finally(() => (this.inFlight = undefined));
  }

  private async publishSample(): Promise<void> {
    try {
      const sample = await this.sampler.sample();
      // Until the master has recorded our join, the state would ignore what we say.
      if (this.stopped || !this.selfAlive) return;
      const events = sampleEvents(this.node.nodeId, sample, this.hadGpus).filter((e) => this.valid(e));
      this.hadGpus = sample.gpus.length > 0;
      await this.node.propose(events);
      this.published++;
      await this.proposeProfile();
    } catch (e) {
      this.warn(`sample not published: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private valid(e: Event): boolean {
    const r = EventSchema.safeParse(e);
    if (!r.success) this.warn(`${e.type} left out: ${r.error.issues[0]?.message ?? "invalid"}`);
    return r.success;
  }

  /** Collects the profile and runs the (cached) benchmark off the event loop; proposes when both are in. */
  private async loadProfile(): Promise<void> {
    const profile = await collectProfile();
    let cpu: CachedBenchmark | null = null;
    let error: string | undefined;
    if (this.stopped) return;
    this.benchmark = cachedCpuBenchmarkOffThread({ dataDir: this.options.dataDir, hostname: profile.identity.hostname, cpuModel: profile.cpu.model, backendVersion: cpuBackendVersion(), threads: this.options.threads ?? 1 });
    try {
      cpu = await this.benchmark.result;
    } catch (e) {
      if (this.stopped) return;
      error = e instanceof Error ? e.message : String(e);
      this.warn(`no CPU benchmark: ${error}`);
    }
    const gpu = await this.measureGpu(profile.gpus);
    if (this.stopped) return;
    this.profile = profileRecord(this.node.nodeId, this.node.name, profile, cpu, error, this.options.memoryLimitBytes, gpu);
    if (this.profile === null) this.warn("the device profile is over the cluster's size limits; not published");
    await this.proposeProfile();
  }

  /** The WebGPU matvec rate on the adapter the stages will use; none for CPU-only nodes. */
  private async measureGpu(cards: DeviceProfile["gpus"]): Promise<GpuRate | undefined> {
    const choice = this.options.backend ?? "cpu";
    if (choice === "cpu") return undefined;
    try {
      // Loaded on demand: Dawn's native module only matters to nodes that use a GPU.
      const webgpu = await import("../engine/backends/webgpu/index.js");
      const { measureMatvecRate } = await import("../engine/backends/webgpu/benchmark.js");
      let index = this.options.gpu;
      if (index === undefined) {
        const adapters = await webgpu.describeAdapters();
        const pick = choice === "auto" ? adapters.find((a) => a.kind !== "cpu") : adapters[0];
        if (!pick) return undefined;
        index = pick.index;
      }
      const backend = await webgpu.WebGpuBackend.create({ gpu: index });
      try {
        // A software adapter streams ~0.1 GB/s: a few passes are plenty, and keep the start light.
        const rate = await measureMatvecRate({ backend, iterations: backend.adapter.kind === "cpu" ? 3 : 100 });
        const memoryBytes = gpuMemoryFor(backend.adapter, cards);
        return { adapter: rate.adapter.slice(0, 200), q8_0GBs: rate.bytesPerSecond / 1e9, ...(memoryBytes !== undefined ? { memoryBytes } : {}) };
      } finally {
        await backend.dispose();
      }
    } catch (e) {
      this.warn(`no WebGPU rate: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }

  /**
   * Proposes our profile while the state does not hold this run's (collectedAt tells runs apart): at
   * start, after a rejoin (which clears it), or when an earlier proposal was lost.
   */
  private async proposeProfile(): Promise<void> {
    const profile = this.profile;
    if (profile === null || this.stopped || !this.selfAlive) return;
    const current = this.node.state.nodes[this.node.nodeId]?.device;
    if (current !== undefined && current["collectedAt"] === profile["collectedAt"]) return;
    const now = Date.now();
    if (now - this.profileSentAt < PROFILE_RETRY_MS) return;
    this.profileSentAt = now;
    const event: Event = { type: "NodeProfileUpdated", nodeId: this.node.nodeId, profile };
    if (this.valid(event)) await this.node.propose([event]).catch((e: unknown) => this.warn(`profile not published: ${e instanceof Error ? e.message : String(e)}`));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.off?.();
    await this.benchmark?.cancel();
    await this.inFlight;
  }
}
