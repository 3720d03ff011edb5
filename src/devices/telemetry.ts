// Live telemetry of one device: what it is doing now (memory in use, CPU busy, temperatures, power,
// battery, thermal state, GPU load), as opposed to the static profile of what it is. This file holds
// the pure parts — counters to rates, samples to the cluster's loose records and back — so that they
// can be tested on any input; telemetry-sampler.ts does the reading. `null` always means "unknown".
import type { LooseRecord, LooseValue } from "../cluster/bounded.js";
import type { GpuProfile, GpuVendor, PowerSource, Thermal } from "./types.js";
import { clamp01 } from "./values.js";

export const THERMAL_STATES: readonly Thermal[] = ["nominal", "fair", "serious", "critical"];

export interface GpuTelemetry {
  readonly index: number;
  readonly vendor: GpuVendor;
  readonly name: string | null;
  /** Fraction of time the GPU was busy, 0..1. */
  readonly utilisation: number | null;
  readonly memoryTotalBytes: number | null;
  readonly memoryFreeBytes: number | null;
  readonly temperatureC: number | null;
  readonly powerDrawW: number | null;
  readonly powerLimitW: number | null;
}

export interface TelemetrySample {
  /** When the sample was complete, ms since the epoch (the sampling node's clock). */
  readonly at: number;
  readonly memory: { readonly totalBytes: number; readonly availableBytes: number };
  readonly cpu: {
    /** Busy fraction of all CPUs since the previous sample, 0..1; null for the first sample. */
    readonly utilisation: number | null;
    /** The part of `utilisation` that is this Tessera process (its stages included), same scale. */
    readonly ownUtilisation?: number | null;
    readonly load1: number | null;
    readonly logicalCores: number;
  };
  readonly power: {
    readonly source: PowerSource | null;
    readonly batteryPercent: number | null;
    readonly charging: boolean | null;
    readonly lowPowerMode: boolean | null;
    /** CPU package power from RAPL energy counters, watts; null where they are absent or unreadable. */
    readonly cpuPowerW: number | null;
  };
  readonly thermal: {
    readonly state: Thermal | null;
    /** Hottest CPU-ish temperature, °C. */
    readonly temperatureC: number | null;
    readonly cpuSpeedLimit: number | null;
    readonly cpuFrequencyFraction: number | null;
  };
  readonly gpus: readonly GpuTelemetry[];
}

// ---- CPU utilisation from cumulative counters ----

/** Cumulative CPU time over all CPUs, in any one unit (jiffies, ms): busy and total. */
export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

/**
 * The aggregate "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal [guest
 * guest_nice]. Guest time is already counted in user and nice, so only the first eight fields add up to
 * the total; idle and iowait are both time the CPU had nothing to run.
 */
export function parseProcStatCpu(text: string): CpuTimes | null {
  const m = /^cpu\s+(.*)$/m.exec(text);
  if (!m) return null;
  const f = m[1].trim().split(/\s+/).slice(0, 8).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x) || x < 0)) return null;
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** os.cpus()'s per-CPU times (ms), summed: the portable fallback where /proc/stat does not exist. */
export function cpuTimesFromOs(cpus: readonly { readonly times: { readonly user: number; readonly nice: number; readonly sys: number; readonly idle: number; readonly irq: number } }[]): CpuTimes | null {
  if (cpus.length === 0) return null;
  let busy = 0;
  let total = 0;
  for (const { times: t } of cpus) {
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/** Busy fraction between two readings; null when the counters did not advance or went backwards (CPU hot-unplug). */
export function cpuUtilisation(prev: CpuTimes | null, next: CpuTimes | null): number | null {
  if (prev === null || next === null) return null;
  const total = next.total - prev.total;
  const busy = next.busy - prev.busy;
  if (!(total > 0) || busy < 0) return null;
  return clamp01(busy / total);
}

// ---- CPU package power from RAPL ----

/** One RAPL package domain's energy counter (µJ), and where it wraps round. */
export interface RaplCounter {
  readonly domain: string;
  readonly energyUj: number;
  readonly maxEnergyRangeUj: number | null;
}

export interface RaplReading {
  readonly atMs: number;
  readonly counters: readonly RaplCounter[];
}

/**
 * Watts over the interval, summed over package domains seen in both readings. A counter that went
 * down wrapped round at max_energy_range_uj (it does every few minutes under load on big CPUs); without
 * that range the interval is unknown. Null when no domain gives a figure.
 */
export function raplWatts(prev: RaplReading | null, next: RaplReading | null): number | null {
  if (prev === null || next === null) return null;
  const seconds = (next.atMs - prev.atMs) / 1000;
  if (!(seconds > 0)) return null;
  let joules = 0;
  let domains = 0;
  for (const n of next.counters) {
    const p = prev.counters.find((c) => c.domain === n.domain);
    if (!p) continue;
    let delta = n.energyUj - p.energyUj;
    if (delta < 0) {
      if (n.maxEnergyRangeUj === null || !(n.maxEnergyRangeUj > 0)) continue;
      delta += n.maxEnergyRangeUj;
    }
    joules += delta / 1e6;
    domains++;
  }
  return domains === 0 ? null : joules / seconds;
}

// ---- sysfs: which files change between samples ----

/**
 * The sysfs files (as readSysfs collects them) whose contents change while the machine runs; the rest
 * (zone types, trip points, supply types, maximum frequencies) are read once and reused, which keeps a
 * sample to a handful of reads.
 */
export function isDynamicSysfsPath(path: string): boolean {
  return (
    /^\/sys\/class\/thermal\/thermal_zone\d+\/temp$/.test(path) ||
    /^\/sys\/class\/power_supply\/[^/]+\/(uevent|online|capacity|status|present)$/.test(path) ||
    /^\/sys\/devices\/system\/cpu\/cpu\d+\/cpufreq\/scaling_(cur|max)_freq$/.test(path) ||
    path === "/sys/firmware/acpi/platform_profile"
  );
}

// ---- GPUs ----

export function gpuTelemetryFromProfile(g: GpuProfile): GpuTelemetry {
  return {
    index: g.index,
    vendor: g.vendor,
    name: g.name,
    utilisation: g.utilisation,
    memoryTotalBytes: g.memoryTotalBytes,
    memoryFreeBytes: g.memoryFreeBytes,
    temperatureC: g.temperatureC,
    powerDrawW: g.powerDrawW,
    powerLimitW: g.powerLimitW,
  };
}

// ---- to and from the cluster's loose records ----

const finite = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);

/** The NodeTelemetryUpdated payload (GPUs travel separately, in DeviceGPUStateUpdated). */
export function telemetryRecord(s: TelemetrySample): LooseRecord {
  return {
    at: s.at,
    memory: { totalBytes: s.memory.totalBytes, availableBytes: s.memory.availableBytes },
    cpu: { utilisation: finite(s.cpu.utilisation), ownUtilisation: finite(s.cpu.ownUtilisation ?? null), load1: finite(s.cpu.load1), logicalCores: s.cpu.logicalCores },
    power: {
      source: s.power.source,
      batteryPercent: finite(s.power.batteryPercent),
      charging: s.power.charging,
      lowPowerMode: s.power.lowPowerMode,
      cpuPowerW: finite(s.power.cpuPowerW),
    },
    thermal: {
      state: s.thermal.state,
      temperatureC: finite(s.thermal.temperatureC),
      cpuSpeedLimit: finite(s.thermal.cpuSpeedLimit),
      cpuFrequencyFraction: finite(s.thermal.cpuFrequencyFraction),
    },
  };
}

/** One DeviceGPUStateUpdated entry; names are cut to the schema's text limit. */
export function gpuRecord(g: GpuTelemetry): LooseRecord {
  return {
    index: g.index,
    vendor: g.vendor,
    name: g.name === null ? null : g.name.slice(0, 256),
    utilisation: finite(g.utilisation),
    memoryTotalBytes: finite(g.memoryTotalBytes),
    memoryFreeBytes: finite(g.memoryFreeBytes),
    temperatureC: finite(g.temperatureC),
    powerDrawW: finite(g.powerDrawW),
    powerLimitW: finite(g.powerLimitW),
  };
}

// Readers accept what any node put in the log: every field is checked, and a wrong type reads as unknown.
type Rec = Readonly<Record<string, LooseValue>>;
const isRec = (v: LooseValue | undefined): v is Rec => typeof v === "object" && v !== null && !Array.isArray(v);
const rec = (v: LooseValue | undefined): Rec => (isRec(v) ? v : {});
const num = (v: LooseValue | undefined): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const bool = (v: LooseValue | undefined): boolean | null => (typeof v === "boolean" ? v : null);
const str = (v: LooseValue | undefined): string | null => (typeof v === "string" ? v : null);
const fraction = (v: LooseValue | undefined): number | null => {
  const n = num(v);
  return n === null ? null : clamp01(n);
};

/** A telemetry record back as a sample; null when it is not one (no timestamp or no memory figures). */
export function readTelemetry(value: LooseValue | undefined): Omit<TelemetrySample, "gpus"> | null {
  if (!isRec(value)) return null;
  const at = num(value["at"]);
  const memory = rec(value["memory"]);
  const totalBytes = num(memory["totalBytes"]);
  const availableBytes = num(memory["availableBytes"]);
  if (at === null || totalBytes === null || availableBytes === null) return null;
  const cpu = rec(value["cpu"]);
  const power = rec(value["power"]);
  const thermal = rec(value["thermal"]);
  const source = str(power["source"]);
  const state = str(thermal["state"]);
  return {
    at,
    memory: { totalBytes, availableBytes },
    cpu: { utilisation: fraction(cpu["utilisation"]), load1: num(cpu["load1"]), logicalCores: num(cpu["logicalCores"]) ?? 0 },
    power: {
      source: source === "battery" || source === "mains" ? source : null,
      batteryPercent: num(power["batteryPercent"]),
      charging: bool(power["charging"]),
      lowPowerMode: bool(power["lowPowerMode"]),
      cpuPowerW: num(power["cpuPowerW"]),
    },
    thermal: {
      state: THERMAL_STATES.find((t) => t === state) ?? null,
      temperatureC: num(thermal["temperatureC"]),
      cpuSpeedLimit: fraction(thermal["cpuSpeedLimit"]),
      cpuFrequencyFraction: fraction(thermal["cpuFrequencyFraction"]),
    },
  };
}

const VENDORS: readonly GpuVendor[] = ["nvidia", "amd", "apple", "other"];

/** GPU records back as telemetry; entries without an index are skipped. */
export function readGpus(list: readonly LooseValue[] | undefined): GpuTelemetry[] {
  const out: GpuTelemetry[] = [];
  for (const item of list ?? []) {
    if (!isRec(item)) continue;
    const index = num(item["index"]);
    if (index === null) continue;
    const vendor = str(item["vendor"]);
    out.push({
      index,
      vendor: VENDORS.find((v) => v === vendor) ?? "other",
      name: str(item["name"]),
      utilisation: fraction(item["utilisation"]),
      memoryTotalBytes: num(item["memoryTotalBytes"]),
      memoryFreeBytes: num(item["memoryFreeBytes"]),
      temperatureC: num(item["temperatureC"]),
      powerDrawW: num(item["powerDrawW"]),
      powerLimitW: num(item["powerLimitW"]),
    });
  }
  return out;
}
