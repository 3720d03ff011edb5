// AMD GPUs through `rocm-smi ... --json`: one object per "cardN", every value a string. Key names vary
// between ROCm releases and between discrete GPUs and APUs (e.g. "Average Graphics Package Power (W)"
// on a dGPU, "Current Socket Graphics Package Power (W)" on an iGPU), so each field tries a few keys.
import type { GpuProfile } from "./types.js";
import { clamp01, numberOrNull, stringOrNull } from "./values.js";

export const ROCM_SMI_ARGS: readonly string[] = ["--showproductname", "--showmeminfo", "vram", "--showuse", "--showtemp", "--showpower", "--json"];

type Card = Readonly<Record<string, unknown>>;

function field(card: Card, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = card[k];
    if (typeof v === "string") return v;
    if (typeof v === "number") return String(v);
  }
  return undefined;
}

const NAME_KEYS = ["Card Series", "Card series", "Device Name", "Card Model", "Card model"];
const TOTAL_KEYS = ["VRAM Total Memory (B)"];
const USED_KEYS = ["VRAM Total Used Memory (B)"];
const USE_KEYS = ["GPU use (%)"];
const TEMP_KEYS = ["Temperature (Sensor edge) (C)", "Temperature (Sensor junction) (C)"];
const POWER_KEYS = ["Average Graphics Package Power (W)", "Current Socket Graphics Package Power (W)"];
const MAX_POWER_KEYS = ["Max Graphics Package Power (W)"];
const GFX_KEYS = ["GFX Version"];

/** One GpuProfile per cardN object; anything that is not JSON of that shape gives []. */
export function parseRocmSmiJson(text: string): GpuProfile[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return [];
  const cards = Object.entries(data as Record<string, unknown>)
    .filter(([k, v]) => /^card\d+$/.test(k) && typeof v === "object" && v !== null && !Array.isArray(v))
    .map(([k, v]) => [Number(k.slice(4)), v as Card] as const)
    .sort((a, b) => a[0] - b[0]);
  return cards.map(([index, card]) => {
    const total = numberOrNull(field(card, TOTAL_KEYS));
    const used = numberOrNull(field(card, USED_KEYS));
    const use = numberOrNull(field(card, USE_KEYS));
    return {
      vendor: "amd",
      index,
      name: stringOrNull(field(card, NAME_KEYS)),
      memoryTotalBytes: total,
      memoryFreeBytes: total !== null && used !== null ? Math.max(0, total - used) : null,
      utilisation: use === null ? null : clamp01(use / 100),
      temperatureC: numberOrNull(field(card, TEMP_KEYS)),
      powerDrawW: numberOrNull(field(card, POWER_KEYS)),
      powerLimitW: numberOrNull(field(card, MAX_POWER_KEYS)),
      driverVersion: null,
      computeCapability: stringOrNull(field(card, GFX_KEYS)),
      cores: null,
      unifiedMemory: false,
    };
  });
}
