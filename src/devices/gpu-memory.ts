// How much memory a WebGPU adapter offers for weights and KV cache. WebGPU itself does not say, so
// the answer comes from the vendor tools' view of the same card (nvidia-smi, rocm-smi), matched by
// vendor and name. Integrated, unified-memory and software adapters use system memory: no answer
// here means "use the system's figure", never "no memory".
import type { GpuProfile, GpuVendor } from "./types.js";

/** What the WebGPU adapter report says about the adapter (engine/backends/webgpu/adapters.ts). */
export interface AdapterIdentity {
  readonly kind: "discrete" | "integrated" | "cpu";
  /** WebGPU's vendor string: "nvidia", "amd", "intel", "apple", or a PCI id on some drivers. */
  readonly vendor: string;
  readonly description: string;
}

/** WebGPU vendor strings (and the PCI vendor ids some drivers report instead) to our vendor names. */
export function adapterVendor(vendor: string): GpuVendor {
  const v = vendor.trim().toLowerCase();
  if (v === "nvidia" || v === "0x10de") return "nvidia";
  if (v === "amd" || v === "ati" || v === "0x1002" || v === "0x1022") return "amd";
  if (v === "apple" || v === "0x106b") return "apple";
  return "other";
}

/** Lower-case words of a name, for a loose match between "NVIDIA H100 80GB HBM3" and "NVIDIA H100". */
function words(name: string): Set<string> {
  return new Set(name.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 0 && w !== "nvidia" && w !== "amd" && w !== "radeon" && w !== "geforce"));
}

/**
 * The bytes a discrete adapter can hold: the matching card's free memory when the tool reported it,
 * else its total. Among several cards of the adapter's vendor, the one sharing most name words with
 * the adapter's description wins; with no such word, the first card of the vendor (rank 0 in both
 * lists is the usual case on single-GPU machines). Undefined for anything but a discrete adapter
 * with a reported card.
 */
export function gpuMemoryFor(adapter: AdapterIdentity, gpus: readonly GpuProfile[]): number | undefined {
  if (adapter.kind !== "discrete") return undefined;
  const vendor = adapterVendor(adapter.vendor);
  const candidates = gpus.filter((g) => !g.unifiedMemory && (vendor === "other" || g.vendor === vendor) && (g.memoryFreeBytes ?? g.memoryTotalBytes) !== null);
  if (candidates.length === 0) return undefined;
  const wanted = words(adapter.description);
  let best = candidates[0];
  let bestScore = -1;
  for (const g of candidates) {
    const score = [...words(g.name ?? "")].filter((w) => wanted.has(w)).length;
    if (score > bestScore) {
      best = g;
      bestScore = score;
    }
  }
  // With an unknown vendor string, only a name match is evidence that the card is this adapter.
  if (vendor === "other" && bestScore <= 0) return undefined;
  return best.memoryFreeBytes ?? best.memoryTotalBytes ?? undefined;
}
