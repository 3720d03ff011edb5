// The NodeProfileUpdated record for a browser device: what the page reported (adapter, limits,
// measured rate, battery) and the solver's view of it, with kind "webgpu". WebGPU tells nothing about
// device memory, so the view offers half of navigator.deviceMemory (which browsers round and cap at
// 8 GiB) or 1 GiB when the page does not say; a page's buffers share memory with the rest of the tab.
import { LooseRecordSchema, type LooseRecord } from "../cluster/index.js";
import type { PageProfile } from "./messages.js";

const DEFAULT_MEMORY_BYTES = 2 ** 30;

export function pageMemoryBytes(profile: PageProfile): number {
  return profile.deviceMemoryGiB !== undefined && profile.deviceMemoryGiB > 0 ? (profile.deviceMemoryGiB * 2 ** 30) / 2 : DEFAULT_MEMORY_BYTES;
}

/** `collectedAt` tells one tab's session from the next, as a node's profile tells its runs apart. */
export function pageProfileRecord(profile: PageProfile, relay: string, collectedAt: number): LooseRecord {
  const battery = profile.battery ? { percent: profile.battery.percent, charging: profile.battery.charging, lowPowerMode: false } : undefined;
  return LooseRecordSchema.parse({
    kind: "browser",
    relay,
    collectedAt,
    userAgent: profile.userAgent,
    adapter: profile.adapter,
    webgpu: { adapter: profile.adapter.description || `${profile.adapter.vendor} ${profile.adapter.architecture}`.trim(), q8_0GBs: profile.q8_0BytesPerSec / 1e9 },
    ...(battery ? { power: { batteryPercent: battery.percent, source: battery.charging ? "ac" : "battery" } } : {}),
    placement: {
      memoryBytes: pageMemoryBytes(profile),
      backends: [{ kind: "webgpu", weightBytesPerSec: profile.q8_0BytesPerSec }],
      utilisation: 0,
      thermal: "nominal",
      ...(battery ? { battery } : {}),
    },
  });
}
