// Which devices may take part at all, and why the others may not. Hard rules only: the solver decides
// among the eligible ones by predicted time.
import { deratedRate } from "./cost.js";
import type { Constraints, DeviceProfile, DeviceReason } from "./types.js";
import { DEFAULT_MIN_BATTERY_PERCENT } from "./types.js";

/** Undefined when the device is eligible; otherwise the reason it is left out. */
export function ineligibility(d: DeviceProfile, c: Constraints): DeviceReason | undefined {
  const minBattery = c.minBatteryPercent ?? DEFAULT_MIN_BATTERY_PERCENT;
  if (c.excluded?.includes(d.id)) return { nodeId: d.id, status: "excluded", detail: "excluded by the caller" };
  if (d.thermal === "critical") return { nodeId: d.id, status: "thermal_critical", detail: "thermal state is critical" };
  if (d.battery && !d.battery.charging && d.battery.percent < minBattery) {
    return { nodeId: d.id, status: "battery_low", detail: `on battery at ${d.battery.percent}% (floor ${minBattery}%)` };
  }
  if (!(deratedRate(d) > 0) || !(d.memoryBytes > 0)) {
    return { nodeId: d.id, status: "no_backend", detail: "no backend with a positive rate and memory left (or fully utilised)" };
  }
  return undefined;
}
