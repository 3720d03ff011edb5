// Re-placement when a device got much slower: its measured rate dropped (heat, battery saver) or other
// work took its CPU. The master compares each solver-placed instance's prediction on the devices as they
// are now with what was predicted when it was placed, and moves it only when both hold:
//   - it is now predicted at least REBALANCE_SLOWDOWN× slower than planned, and
//   - a fresh placement is predicted at least REBALANCE_GAIN× faster than staying.
// The second rule keeps a cluster whose devices all slowed together (one busy shared machine) where it
// is: moving costs a reload and helps nothing. The master also waits until the condition has held for a
// while (runtime/node.ts), so a burst of load does not move a model. Pure: state in, plans out.
import type { ClusterState, Instance } from "../cluster/index.js";
import { predictDecode } from "./cost.js";
import { devicesFromState, linksFromState } from "./from-state.js";
import { decidePlacement, needsOf, placedRecord } from "./place-instance.js";
import { lostNodes, replacementId } from "./recovery.js";
import type { Event } from "../cluster/index.js";

export const REBALANCE_SLOWDOWN = 2;
export const REBALANCE_GAIN = 1.5;

export interface RebalancePlan {
  readonly instanceId: string;
  /** Seconds per token predicted at placement, now, and for the new placement. */
  readonly plannedSeconds: number;
  readonly currentSeconds: number;
  readonly betterSeconds: number;
  /** InstanceDeleted for the old instance, InstanceCreated for its replacement. */
  readonly events: Event[];
}

function currentSeconds(state: ClusterState, instance: Instance): number | undefined {
  const needs = instance.placed!.needs;
  const { devices } = devicesFromState(state, needs.weightType);
  const byId = new Map(devices.map((d) => [d.id, d]));
  if (instance.placement.some((p) => !byId.has(p.nodeId))) return undefined;
  try {
    return predictDecode(needsOf(needs), instance.placement, byId, linksFromState(state)).secondsPerToken;
  } catch {
    // A link not measured yet: no basis for a comparison.
    return undefined;
  }
}

/** Instances that should move now, with the events that move them. Lost stages are recovery's job. */
export function planRebalance(state: ClusterState): RebalancePlan[] {
  const plans: RebalancePlan[] = [];
  for (const id of Object.keys(state.instances).sort()) {
    const instance = state.instances[id];
    const planned = instance.placed?.predicted?.secondsPerToken;
    if (!instance.placed || planned === undefined || lostNodes(state, instance).length > 0) continue;
    const now = currentSeconds(state, instance);
    if (now === undefined || now < REBALANCE_SLOWDOWN * planned) continue;
    const newId = replacementId(state, id);
    const decision = decidePlacement(state, { type: "PlaceInstance", instanceId: newId, model: instance.model, needs: instance.placed.needs, constraints: instance.placed.constraints });
    if (!decision.ok) continue;
    const better = decision.placement.predicted.secondsPerToken;
    const same = decision.slices.length === instance.placement.length && decision.slices.every((s, i) => {
      const p = instance.placement[i];
      return s.nodeId === p.nodeId && s.start === p.start && s.end === p.end;
    });
    if (same || better * REBALANCE_GAIN > now) continue;
    plans.push({
      instanceId: id,
      plannedSeconds: planned,
      currentSeconds: now,
      betterSeconds: better,
      events: [
        { type: "InstanceDeleted", instanceId: id },
        { type: "InstanceCreated", instanceId: newId, model: instance.model, placement: decision.slices, placed: placedRecord(instance.placed, decision.placement), replaces: id },
      ],
    });
  }
  return plans;
}
