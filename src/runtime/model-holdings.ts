// What models this node holds, told to the cluster, and how a runner gets a shard it lacks.
//   - At start (and every RESCAN_MS) the models directory is indexed (models/scan.ts) and each complete
//     file gets its per-tensor manifest (shard/tensor-manifest.ts). The list goes into the replicated
//     state as NodeModelsUpdated, so placement and peers know who holds what.
//   - The node serves its complete models' byte ranges to peers (/tessera/model-range/1.0.0).
//   - A runner that must run layers [a, b) of a model it does not hold fetches only that shard's tensors
//     (plus the header) from peers that hold it, checking each against the manifest, and reports
//     progress as NodeDownloadProgress (at most one event a second, plus the last).
import { wholeModelHolders, type ClusterState, type Event, type HeldModel } from "../cluster/index.js";
import type { LayerRange } from "../engine/model.js";
import { resolveModelRef, scanModels, type ModelIndexEntry } from "../models/index.js";
import type { TesseraHost } from "../net/index.js";
import { ModelCatalog } from "../shard/model-catalog.js";
import { ModelRangeServer } from "../shard/range-server.js";
import { fetchShard, type FetchProgress } from "../shard/shard-fetch.js";

export const RESCAN_MS = 60_000;
const PROGRESS_EVERY_MS = 1000;

export interface HoldingsNode {
  readonly nodeId: string;
  readonly state: ClusterState;
  readonly host: TesseraHost;
  propose(events: readonly Event[]): Promise<void>;
  onApplied(listener: () => void): () => void;
}

/** Where a model named as in the cluster lives under a models directory: `owner/repo:file` → owner/repo/file. */
export function storeName(model: string): string {
  const colon = model.indexOf(":");
  return colon < 0 ? model : `${model.slice(0, colon)}/${model.slice(colon + 1)}`;
}

export class ModelHoldings {
  private readonly catalog = new ModelCatalog();
  private readonly server = new ModelRangeServer(this.catalog);
  private held: HeldModel[] | undefined;
  /** The state's list last found equal to `held`: every applied event checks, and most change nothing. */
  private confirmed: readonly HeldModel[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private off: (() => void) | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly node: HoldingsNode, private readonly modelsDir: string, private readonly warn: (m: string) => void = (m) => process.stderr.write(`tessera: models: ${m}\n`)) {}

  /** Bytes served to peers so far (tests and `/runners` read it). */
  get bytesServed(): number {
    return this.server.stats.bytesServed;
  }

  async start(): Promise<void> {
    await this.server.start(this.node.host.node);
    // A rejoin clears our entry in the state: say it again.
    this.off = this.node.onApplied(() => void this.publish());
    this.timer = setInterval(() => void this.rescan(), RESCAN_MS);
    this.timer.unref();
    void this.rescan();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.off?.();
    await this.scanning?.catch(() => undefined);
    await this.server.stop();
  }

  /** Indexes the models directory again and publishes what changed. */
  rescan(): Promise<void> {
    this.scanning ??= this.scan().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scan(): Promise<void> {
    let entries: ModelIndexEntry[];
    try {
      entries = await scanModels(this.modelsDir, { onSkip: (path, why) => this.warn(`skipped ${path}: ${why}`) });
    } catch (e) {
      return this.warn(`cannot index ${this.modelsDir}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const held: HeldModel[] = [];
    for (const e of entries.slice(0, 256)) {
      if (this.stopped) return;
      let tensorManifest: string | undefined;
      try {
        tensorManifest = (await this.catalog.add(e.path)).sha256;
      } catch (err) {
        this.warn(`${e.name} is not served to peers: ${err instanceof Error ? err.message : String(err)}`);
      }
      held.push({
        name: e.name.slice(0, 256),
        sizeBytes: e.size,
        sha256: e.sha256,
        ...(e.architecture ? { architecture: e.architecture.slice(0, 64) } : {}),
        ...(e.layers !== null ? { layers: e.layers } : {}),
        ...(e.tensorTypes[0] ? { weightType: e.tensorTypes[0] } : {}),
        ...(tensorManifest ? { tensorManifest } : {}),
      });
    }
    this.held = held;
    this.confirmed = undefined;
    await this.publish();
  }

  /** Proposes our list while the state does not hold exactly it. */
  private async publish(): Promise<void> {
    const held = this.held;
    const self = this.node.state.nodes[this.node.nodeId];
    if (held === undefined || this.stopped || self?.status !== "alive") return;
    if (self.models !== undefined && self.models === this.confirmed) return;
    if (JSON.stringify(self.models ?? null) === JSON.stringify(held)) {
      this.confirmed = self.models;
      return;
    }
    await this.node.propose([{ type: "NodeModelsUpdated", nodeId: this.node.nodeId, models: held }]).catch((e: unknown) => this.warn(`list not published: ${e instanceof Error ? e.message : String(e)}`));
  }

  /**
   * A file to load layers `range` of `model` from: the complete file when this node has it, else a
   * partial one holding that shard, fetched from the peers that hold the model.
   */
  async shardFile(model: string, range: LayerRange, signal?: AbortSignal): Promise<string> {
    let localError: string;
    try {
      return (await resolveModelRef(model, this.modelsDir)).path;
    } catch (e) {
      localError = `model ${model} is not on this node (${e instanceof Error ? e.message : String(e)})`;
    }
    const holders = wholeModelHolders(this.node.state, model, this.node.nodeId);
    if (holders.length === 0) throw new Error(`${localError}; and no peer in the cluster holds ${model}`);
    // Peers holding the same file (same manifest) are all sources; the first's copy decides which.
    const manifest = holders[0].held.tensorManifest!;
    const peers = holders.filter((h) => h.held.tensorManifest === manifest).map((h) => h.nodeId);
    const name = storeName(holders[0].held.name);
    const progress = new ProgressReporter(this.node, model);
    try {
      const result = await fetchShard({ host: this.node.host, peers, modelId: manifest, range, modelsDir: this.modelsDir, name, signal, onProgress: (p) => progress.update(p) });
      await progress.finish("done");
      if (result.complete) void this.rescan();
      return result.path;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await progress.finish("failed", message);
      throw new Error(`fetching layers [${range.start}, ${range.end}) of ${model} from peers failed: ${message}`, { cause: e });
    }
  }
}

/** Turns a fetch's frequent progress calls into at most one NodeDownloadProgress a second. */
class ProgressReporter {
  private last: FetchProgress | undefined;
  private sentAt = 0;

  constructor(private readonly node: HoldingsNode, private readonly model: string) {}

  update(p: FetchProgress): void {
    this.last = p;
    const now = Date.now();
    if (now - this.sentAt < PROGRESS_EVERY_MS) return;
    this.sentAt = now;
    void this.send("downloading");
  }

  async finish(status: "done" | "failed", error?: string): Promise<void> {
    await this.send(status, error);
  }

  private async send(status: "downloading" | "done" | "failed", error?: string): Promise<void> {
    const p = this.last;
    const bytesTotal = p?.bytesTotal ?? 0;
    const bytesDone = status === "done" ? bytesTotal : Math.min(p?.bytesDone ?? 0, bytesTotal);
    const event: Event = {
      type: "NodeDownloadProgress", nodeId: this.node.nodeId, model: this.model.slice(0, 256), source: "peer",
      bytesDone, bytesTotal, status, at: Date.now(), ...(error ? { error: error.slice(0, 256) } : {}),
    };
    await this.node.propose([event]).catch(() => undefined);
  }
}
