// macOS probes: system_profiler's display list (GPUs), pmset's battery and thermal reports.
import type { GpuProfile, Thermal } from "./types.js";
import { numberOrNull, stringOrNull } from "./values.js";

export const SYSTEM_PROFILER_ARGS: readonly string[] = ["SPDisplaysDataType", "-json"];
export const SYSCTL_BRAND_ARGS: readonly string[] = ["-n", "machdep.cpu.brand_string"];
export const SYSCTL_MODEL_ARGS: readonly string[] = ["-n", "hw.model"];

/** "1536 MB" / "16 GB" → bytes (system_profiler's VRAM strings use binary units). */
function vramBytes(text: string | null): number | null {
  if (text === null) return null;
  const m = /^(\d+(?:\.\d+)?)\s*(MB|GB)$/i.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * (m[2].toUpperCase() === "GB" ? 1024 ** 3 : 1024 ** 2);
}

function str(item: Readonly<Record<string, unknown>>, key: string): string | null {
  const v = item[key];
  return typeof v === "string" ? stringOrNull(v) : null;
}

/** GPUs from `system_profiler SPDisplaysDataType -json`; [] for anything else. */
export function parseSystemProfilerDisplays(text: string): GpuProfile[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  const items = (data as { SPDisplaysDataType?: unknown } | null)?.SPDisplaysDataType;
  if (!Array.isArray(items)) return [];
  const gpus: GpuProfile[] = [];
  for (const raw of items) {
    if (typeof raw !== "object" || raw === null) continue;
    const item = raw as Record<string, unknown>;
    // `_name` is sometimes a localisation key ("kHW_AppleM1Item"); sppci_model is the readable name.
    const name = str(item, "sppci_model") ?? str(item, "_name");
    const vendorText = `${str(item, "spdisplays_vendor") ?? ""} ${name ?? ""}`;
    const apple = /apple/i.test(vendorText);
    const vendor = apple ? "apple" : /amd|ati/i.test(vendorText) ? "amd" : /nvidia/i.test(vendorText) ? "nvidia" : "other";
    const vram = vramBytes(str(item, "spdisplays_vram") ?? str(item, "_spdisplays_vram"));
    gpus.push({
      vendor,
      index: gpus.length,
      name,
      memoryTotalBytes: vram,
      memoryFreeBytes: null,
      utilisation: null,
      temperatureC: null,
      powerDrawW: null,
      powerLimitW: null,
      driverVersion: null,
      computeCapability: str(item, "spdisplays_mtlgpufamilysupport") ?? str(item, "spdisplays_metalfamily") ?? str(item, "spdisplays_metal"),
      cores: numberOrNull(str(item, "sppci_cores")),
      // Apple Silicon GPUs have no VRAM of their own: they use the system's memory.
      unifiedMemory: apple && vram === null,
    });
  }
  return gpus;
}

export interface BatteryReading {
  readonly source: "battery" | "mains" | null;
  readonly percent: number | null;
  readonly charging: boolean | null;
}

/** `pmset -g batt`: "Now drawing from 'Battery Power'" then " -InternalBattery-0 (id=…)\t95%; discharging; …". */
export function parsePmsetBatt(text: string): BatteryReading {
  const from = /Now drawing from '([^']+)'/.exec(text)?.[1];
  const source = from === undefined ? null : /battery/i.test(from) ? "battery" : "mains";
  const line = text.split(/\r?\n/).find((l) => /InternalBattery/i.test(l));
  if (!line) return { source, percent: null, charging: null };
  const pct = /(\d{1,3})%/.exec(line);
  const percent = pct ? Math.min(100, Number(pct[1])) : null;
  const state = line.split(";")[1]?.trim().toLowerCase();
  const charging = state === undefined ? null : state === "charging" ? true : ["discharging", "charged", "finishing charge", "ac attached"].includes(state) ? false : null;
  return { source, percent, charging };
}

export interface ThermReading {
  /** CPU_Speed_Limit ÷ 100 (Intel Macs); null where not reported (Apple Silicon reports nothing). */
  readonly cpuSpeedLimit: number | null;
  readonly thermal: Thermal | null;
}

/** `pmset -g therm` (or one block of `pmset -g thermlog`): "CPU_Speed_Limit \t= 28" lines and notes. */
export function parsePmsetTherm(text: string): ThermReading {
  const limit = /CPU_Speed_Limit\s*=\s*(\d+)/.exec(text);
  if (limit) {
    const fraction = Math.min(100, Number(limit[1])) / 100;
    return { cpuSpeedLimit: fraction, thermal: thermalFromSpeedLimit(fraction) };
  }
  // macOS prints this note when no thermal warning has been raised since boot.
  if (/No thermal warning level has been recorded/i.test(text)) return { cpuSpeedLimit: null, thermal: "nominal" };
  return { cpuSpeedLimit: null, thermal: null };
}

/** How hard the OS is holding the CPU back → the solver's thermal classes (thresholds are a judgement). */
export function thermalFromSpeedLimit(fraction: number): Thermal {
  if (fraction >= 0.99) return "nominal";
  if (fraction >= 0.7) return "fair";
  if (fraction >= 0.4) return "serious";
  return "critical";
}

/** `pmset -g` lists the active settings; " lowpowermode 1" is Low Power Mode on. */
export function parsePmsetLowPowerMode(text: string): boolean | null {
  const m = /^\s*lowpowermode\s+(\d)\s*$/m.exec(text);
  return m ? m[1] === "1" : null;
}
