// The best few placements for a model on a cluster, for GET /instance/previews and `tessera place`:
// the solver's choice, then the best plan with each other number of nodes the caller allows, so a user
// sees what spreading wider or narrower would cost. Pure.
import { place, type SolveOptions } from "./solver.js";
import type { Constraints, DeviceProfile, Link, ModelNeeds, Placement, PlacementOk } from "./types.js";

export interface Previews {
  /** The solver's choice (or why nothing fits). */
  readonly best: Placement;
  /** Other feasible plans, fastest first, at most `count` − 1 of them; none repeats the best. */
  readonly alternatives: readonly PlacementOk[];
}

export function previews(
  needs: ModelNeeds,
  devices: readonly DeviceProfile[],
  links: readonly Link[],
  constraints: Constraints = {},
  count = 3,
  options: SolveOptions = {},
): Previews {
  const best = place(needs, devices, links, constraints, options);
  const key = (p: PlacementOk) => p.stages.map((s) => `${s.nodeId}:${s.start}-${s.end}`).join(",");
  const seen = new Set(best.ok ? [key(best)] : []);
  const lo = constraints.minNodes ?? 1;
  const hi = Math.min(constraints.maxNodes ?? devices.length, devices.length, needs.layers);
  const alternatives: PlacementOk[] = [];
  for (let k = lo; k <= hi; k++) {
    const p = place(needs, devices, links, { ...constraints, minNodes: k, maxNodes: k }, options);
    if (!p.ok || seen.has(key(p))) continue;
    seen.add(key(p));
    alternatives.push(p);
  }
  alternatives.sort((a, b) => b.predicted.tokPerSec - a.predicted.tokPerSec);
  return { best, alternatives: alternatives.slice(0, Math.max(0, count - 1)) };
}
