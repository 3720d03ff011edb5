// The seed project's DeviceSelector score (available memory 60%, utilisation 40%, minus a temperature
// penalty). Tessera ranks placements by predicted time, never by this; it only breaks exact ties, so that
// of two equally fast plans the one on roomier, idler, cooler devices wins.
import type { DeviceProfile, Thermal } from "./types.js";

export const SEED_MEMORY_WEIGHT = 0.6;
export const SEED_UTILISATION_WEIGHT = 0.4;
/** Thermal states stand in for the seed's temperatures. */
export const SEED_THERMAL_PENALTY: Readonly<Record<Thermal, number>> = { nominal: 0, fair: 0.1, serious: 0.3, critical: 1 };

/**
 * 0.6 × memory ÷ the largest memory among the devices compared (default: its own, so 0.6)
 * + 0.4 × (1 − utilisation) − thermal penalty. Higher is better; at most 1.
 */
export function seedDeviceScore(device: DeviceProfile, maxMemoryBytes = device.memoryBytes): number {
  const mem = maxMemoryBytes > 0 ? Math.min(1, Math.max(0, device.memoryBytes / maxMemoryBytes)) : 0;
  const idle = 1 - Math.min(1, Math.max(0, device.utilisation));
  return SEED_MEMORY_WEIGHT * mem + SEED_UTILISATION_WEIGHT * idle - SEED_THERMAL_PENALTY[device.thermal];
}
