// The human-readable `tessera info` report: one aligned "label  value" line per fact, unknowns as "unknown".
import type { CpuBackendBenchmark, DeviceProfile, GpuProfile } from "./types.js";

const GIB = 1024 ** 3;

function bytes(n: number | null): string {
  if (n === null) return "unknown";
  return n >= GIB ? `${(n / GIB).toFixed(1)} GiB` : `${Math.round(n / 2 ** 20)} MiB`;
}

function known<T>(v: T | null, show: (v: T) => string = String): string {
  return v === null ? "unknown" : show(v);
}

function yesNo(v: boolean | null): string {
  return v === null ? "unknown" : v ? "yes" : "no";
}

function gpuLine(g: GpuProfile): string {
  const parts = [
    `${g.vendor} #${g.index} ${g.name ?? "unknown model"}`,
    g.unifiedMemory ? `unified memory ${bytes(g.memoryTotalBytes)}` : `${bytes(g.memoryFreeBytes)} free of ${bytes(g.memoryTotalBytes)}`,
  ];
  if (g.cores !== null) parts.push(`${g.cores} cores`);
  if (g.utilisation !== null) parts.push(`${Math.round(g.utilisation * 100)}% busy`);
  if (g.temperatureC !== null) parts.push(`${g.temperatureC} °C`);
  if (g.powerDrawW !== null) parts.push(`${g.powerDrawW} W${g.powerLimitW !== null ? ` of ${g.powerLimitW} W` : ""}`);
  if (g.computeCapability !== null) parts.push(g.computeCapability);
  if (g.driverVersion !== null) parts.push(`driver ${g.driverVersion}`);
  return parts.join(", ");
}

export function formatProfile(p: DeviceProfile, bench: CpuBackendBenchmark, fromCache: boolean): string {
  const f = p.cpu.features;
  const flags = (Object.entries(f) as [string, boolean | null][]).filter(([, v]) => v === true).map(([k]) => k.toUpperCase());
  const rows: [string, string][] = [
    ["host", p.identity.hostname],
    ["os", `${p.identity.os} ${p.identity.osRelease}${p.identity.distro ? ` (${p.identity.distro})` : ""} ${p.identity.arch}`],
    ["machine", known(p.identity.machineModel)],
    ["chip", known(p.identity.chip)],
    ["cpu", `${p.cpu.model ?? "unknown model"}: ${known(p.cpu.physicalCores)} cores, ${p.cpu.logicalCores} threads`],
    ["cpu features", flags.length > 0 ? flags.join(" ") : "none known"],
    ["cpu load", known(p.cpu.load, (l) => `${Math.round(l * 100)}%`)],
    ["memory", `${bytes(p.memory.availableBytes)} available of ${bytes(p.memory.totalBytes)}`],
    ...(p.gpus.length === 0 ? [["gpu", "none found"] as [string, string]] : p.gpus.map((g) => ["gpu", gpuLine(g)] as [string, string])),
    ["power", known(p.power.source)],
    ["battery", p.power.batteryPercent === null ? "unknown" : `${p.power.batteryPercent}%${p.power.charging ? ", charging" : ""}`],
    ["low-power mode", yesNo(p.power.lowPowerMode)],
    ["thermal", `${known(p.power.thermal)}${p.power.temperatureC !== null ? ` (${p.power.temperatureC.toFixed(1)} °C)` : ""}`],
    ["cpu speed limit", known(p.power.cpuSpeedLimit, (x) => `${Math.round(x * 100)}%`)],
    ["cpu clock now", known(p.power.cpuFrequencyFraction, (x) => `${Math.round(x * 100)}% of max`)],
    ["cpu backend", `${bench.backend} ${bench.backendVersion}, 1 thread${fromCache ? " (cached)" : ""}`],
    ["memory read", `${bench.memoryReadGBs.toFixed(2)} GB/s`],
    ["matmul Q8_0", `${bench.q8_0GBs.toFixed(2)} GB/s of weights ≈ ${bench.q8_0GBs.toFixed(1)} tok/s per GB of Q8_0 weights`],
    ["matmul Q4_K", `${bench.q4_KGBs.toFixed(2)} GB/s of weights ≈ ${bench.q4_KGBs.toFixed(1)} tok/s per GB of Q4_K weights`],
  ];
  if (bench.lastLevelCacheBytes !== null && bench.lastLevelCacheBytes >= bench.workingSetBytes) {
    rows.push(["note", `the ${bytes(bench.workingSetBytes)} working set fits this CPU's ${bytes(bench.lastLevelCacheBytes)} cache: rates are cache, not DRAM, speeds`]);
  }
  for (const n of p.notes) rows.push(["note", n]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}
