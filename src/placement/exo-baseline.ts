// exo's rule, for comparison only: every device takes part, ordered by memory (largest first, ties by id,
// both descending as exo sorts them), each taking a share of the layers proportional to its memory.
// Cumulative fractions are rounded to 5 decimals and layer boundaries are floor(fraction × layers), with
// the last device running to the end; a device whose share rounds to no layers drops out.
// Scored with Tessera's own cost model, so the two plans are compared like for like.
import { PlacementInputError, predictDecode, stageMemoryBytes } from "./cost.js";
import type { DeviceProfile, Link, ModelNeeds, Prediction, Stage } from "./types.js";

export interface BaselinePlan {
  readonly stages: readonly Stage[];
  /** False when some stage needs more than the device's whole memory (exo would fail to load). */
  readonly fits: boolean;
  /** Undefined when a hop has no link. */
  readonly predicted: Prediction | undefined;
}

export function exoMemoryProportionalStages(needs: ModelNeeds, devices: readonly DeviceProfile[]): Stage[] {
  const order = [...devices].sort((a, b) => b.memoryBytes - a.memoryBytes || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const total = order.reduce((s, d) => s + d.memoryBytes, 0);
  const stages: Stage[] = [];
  let fraction = 0;
  let start = 0;
  order.forEach((d, i) => {
    fraction = Math.round((fraction + d.memoryBytes / total) * 1e5) / 1e5;
    const end = i === order.length - 1 ? needs.layers : Math.min(needs.layers, Math.floor(fraction * needs.layers));
    if (end > start) stages.push({ nodeId: d.id, start, end });
    start = Math.max(start, end);
  });
  return stages;
}

export function exoBaseline(needs: ModelNeeds, devices: readonly DeviceProfile[], links: readonly Link[]): BaselinePlan {
  const stages = exoMemoryProportionalStages(needs, devices);
  const byId = new Map(devices.map((d) => [d.id, d]));
  const fits = stages.every((s, i) => stageMemoryBytes(needs, s.start, s.end, i === 0, i === stages.length - 1) <= byId.get(s.nodeId)!.memoryBytes);
  let predicted: Prediction | undefined;
  try {
    predicted = predictDecode(needs, stages, devices, links, 1);
  } catch (e) {
    if (!(e instanceof PlacementInputError)) throw e;
    predicted = undefined;
  }
  return { stages, fits, predicted };
}
