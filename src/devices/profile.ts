// Collects this machine's DeviceProfile. Every probe is optional: a missing tool or file leaves its fields
// null and adds a note; collectProfile itself never throws. I/O comes in through ProfileSources so tests
// can hand it another machine's outputs.
import { readFile } from "node:fs/promises";
import os from "node:os";
import si from "systeminformation";
import { cpuFeaturesFromFlags, parseCpuInfo, parseMemInfo } from "./linux-proc.js";
import { cpuFreqFromSysfs, lowPowerFromSysfs, powerFromSysfs, readSysfs, thermalFromSysfs, type SysfsSnapshot } from "./linux-sysfs.js";
import { parsePmsetBatt, parsePmsetLowPowerMode, parsePmsetTherm, parseSystemProfilerDisplays, SYSCTL_BRAND_ARGS, SYSCTL_MODEL_ARGS, SYSTEM_PROFILER_ARGS } from "./macos.js";
import { NVIDIA_SMI_ARGS, parseNvidiaSmiCsv } from "./nvidia-smi.js";
import { parseRocmSmiJson, ROCM_SMI_ARGS } from "./rocm-smi.js";
import { defaultToolRunner, type ToolRunner } from "./run-tool.js";
import type { CpuFeatures, CpuProfile, DeviceIdentity, DeviceProfile, GpuProfile, MemoryProfile, PowerProfile } from "./types.js";
import { clamp01, stringOrNull } from "./values.js";

export interface ProfileSources {
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly run: ToolRunner;
  /** Reads a text file, or null when it cannot (Linux /proc). */
  readonly readText: (path: string) => Promise<string | null>;
  readonly readSysfs: () => Promise<SysfsSnapshot>;
}

/** systeminformation calls shell out on some platforms; none may hold the profile up for long. */
const SI_TIMEOUT_MS = 3000;

async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}

export const LIVE_SOURCES: ProfileSources = {
  platform: process.platform,
  arch: process.arch,
  run: defaultToolRunner,
  readText: readTextOrNull,
  readSysfs,
};

/** The call's answer, or null when it fails or takes longer than SI_TIMEOUT_MS. */
export async function bounded<T>(work: () => Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), SI_TIMEOUT_MS);
        timer.unref();
      }),
    ]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

async function probe(src: ProfileSources, notes: string[], command: string, args: readonly string[]): Promise<string | null> {
  const r = await src.run(command, args);
  if (r.ok) return r.stdout;
  notes.push(r.detail);
  return null;
}

async function collectIdentity(src: ProfileSources): Promise<DeviceIdentity> {
  const [osInfo, system] = await Promise.all([bounded(() => si.osInfo()), bounded(() => si.system())]);
  let chip: string | null = null;
  let model = stringOrNull(system?.model) ?? null;
  if (src.platform === "darwin") {
    // Notes about sysctl are not kept: it exists on every Mac, and its absence elsewhere is expected.
    const [brand, hwModel] = await Promise.all([src.run("sysctl", SYSCTL_BRAND_ARGS), src.run("sysctl", SYSCTL_MODEL_ARGS)]);
    const b = brand.ok ? stringOrNull(brand.stdout) : null;
    if (b !== null && /^Apple\b/.test(b)) chip = b;
    model = (hwModel.ok ? stringOrNull(hwModel.stdout) : null) ?? model;
  }
  // "Docker Container" and the like say where we run, not what the machine is; still worth showing.
  const distro = osInfo ? stringOrNull([osInfo.distro, osInfo.release].filter((x) => x).join(" ")) : null;
  return { os: src.platform, osRelease: os.release(), distro, arch: src.arch, hostname: os.hostname(), machineModel: model, chip };
}

function load(logical: number): number | null {
  if (process.platform === "win32") return null;
  return clamp01(os.loadavg()[0] / Math.max(1, logical));
}

async function collectCpu(src: ProfileSources, chip: string | null): Promise<CpuProfile> {
  const logical = os.availableParallelism();
  if (src.platform === "linux") {
    const text = await src.readText("/proc/cpuinfo");
    if (text !== null) {
      const info = parseCpuInfo(text);
      const siCpu = info.physicalCores === null ? await bounded(() => si.cpu()) : null;
      return {
        model: info.model,
        physicalCores: info.physicalCores ?? siCpu?.physicalCores ?? null,
        logicalCores: logical,
        features: cpuFeaturesFromFlags(info.flags, src.arch),
        load: load(logical),
      };
    }
  }
  const [cpu, flags] = await Promise.all([bounded(() => si.cpu()), bounded(() => si.cpuFlags())]);
  const flagSet = new Set((flags ?? "").split(/\s+/).filter((f) => f !== ""));
  let features: CpuFeatures = cpuFeaturesFromFlags(flagSet, src.arch);
  // Every arm64 CPU has Advanced SIMD; Apple's also do fp16 arithmetic.
  if (src.arch === "arm64") features = { ...features, neon: true, f16c: src.platform === "darwin" ? true : features.f16c };
  const brand = cpu ? stringOrNull(`${cpu.manufacturer} ${cpu.brand}`) : null;
  return {
    model: chip ?? brand ?? stringOrNull(os.cpus()[0]?.model),
    physicalCores: cpu?.physicalCores || null,
    logicalCores: logical,
    features,
    load: load(logical),
  };
}

async function collectMemory(src: ProfileSources): Promise<MemoryProfile> {
  if (src.platform === "linux") {
    const text = await src.readText("/proc/meminfo");
    const m = text === null ? null : parseMemInfo(text);
    if (m?.totalBytes) return { totalBytes: m.totalBytes, availableBytes: m.availableBytes ?? os.freemem() };
  }
  // os.freemem() on macOS leaves out reclaimable cache; systeminformation's `available` counts it.
  const mem = await bounded(() => si.mem());
  return { totalBytes: mem?.total || os.totalmem(), availableBytes: mem?.available || os.freemem() };
}

async function collectGpus(src: ProfileSources, memory: MemoryProfile, notes: string[]): Promise<GpuProfile[]> {
  if (src.platform === "darwin") {
    const text = await probe(src, notes, "system_profiler", SYSTEM_PROFILER_ARGS);
    const gpus = text === null ? [] : parseSystemProfilerDisplays(text);
    // Unified memory: the GPU's memory is the system's.
    return gpus.map((g) => (g.unifiedMemory ? { ...g, memoryTotalBytes: memory.totalBytes, memoryFreeBytes: memory.availableBytes } : g));
  }
  const [nv, amd] = await Promise.all([
    probe(src, notes, "nvidia-smi", NVIDIA_SMI_ARGS),
    src.platform === "linux" ? probe(src, notes, "rocm-smi", ROCM_SMI_ARGS) : Promise.resolve(null),
  ]);
  return [...(nv === null ? [] : parseNvidiaSmiCsv(nv)), ...(amd === null ? [] : parseRocmSmiJson(amd))];
}

const UNKNOWN_POWER: PowerProfile = {
  source: null,
  batteryPercent: null,
  charging: null,
  lowPowerMode: null,
  thermal: null,
  temperatureC: null,
  cpuSpeedLimit: null,
  cpuFrequencyFraction: null,
};

async function collectPower(src: ProfileSources, notes: string[]): Promise<PowerProfile> {
  if (src.platform === "linux") {
    const snap = await src.readSysfs();
    const p = powerFromSysfs(snap);
    const t = thermalFromSysfs(snap);
    const f = cpuFreqFromSysfs(snap);
    return {
      source: p.source,
      batteryPercent: p.batteryPercent,
      charging: p.charging,
      lowPowerMode: lowPowerFromSysfs(snap),
      thermal: t.thermal,
      temperatureC: t.temperatureC,
      cpuSpeedLimit: f.speedLimit,
      cpuFrequencyFraction: f.currentFraction,
    };
  }
  if (src.platform === "darwin") {
    const [batt, therm, settings] = await Promise.all([
      probe(src, notes, "pmset", ["-g", "batt"]),
      probe(src, notes, "pmset", ["-g", "therm"]),
      probe(src, notes, "pmset", ["-g"]),
    ]);
    const b = batt === null ? null : parsePmsetBatt(batt);
    const t = therm === null ? null : parsePmsetTherm(therm);
    return {
      ...UNKNOWN_POWER,
      source: b?.source ?? null,
      batteryPercent: b?.percent ?? null,
      charging: b?.charging ?? null,
      lowPowerMode: settings === null ? null : parsePmsetLowPowerMode(settings),
      thermal: t?.thermal ?? null,
      cpuSpeedLimit: t?.cpuSpeedLimit ?? null,
    };
  }
  const battery = await bounded(() => si.battery());
  if (!battery) return UNKNOWN_POWER;
  return {
    ...UNKNOWN_POWER,
    source: battery.hasBattery ? (battery.acConnected ? "mains" : "battery") : "mains",
    batteryPercent: battery.hasBattery ? battery.percent : null,
    charging: battery.hasBattery ? battery.isCharging : null,
  };
}

/** This machine (or, with `sources`, the machine those sources describe). Never throws. */
export async function collectProfile(sources: ProfileSources = LIVE_SOURCES): Promise<DeviceProfile> {
  const notes: string[] = [];
  const identity = await collectIdentity(sources);
  const [cpu, memory] = await Promise.all([collectCpu(sources, identity.chip), collectMemory(sources)]);
  const [gpus, power] = await Promise.all([collectGpus(sources, memory, notes), collectPower(sources, notes)]);
  return { identity, cpu, memory, gpus, power, notes, collectedAt: new Date().toISOString() };
}
