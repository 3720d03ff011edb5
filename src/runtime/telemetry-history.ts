// Recent telemetry of every node, as this node saw it applied from the log: the replicated state keeps
// only each node's latest sample, GET /telemetry/:nodeId?window=S wants a series. Bounded by age (the
// sample's own timestamp against this node's clock, so clocks are assumed roughly in step, as NTP keeps
// them) and by count per node. Samples are keyed by their timestamp: the log replayed after a resync,
// or a catch-up from index 0, adds nothing twice and nothing older than the window.
import type { LooseRecord } from "../cluster/bounded.js";
import type { Event, IndexedEvent, NodeId } from "../cluster/events.js";

export interface TelemetryPoint {
  /** When the sample was taken, on the sampling node's clock (ms since the epoch). */
  readonly at: number;
  /** When this node applied it (its state showed the sample from then on). */
  readonly receivedAt: number;
  readonly telemetry: LooseRecord;
  /** The node's GPUs as last reported when this sample was applied (none: no GPU state seen). */
  readonly gpus?: readonly LooseRecord[];
}

export interface HistoryOptions {
  /** Oldest sample kept, ms before now (default 10 minutes). */
  readonly maxAgeMs?: number;
  /** Most samples kept per node (default 600: ten minutes at the default 2 s, five at 500 ms). */
  readonly maxPoints?: number;
}

export const DEFAULT_HISTORY_MAX_AGE_MS = 10 * 60_000;
export const DEFAULT_HISTORY_MAX_POINTS = 600;

export class TelemetryHistory {
  readonly maxAgeMs: number;
  readonly maxPoints: number;
  private readonly series = new Map<NodeId, TelemetryPoint[]>();
  private readonly gpus = new Map<NodeId, readonly LooseRecord[]>();

  constructor(options: HistoryOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_HISTORY_MAX_AGE_MS;
    this.maxPoints = Math.max(1, options.maxPoints ?? DEFAULT_HISTORY_MAX_POINTS);
  }

  /** Takes in applied events, in log order; `now` is this node's clock. */
  observe(events: readonly IndexedEvent[], now: number): void {
    this.observeEvents(events.map((e) => e.event), now);
  }

  /** Takes in events as proposed (before the master logs, or coalesces, them). */
  observeEvents(events: readonly Event[], now: number): void {
    for (const event of events) {
      if (event.type === "DeviceGPUStateUpdated") this.gpus.set(event.nodeId, event.gpus);
      else if (event.type === "NodeTelemetryUpdated") this.add(event.nodeId, event.telemetry, now);
      else if (event.type === "NodeLeft") this.forget(event.nodeId);
    }
  }

  private add(nodeId: NodeId, telemetry: LooseRecord, now: number): void {
    const at = telemetry["at"];
    if (typeof at !== "number" || !Number.isFinite(at) || at < now - this.maxAgeMs) return;
    const points = this.series.get(nodeId) ?? [];
    // Only newer samples: a replayed or reordered one is already here or no longer wanted.
    const last = points.at(-1);
    if (last !== undefined && at <= last.at) return;
    const gpus = this.gpus.get(nodeId);
    points.push(gpus === undefined ? { at, receivedAt: now, telemetry } : { at, receivedAt: now, telemetry, gpus });
    this.trim(points, now);
    this.series.set(nodeId, points);
  }

  private trim(points: TelemetryPoint[], now: number): void {
    let drop = Math.max(0, points.length - this.maxPoints);
    while (drop < points.length && points[drop].at < now - this.maxAgeMs) drop++;
    if (drop > 0) points.splice(0, drop);
  }

  /** The newest sample heard from a node, if any. */
  latest(nodeId: NodeId): TelemetryPoint | undefined {
    return this.series.get(nodeId)?.at(-1);
  }

  /** Drops a node's series (it left the cluster). */
  forget(nodeId: NodeId): void {
    this.series.delete(nodeId);
    this.gpus.delete(nodeId);
  }

  /** Keeps only the series of nodes `keep` accepts (telemetry of a node the state ignores is not history). */
  retain(keep: (nodeId: NodeId) => boolean): void {
    for (const id of [...this.series.keys(), ...this.gpus.keys()]) if (!keep(id)) this.forget(id);
  }

  /** A node's samples taken in the last `seconds` before `now`, oldest first. */
  window(nodeId: NodeId, seconds: number, now: number): TelemetryPoint[] {
    const points = this.series.get(nodeId);
    if (points === undefined) return [];
    this.trim(points, now);
    const since = now - seconds * 1000;
    return points.filter((p) => p.at >= since);
  }

  has(nodeId: NodeId): boolean {
    return this.series.has(nodeId);
  }

  /** Nodes with a series, and how many samples each holds. */
  sizes(): Map<NodeId, number> {
    return new Map([...this.series].map(([id, p]) => [id, p.length]));
  }
}
