// The cluster at a glance, computed from the replicated state alone (so every node gives the same
// answer for the same state and `now`): memory, CPU and GPU load, the hottest device, who runs on
// battery, who is throttled. Only alive nodes count; a node whose latest sample is older than `staleMs`
// still counts (its figures are the best known) but is listed as stale.
import type { ClusterState, NodeInfo } from "../cluster/state.js";
import { readGpus, readTelemetry, type GpuTelemetry, type TelemetrySample } from "../devices/telemetry.js";

/** Below this fraction of its top speed a CPU counts as held back (a cap the OS or firmware set). */
export const THROTTLED_SPEED_LIMIT = 0.9;

export interface NodeReading {
  readonly nodeId: string;
  readonly name: string;
  readonly sample: Omit<TelemetrySample, "gpus">;
  readonly gpus: readonly GpuTelemetry[];
}

export interface HottestDevice {
  readonly nodeId: string;
  /** "cpu", or "gpu:<vendor><index>". */
  readonly device: string;
  readonly temperatureC: number;
}

export interface ClusterTelemetry {
  readonly nodes: { readonly alive: number; readonly reporting: number; readonly stale: readonly string[] };
  readonly memory: { readonly totalBytes: number; readonly availableBytes: number; readonly usedBytes: number };
  readonly cpu: { readonly meanUtilisation: number | null; readonly maxUtilisation: number | null; readonly busiestNode: string | null };
  readonly gpus: {
    readonly count: number;
    readonly memoryTotalBytes: number;
    readonly memoryFreeBytes: number;
    readonly meanUtilisation: number | null;
    readonly maxUtilisation: number | null;
  };
  readonly hottest: HottestDevice | null;
  readonly onBattery: readonly { readonly nodeId: string; readonly batteryPercent: number | null }[];
  readonly throttling: readonly { readonly nodeId: string; readonly reasons: readonly string[] }[];
}

/** The latest readable sample of each alive node. */
export function nodeReadings(state: ClusterState): NodeReading[] {
  const out: NodeReading[] = [];
  const alive = Object.values(state.nodes).filter((n: NodeInfo) => n.status === "alive");
  for (const n of alive.sort((a, b) => a.id.localeCompare(b.id))) {
    const sample = readTelemetry(n.telemetry);
    if (sample !== null) out.push({ nodeId: n.id, name: n.name, sample, gpus: readGpus(n.gpus) });
  }
  return out;
}

/** Why a node counts as throttled; empty when it does not (or nothing says so). */
export function throttleReasons(sample: Omit<TelemetrySample, "gpus">): string[] {
  const reasons: string[] = [];
  const t = sample.thermal;
  if (t.state === "serious" || t.state === "critical") reasons.push(`thermal state ${t.state}`);
  if (t.cpuSpeedLimit !== null && t.cpuSpeedLimit < THROTTLED_SPEED_LIMIT) reasons.push(`CPU held to ${Math.round(t.cpuSpeedLimit * 100)}% of its top speed`);
  if (sample.power.lowPowerMode === true) reasons.push("low power mode");
  return reasons;
}

function meanMax(values: readonly number[]): { mean: number | null; max: number | null } {
  if (values.length === 0) return { mean: null, max: null };
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
}

function hotter(best: HottestDevice | null, nodeId: string, device: string, t: number | null): HottestDevice | null {
  return t !== null && (best === null || t > best.temperatureC) ? { nodeId, device, temperatureC: t } : best;
}

export function aggregateCluster(state: ClusterState, now: number, staleMs: number): ClusterTelemetry {
  const readings = nodeReadings(state);
  const alive = Object.values(state.nodes).filter((n) => n.status === "alive").length;
  let totalBytes = 0;
  let availableBytes = 0;
  let busiest: { nodeId: string; u: number } | null = null;
  let hottest: HottestDevice | null = null;
  const cpuUtil: number[] = [];
  const gpuUtil: number[] = [];
  let gpuCount = 0;
  let gpuTotal = 0;
  let gpuFree = 0;
  const onBattery: { nodeId: string; batteryPercent: number | null }[] = [];
  const throttling: { nodeId: string; reasons: string[] }[] = [];
  const stale: string[] = [];
  for (const r of readings) {
    const s = r.sample;
    totalBytes += s.memory.totalBytes;
    availableBytes += Math.min(s.memory.availableBytes, s.memory.totalBytes);
    if (now - s.at > staleMs) stale.push(r.nodeId);
    const u = s.cpu.utilisation;
    if (u !== null) {
      cpuUtil.push(u);
      if (busiest === null || u > busiest.u) busiest = { nodeId: r.nodeId, u };
    }
    hottest = hotter(hottest, r.nodeId, "cpu", s.thermal.temperatureC);
    for (const g of r.gpus) {
      gpuCount++;
      gpuTotal += g.memoryTotalBytes ?? 0;
      gpuFree += g.memoryFreeBytes ?? 0;
      if (g.utilisation !== null) gpuUtil.push(g.utilisation);
      hottest = hotter(hottest, r.nodeId, `gpu:${g.vendor}${g.index}`, g.temperatureC);
    }
    if (s.power.source === "battery") onBattery.push({ nodeId: r.nodeId, batteryPercent: s.power.batteryPercent });
    const reasons = throttleReasons(s);
    if (reasons.length > 0) throttling.push({ nodeId: r.nodeId, reasons });
  }
  const cpu = meanMax(cpuUtil);
  const gpu = meanMax(gpuUtil);
  return {
    nodes: { alive, reporting: readings.length, stale },
    memory: { totalBytes, availableBytes, usedBytes: totalBytes - availableBytes },
    cpu: { meanUtilisation: cpu.mean, maxUtilisation: cpu.max, busiestNode: busiest?.nodeId ?? null },
    gpus: { count: gpuCount, memoryTotalBytes: gpuTotal, memoryFreeBytes: gpuFree, meanUtilisation: gpu.mean, maxUtilisation: gpu.max },
    hottest,
    onBattery,
    throttling,
  };
}
