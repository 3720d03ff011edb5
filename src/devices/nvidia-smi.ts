// NVIDIA GPUs through `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`. The parser also reads
// the header/units form (`--format=csv`), so output quoted with other field lists still parses: columns
// are matched by name, not position, whenever a header says what they are.
import type { GpuProfile } from "./types.js";
import { MIB, clamp01, numberOrNull, stringOrNull } from "./values.js";

/** The fields Tessera asks for, in this order. */
export const NVIDIA_QUERY_FIELDS = [
  "name",
  "memory.total",
  "memory.free",
  "utilization.gpu",
  "temperature.gpu",
  "power.draw",
  "power.limit",
  "driver_version",
  "compute_cap",
] as const;

export const NVIDIA_SMI_ARGS: readonly string[] = [`--query-gpu=${NVIDIA_QUERY_FIELDS.join(",")}`, "--format=csv,noheader,nounits"];

/** nvidia-smi accepts aliases; fold them onto the canonical names above. */
const ALIASES: Readonly<Record<string, string>> = { gpu_name: "name", "clocks.gr": "clocks.current.graphics" };

function canonicalField(header: string): string {
  const bare = header.replace(/\s*\[.*\]\s*$/, "").trim();
  return ALIASES[bare] ?? bare;
}

/** A header line names fields ("name, memory.total [MiB]"); a data line never looks like that. */
function isHeader(cells: readonly string[]): boolean {
  return cells.length > 0 && cells.every((c) => /^[a-z_][a-z0-9_.]*(\s*\[[^\]]*\])?$/.test(c.trim())) && cells.some((c) => c.includes(".") || c.includes("_") || c.trim() === "name");
}

/**
 * One GpuProfile per complete data line. `fields` gives the column order when the output has no header
 * (the noheader form Tessera runs). A line with the wrong number of cells (truncated output) is dropped.
 */
export function parseNvidiaSmiCsv(text: string, fields: readonly string[] = NVIDIA_QUERY_FIELDS): GpuProfile[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length === 0) return [];
  let columns = fields.map(canonicalField);
  const first = lines[0].split(",").map((c) => c.trim());
  let start = 0;
  if (isHeader(first)) {
    columns = first.map(canonicalField);
    start = 1;
  }
  const gpus: GpuProfile[] = [];
  for (let i = start; i < lines.length; i++) {
    const cells = lines[i].split(",").map((c) => c.trim());
    if (cells.length !== columns.length) continue;
    const get = (field: string): string | undefined => {
      const at = columns.indexOf(field);
      return at < 0 ? undefined : cells[at];
    };
    const name = stringOrNull(get("name"));
    const totalMiB = numberOrNull(get("memory.total"));
    // A line whose every known field is unknown is noise (e.g. an error message split on commas).
    if (name === null && totalMiB === null) continue;
    const util = numberOrNull(get("utilization.gpu"));
    const index = numberOrNull(get("index"));
    const freeMiB = numberOrNull(get("memory.free"));
    gpus.push({
      vendor: "nvidia",
      index: index ?? gpus.length,
      name,
      memoryTotalBytes: totalMiB === null ? null : totalMiB * MIB,
      memoryFreeBytes: freeMiB === null ? null : freeMiB * MIB,
      utilisation: util === null ? null : clamp01(util / 100),
      temperatureC: numberOrNull(get("temperature.gpu")),
      powerDrawW: numberOrNull(get("power.draw")),
      powerLimitW: numberOrNull(get("power.limit")),
      driverVersion: stringOrNull(get("driver_version")),
      computeCapability: stringOrNull(get("compute_cap")),
      cores: null,
      unifiedMemory: false,
    });
  }
  return gpus;
}
