// The solver's inputs from the replicated cluster state: each alive node's measured device (its
// NodeProfileUpdated `placement` view), refreshed by its latest telemetry (memory available now,
// utilisation, thermal state, battery), and the measured links between nodes. Pure: the same state
// gives the same inputs on every node, so the master and a previewing node agree.
import { z } from "zod";
import type { ClusterState, LooseRecord, LooseValue } from "../cluster/index.js";
import type { DeviceProfile, DeviceReason, Link, Thermal } from "./types.js";

const Finite = z.number().finite();
const ThermalSchema = z.enum(["nominal", "fair", "serious", "critical"]);

/** The `placement` record a node publishes in its profile (devices/placement.ts toPlacementProfile). */
export const PublishedDeviceSchema = z.object({
  memoryBytes: Finite.min(0),
  memoryLimitBytes: Finite.min(0).optional(),
  /** A discrete GPU's own memory, where the stages run on it (runtime/telemetry.ts withGpu). */
  gpuMemoryBytes: Finite.min(0).optional(),
  backends: z.array(z.object({ kind: z.enum(["cpu", "webgpu"]), weightBytesPerSec: Finite.positive(), flopsPerSec: Finite.positive().optional() })).min(1).max(8),
  utilisation: Finite.min(0).max(1),
  thermal: ThermalSchema,
  battery: z.object({ percent: Finite.min(0).max(100), charging: z.boolean(), lowPowerMode: z.boolean() }).optional(),
});

type Rec = Readonly<Record<string, LooseValue>>;
const rec = (v: LooseValue | undefined): Rec => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const num = (v: LooseValue | undefined): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Applies what the latest telemetry says now over the profile taken at start. */
function refreshed(base: z.infer<typeof PublishedDeviceSchema>, telemetry: LooseRecord | undefined): Omit<DeviceProfile, "id" | "name"> {
  const t = rec(telemetry);
  const available = num(rec(t["memory"])["availableBytes"]);
  // Derating is for other work: what this node's own Tessera process uses (its stages) does not count.
  const cpu = rec(t["cpu"]);
  const total = num(cpu["utilisation"]);
  const utilisation = total === undefined ? undefined : Math.max(0, total - (num(cpu["ownUtilisation"]) ?? 0));
  const thermal = ThermalSchema.safeParse(rec(t["thermal"])["state"]);
  const power = rec(t["power"]);
  const percent = num(power["batteryPercent"]);
  const onBattery = power["source"] === "battery";
  const battery = percent !== undefined
    ? { percent, charging: !onBattery, lowPowerMode: power["lowPowerMode"] === true }
    : base.battery;
  return {
    // Free system memory says nothing about a discrete GPU's: its figure stays the published one.
    memoryBytes: Math.min(base.gpuMemoryBytes ?? available ?? base.memoryBytes, base.memoryLimitBytes ?? Infinity),
    backends: base.backends,
    utilisation: utilisation === undefined ? base.utilisation : Math.min(1, Math.max(0, utilisation)),
    thermal: thermal.success ? (thermal.data as Thermal) : base.thermal,
    ...(battery ? { battery } : {}),
  };
}

export interface ClusterDevices {
  readonly devices: DeviceProfile[];
  /** Alive nodes the solver cannot consider yet, and why. */
  readonly unknown: DeviceReason[];
}

/**
 * The measured decode rate for a weight type, where the profile's CPU benchmark has one: Q8_0 and the
 * 4-bit K-quant were measured; others keep the published (most conservative) rate. Capped by the
 * measured memory read rate when both were measured on one thread.
 */
function rateFor(device: LooseValue | undefined, weightType: string | undefined): number | undefined {
  const b = rec(rec(device)["benchmark"]);
  const field = weightType === "Q8_0" ? "q8_0GBs" : weightType === "Q4_K" ? "q4_KGBs" : undefined;
  const gbs = field === undefined ? undefined : num(b[field]);
  if (gbs === undefined || gbs <= 0) return undefined;
  // The read rate is measured on one thread: it caps only a one-thread matmul figure.
  const read = (num(b["threads"]) ?? 1) > 1 ? undefined : num(b["memoryReadGBs"]);
  return Math.min(gbs, read ?? gbs) * 1e9;
}

/**
 * Every alive node with a measured device, in node-id order (so ties break the same way everywhere).
 * With the model's dominant weight type, each CPU backend runs at the rate measured for that type.
 */
export function devicesFromState(state: ClusterState, weightType?: string): ClusterDevices {
  const devices: DeviceProfile[] = [];
  const unknown: DeviceReason[] = [];
  for (const node of Object.values(state.nodes).sort((a, b) => (a.id < b.id ? -1 : 1))) {
    if (node.status !== "alive") continue;
    const published = PublishedDeviceSchema.safeParse(rec(node.device)["placement"]);
    if (!published.success) {
      unknown.push({ nodeId: node.id, status: "no_backend", detail: "no measured profile yet (NodeProfileUpdated)" });
      continue;
    }
    const base = refreshed(published.data, node.telemetry);
    const typed = rateFor(node.device, weightType);
    const backends = typed === undefined ? base.backends : base.backends.map((b) => (b.kind === "cpu" ? { ...b, weightBytesPerSec: typed } : b));
    devices.push({ id: node.id, name: node.name, ...base, backends });
  }
  return { devices, unknown };
}

/** Measured links between alive nodes, from the topology edges (latency: half the probed round trip). */
export function linksFromState(state: ClusterState): Link[] {
  const links: Link[] = [];
  for (const e of Object.values(state.edges)) {
    if (e.latencyMs === undefined || e.throughputBps === undefined || e.throughputBps <= 0) continue;
    // Probes measure a round trip; a hop costs one way.
    links.push({ from: e.from, to: e.to, latencyMs: e.latencyMs / 2, throughputBytesPerSec: e.throughputBps });
  }
  return links.sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1));
}
