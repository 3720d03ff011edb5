// Linux /proc/cpuinfo and /proc/meminfo, parsed from their text.
import type { CpuFeatures } from "./types.js";

export interface CpuInfo {
  readonly model: string | null;
  /** "processor" entries: logical CPUs online. */
  readonly logicalCpus: number;
  /** Distinct (physical id, core id) pairs; null when the kernel does not list them (most ARM boards). */
  readonly physicalCores: number | null;
  readonly flags: ReadonlySet<string>;
}

export function parseCpuInfo(text: string): CpuInfo {
  let model: string | null = null;
  let logical = 0;
  const cores = new Set<string>();
  let flags = new Set<string>();
  let physicalId = "0";
  for (const block of text.split(/\n\s*\n/)) {
    const kv = new Map<string, string>();
    for (const line of block.split("\n")) {
      const at = line.indexOf(":");
      if (at < 0) continue;
      kv.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
    }
    if (kv.has("processor") && /^\d+$/.test(kv.get("processor")!)) logical++;
    // x86 says "model name"; arm64 says nothing per core but may give "Model" or "Hardware" once.
    model ??= kv.get("model name") || kv.get("Model") || kv.get("Hardware") || kv.get("cpu model") || null;
    physicalId = kv.get("physical id") ?? physicalId;
    const coreId = kv.get("core id");
    if (coreId !== undefined) cores.add(`${physicalId}:${coreId}`);
    const f = kv.get("flags") ?? kv.get("Features");
    if (f !== undefined && flags.size === 0) flags = new Set(f.split(/\s+/).filter((x) => x !== ""));
  }
  return { model, logicalCpus: logical, physicalCores: cores.size > 0 ? cores.size : null, flags };
}

/** The features that matter to our kernels, from x86 "flags" or arm64 "Features" (asimd = NEON). */
export function cpuFeaturesFromFlags(flags: ReadonlySet<string>, arch: string): CpuFeatures {
  if (flags.size === 0) return { avx2: null, avx512f: null, fma: null, f16c: null, neon: arch === "arm64" ? true : null };
  const x86 = arch === "x64" || arch === "ia32";
  const arm = arch === "arm64" || arch === "arm";
  return {
    avx2: x86 ? flags.has("avx2") : false,
    avx512f: x86 ? flags.has("avx512f") : false,
    fma: x86 ? flags.has("fma") : arm ? flags.has("asimd") || flags.has("neon") : null,
    f16c: x86 ? flags.has("f16c") : arm ? flags.has("fphp") || flags.has("asimdhp") : null,
    neon: arm ? flags.has("asimd") || flags.has("neon") || arch === "arm64" : false,
  };
}

export interface MemInfo {
  readonly totalBytes: number | null;
  readonly availableBytes: number | null;
}

/** /proc/meminfo: "MemTotal:  24731708 kB" (the kernel's kB are KiB). */
export function parseMemInfo(text: string): MemInfo {
  const read = (key: string): number | null => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB\\s*$`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  return { totalBytes: read("MemTotal"), availableBytes: read("MemAvailable") ?? read("MemFree") };
}
