// The placement solver's view of a device (src/placement/types.ts) from what was observed and measured.
import type { BackendProfile, DeviceProfile as PlacementDeviceProfile } from "../placement/types.js";
import type { CpuBackendBenchmark, DeviceProfile } from "./types.js";

export interface PlacementOptions {
  /** The node's id in the cluster (default: the hostname). */
  readonly id?: string;
  /** Display name (default: the hostname). */
  readonly name?: string;
  /** The most memory the node offers (`tessera start --max-memory`), whatever is free. */
  readonly memoryLimitBytes?: number;
}

/**
 * Memory: what is available now (the CPU backend's weights and KV cache live in system memory), capped
 * by the node's own limit when it set one.
 * Decode rate: the slower of the measured Q8_0 and Q4_K rates (measured with the node's stage thread
 * count), capped by the measured one-thread read bandwidth when the benchmark ran on one thread.
 * Unknown thermal state counts as nominal and unknown load as idle: the solver needs a value, and
 * assuming the worst would exclude every machine whose OS says nothing.
 */
export function toPlacementProfile(profile: DeviceProfile, cpu: CpuBackendBenchmark, options: PlacementOptions = {}): PlacementDeviceProfile {
  const rateGBs = Math.min(cpu.q8_0GBs, cpu.q4_KGBs, cpu.threads > 1 ? Infinity : cpu.memoryReadGBs);
  const backends: BackendProfile[] = [{ kind: "cpu", weightBytesPerSec: rateGBs * 1e9 }];
  const p = profile.power;
  const onBattery = p.source === "battery" || (p.source === null && p.charging === false && p.batteryPercent !== null);
  const battery =
    p.batteryPercent !== null || onBattery
      ? { percent: p.batteryPercent ?? 0, charging: !onBattery, lowPowerMode: p.lowPowerMode ?? false }
      : undefined;
  return {
    id: options.id ?? profile.identity.hostname,
    name: options.name ?? profile.identity.hostname,
    memoryBytes: Math.min(profile.memory.availableBytes, options.memoryLimitBytes ?? Infinity),
    backends,
    utilisation: profile.cpu.load ?? 0,
    thermal: p.thermal ?? "nominal",
    ...(battery ? { battery } : {}),
  };
}
