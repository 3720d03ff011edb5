// Reads live telemetry (see telemetry.ts) from this machine, reusing the profile's readers. A sample
// never throws: a missing file or tool leaves its fields null. Tools found missing are not run again
// (a sample every two seconds must not spawn a failing process every two seconds), and sysfs is read
// in full only every FULL_SYSFS_EVERY samples; in between only the files that change are re-read.
import os from "node:os";
import si from "systeminformation";
import { parseMemInfo } from "./linux-proc.js";
import { cpuFreqFromSysfs, lowPowerFromSysfs, powerFromSysfs, thermalFromSysfs, type SysfsSnapshot } from "./linux-sysfs.js";
import { parsePmsetBatt, parsePmsetLowPowerMode, parsePmsetTherm } from "./macos.js";
import { NVIDIA_SMI_ARGS, parseNvidiaSmiCsv } from "./nvidia-smi.js";
import { bounded, LIVE_SOURCES, type ProfileSources } from "./profile.js";
import { parseRocmSmiJson, ROCM_SMI_ARGS } from "./rocm-smi.js";
import {
  cpuTimesFromOs, cpuUtilisation, gpuTelemetryFromProfile, isDynamicSysfsPath, parseProcStatCpu, raplWatts,
  type CpuTimes, type GpuTelemetry, type RaplCounter, type RaplReading, type TelemetrySample,
} from "./telemetry.js";
import type { GpuProfile } from "./types.js";

/** Samples between full sysfs reads (a battery or sensor that appears is noticed within this many). */
const FULL_SYSFS_EVERY = 30;
/** RAPL package domains looked for: intel-rapl:0..3 (one per socket; AMD's driver uses the same names). */
const RAPL_PACKAGES = 4;
const RAPL_DIR = "/sys/class/powercap";
export interface SamplerSources extends ProfileSources {
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

export const LIVE_SAMPLER_SOURCES: SamplerSources = { ...LIVE_SOURCES, now: Date.now };

type Power = TelemetrySample["power"];
type ThermalPart = TelemetrySample["thermal"];

export class TelemetrySampler {
  private cpu: CpuTimes | null = null;
  /** This process's CPU time (µs, all threads) and the wall clock (ms) at the previous sample. */
  private own: { readonly cpuUs: number; readonly at: number } | null = null;
  private rapl: RaplReading | null = null;
  private sysfs: SysfsSnapshot | null = null;
  private samples = 0;
  private lowPowerMode: boolean | null = null;
  /** False once a reading found no RAPL counter: powercap does not appear later, and failed reads cost. */
  private raplPresent = true;
  /** Tools that said "not installed": never run again by this sampler. */
  private readonly missing = new Set<string>();
  /** Why fields are unknown, as the tools said (kept short: one entry per tool). */
  readonly notes = new Map<string, string>();

  constructor(private readonly src: SamplerSources = LIVE_SAMPLER_SOURCES) {}

  /** Takes the counter baselines, so the first sample() has rates over a known interval. */
  async prime(): Promise<void> {
    this.own = ownCpu();
    [this.cpu, this.rapl] = await Promise.all([this.readCpuTimes(), this.readRapl()]);
  }

  async sample(): Promise<TelemetrySample> {
    const [cpuTimes, rapl, memory, powerThermal, gpus] = await Promise.all([
      this.readCpuTimes(),
      this.readRapl(),
      this.readMemory(),
      this.readPowerThermal(),
      this.readGpus(),
    ]);
    const utilisation = cpuUtilisation(this.cpu, cpuTimes);
    const own = ownCpu();
    const ownUtilisation = this.own && own.at > this.own.at
      ? Math.min(1, (own.cpuUs - this.own.cpuUs) / 1000 / ((own.at - this.own.at) * os.availableParallelism()))
      : null;
    this.own = own;
    const cpuPowerW = raplWatts(this.rapl, rapl);
    this.cpu = cpuTimes ?? this.cpu;
    this.rapl = rapl ?? this.rapl;
    this.samples++;
    const logical = os.availableParallelism();
    return {
      at: this.src.now(),
      memory,
      cpu: { utilisation, ownUtilisation, load1: this.src.platform === "win32" ? null : os.loadavg()[0], logicalCores: logical },
      power: { ...powerThermal.power, cpuPowerW },
      thermal: powerThermal.thermal,
      gpus,
    };
  }

  private async readCpuTimes(): Promise<CpuTimes | null> {
    if (this.src.platform === "linux") {
      const text = await this.src.readText("/proc/stat");
      if (text !== null) return parseProcStatCpu(text);
    }
    return cpuTimesFromOs(os.cpus());
  }

  private async readRapl(): Promise<RaplReading | null> {
    if (this.src.platform !== "linux" || !this.raplPresent) return null;
    const counters: RaplCounter[] = [];
    await Promise.all(
      Array.from({ length: RAPL_PACKAGES }, async (_, i) => {
        const dir = `${RAPL_DIR}/intel-rapl:${i}`;
        // Since 2020 most kernels make energy_uj root-only (a side channel); then power stays unknown.
        const [energy, range] = await Promise.all([this.src.readText(`${dir}/energy_uj`), this.src.readText(`${dir}/max_energy_range_uj`)]);
        const uj = energy === null ? NaN : Number(energy.trim());
        if (energy !== null && Number.isFinite(uj)) {
          const max = range === null ? NaN : Number(range.trim());
          counters.push({ domain: `package-${i}`, energyUj: uj, maxEnergyRangeUj: Number.isFinite(max) ? max : null });
        }
      }),
    );
    if (counters.length === 0) this.raplPresent = false;
    return counters.length === 0 ? null : { atMs: performance.now(), counters };
  }

  private async readMemory(): Promise<TelemetrySample["memory"]> {
    if (this.src.platform === "linux") {
      const text = await this.src.readText("/proc/meminfo");
      const m = text === null ? null : parseMemInfo(text);
      if (m?.totalBytes) return { totalBytes: m.totalBytes, availableBytes: m.availableBytes ?? os.freemem() };
    }
    if (this.src.platform === "darwin") {
      // os.freemem() leaves out reclaimable cache on macOS; systeminformation's `available` counts it.
      const mem = await bounded(() => si.mem());
      if (mem?.total) return { totalBytes: mem.total, availableBytes: mem.available || os.freemem() };
    }
    return { totalBytes: os.totalmem(), availableBytes: os.freemem() };
  }

  private async readPowerThermal(): Promise<{ power: Omit<Power, "cpuPowerW">; thermal: ThermalPart }> {
    const unknown = {
      power: { source: null, batteryPercent: null, charging: null, lowPowerMode: null },
      thermal: { state: null, temperatureC: null, cpuSpeedLimit: null, cpuFrequencyFraction: null },
    };
    if (this.src.platform === "linux") {
      const snap = await this.readSysfsSnapshot();
      const p = powerFromSysfs(snap);
      const t = thermalFromSysfs(snap);
      const f = cpuFreqFromSysfs(snap);
      return {
        power: { source: p.source, batteryPercent: p.batteryPercent, charging: p.charging, lowPowerMode: lowPowerFromSysfs(snap) },
        thermal: { state: t.thermal, temperatureC: t.temperatureC, cpuSpeedLimit: f.speedLimit, cpuFrequencyFraction: f.currentFraction },
      };
    }
    if (this.src.platform === "darwin") {
      // `pmset -g` (Low Power Mode) changes rarely; it is asked with the full refreshes only.
      const settingsDue = this.samples % FULL_SYSFS_EVERY === 0;
      const [batt, therm, settings] = await Promise.all([
        this.tool("pmset", ["-g", "batt"]),
        this.tool("pmset", ["-g", "therm"]),
        settingsDue ? this.tool("pmset", ["-g"]) : Promise.resolve(null),
      ]);
      const b = batt === null ? null : parsePmsetBatt(batt);
      const t = therm === null ? null : parsePmsetTherm(therm);
      if (settings !== null) this.lowPowerMode = parsePmsetLowPowerMode(settings);
      return {
        power: { source: b?.source ?? null, batteryPercent: b?.percent ?? null, charging: b?.charging ?? null, lowPowerMode: this.lowPowerMode },
        thermal: { ...unknown.thermal, state: t?.thermal ?? null, cpuSpeedLimit: t?.cpuSpeedLimit ?? null },
      };
    }
    const battery = await bounded(() => si.battery());
    if (!battery) return unknown;
    return {
      power: {
        source: battery.hasBattery ? (battery.acConnected ? "mains" : "battery") : "mains",
        batteryPercent: battery.hasBattery ? battery.percent : null,
        charging: battery.hasBattery ? battery.isCharging : null,
        lowPowerMode: null,
      },
      thermal: unknown.thermal,
    };
  }

  /** The whole snapshot every FULL_SYSFS_EVERY samples; otherwise the last one with its changing files re-read. */
  private async readSysfsSnapshot(): Promise<SysfsSnapshot> {
    if (this.sysfs === null || this.samples % FULL_SYSFS_EVERY === 0) {
      this.sysfs = await this.src.readSysfs();
      return this.sysfs;
    }
    const next = new Map(this.sysfs);
    await Promise.all(
      [...this.sysfs.keys()].filter(isDynamicSysfsPath).map(async (path) => {
        const text = await this.src.readText(path);
        if (text === null) next.delete(path);
        else next.set(path, text.trim());
      }),
    );
    this.sysfs = next;
    return next;
  }

  private async readGpus(): Promise<GpuTelemetry[]> {
    // Apple GPUs report no load without root (powermetrics); their memory is the system's.
    if (this.src.platform === "darwin") return [];
    const [nv, amd] = await Promise.all([
      this.tool("nvidia-smi", NVIDIA_SMI_ARGS),
      this.src.platform === "linux" ? this.tool("rocm-smi", ROCM_SMI_ARGS) : Promise.resolve(null),
    ]);
    const gpus: GpuProfile[] = [...(nv === null ? [] : parseNvidiaSmiCsv(nv)), ...(amd === null ? [] : parseRocmSmiJson(amd))];
    return gpus.map(gpuTelemetryFromProfile);
  }

  /** A tool's output, or null (noted); a tool that is not installed is never run again. */
  private async tool(command: string, args: readonly string[]): Promise<string | null> {
    if (this.missing.has(command)) return null;
    const r = await this.src.run(command, args);
    if (r.ok) {
      this.notes.delete(command);
      return r.stdout;
    }
    if (r.failure === "missing") this.missing.add(command);
    this.notes.set(command, r.detail);
    return null;
  }
}

/** CPU time this process has used (user + system, every thread, µs) and when it was read (ms). */
function ownCpu(): { cpuUs: number; at: number } {
  const u = process.cpuUsage();
  return { cpuUs: u.user + u.system, at: performance.now() };
}
