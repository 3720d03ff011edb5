// What the master does when a stage of a solver-placed instance is lost (its node timed out or left, or
// its runner failed) or its device should no longer be used (critical heat, battery under the floor):
// place the same model again on what is alive, without the lost nodes, and replace
// the instance. Requests in flight then resume on the replacement (runtime/runners.ts). An instance
// placed by hand is never moved: its user chose those nodes. Pure: state in, events out.
import type { ClusterState, Event, Instance } from "../cluster/index.js";
import { runnerKey } from "../cluster/index.js";
import { devicesFromState } from "./from-state.js";
import { decidePlacement, placedRecord } from "./place-instance.js";
import { DEFAULT_MIN_BATTERY_PERCENT } from "./types.js";

/**
 * Nodes of the instance that must leave it: the stage is gone (runner failed or shut down, node no
 * longer alive), or the device may no longer be used (critical thermal state, or on battery below the
 * instance's floor), as its latest telemetry says.
 */
export function lostNodes(state: ClusterState, instance: Instance): string[] {
  const devices = new Map(devicesFromState(state).devices.map((d) => [d.id, d]));
  const floor = instance.placed?.constraints?.minBatteryPercent ?? DEFAULT_MIN_BATTERY_PERCENT;
  return instance.placement
    .filter((p) => {
      const runner = state.runners[runnerKey(instance.instanceId, p.nodeId)];
      if (state.nodes[p.nodeId]?.status !== "alive" || runner?.status === "failed" || runner?.status === "shutdown") return true;
      const d = devices.get(p.nodeId);
      return d !== undefined && (d.thermal === "critical" || (d.battery !== undefined && !d.battery.charging && d.battery.percent < floor));
    })
    .map((p) => p.nodeId);
}

/** The id of the n-th replacement of an instance: `<base>.r<n>`. */
export function replacementId(state: ClusterState, instanceId: string): string {
  const m = /^(.*)\.r(\d+)$/.exec(instanceId);
  const base = m ? m[1] : instanceId;
  for (let n = m ? Number(m[2]) + 1 : 1; ; n++) {
    const id = `${base.slice(0, 100)}.r${n}`;
    if (state.instances[id] === undefined) return id;
  }
}

export interface RecoveryPlan {
  readonly events: Event[];
  /** Instances that lost a stage and could not be placed again, with the solver's reason. */
  readonly stranded: { readonly instanceId: string; readonly detail: string }[];
}

export function planRecovery(state: ClusterState): RecoveryPlan {
  const events: Event[] = [];
  const stranded: { instanceId: string; detail: string }[] = [];
  const ids = Object.keys(state.instances).sort();
  for (const id of ids) {
    const instance = state.instances[id];
    if (!instance.placed) continue;
    const lost = lostNodes(state, instance);
    if (lost.length === 0) continue;
    const newId = replacementId(state, id);
    const c = instance.placed.constraints ?? {};
    const constraints = { ...c, excluded: [...new Set([...(c.excluded ?? []), ...lost])] };
    const decision = decidePlacement(state, { type: "PlaceInstance", instanceId: newId, model: instance.model, needs: instance.placed.needs, constraints });
    if (!decision.ok) {
      stranded.push({ instanceId: id, detail: decision.detail });
      continue;
    }
    events.push(
      { type: "InstanceDeleted", instanceId: id },
      // The original constraints (not the lost nodes' exclusion) go on, so a node that comes back counts again.
      { type: "InstanceCreated", instanceId: newId, model: instance.model, placement: decision.slices, placed: placedRecord(instance.placed, decision.placement), replaces: id },
    );
  }
  return { events, stranded };
}
