// The master's answer to PlaceInstance: run the solver on the cluster as the replicated state describes
// it, and either name the placement (with its prediction) or say why there is none. Pure, so every
// node would decide the same from the same state, and a preview equals what the master will do.
import type { ClusterState, Command } from "../cluster/index.js";
import { devicesFromState, linksFromState } from "./from-state.js";
import { place } from "./solver.js";
import type { Constraints, ModelNeeds, PlacementOk } from "./types.js";

export type PlaceInstanceCommand = Extract<Command, { type: "PlaceInstance" }>;

export type PlacementDecision =
  | { readonly ok: true; readonly placement: PlacementOk; readonly slices: { nodeId: string; start: number; end: number }[] }
  | { readonly ok: false; readonly detail: string };

export function constraintsOf(cmd: Pick<PlaceInstanceCommand, "constraints">): Constraints {
  const c = cmd.constraints ?? {};
  return { ...c, excluded: c.excluded ? [...c.excluded] : undefined };
}

/** What InstanceCreated records of the solver's choice: its needs, constraints and prediction. */
export function placedRecord(cmd: Pick<PlaceInstanceCommand, "needs" | "constraints">, placement: PlacementOk) {
  const predicted = { secondsPerToken: placement.predicted.secondsPerToken, tokPerSec: placement.predicted.tokPerSec };
  return { needs: cmd.needs, ...(cmd.constraints === undefined ? {} : { constraints: cmd.constraints }), predicted };
}

/** The solver's mutable ModelNeeds from the read-only copy an event carries. */
export function needsOf(n: PlaceInstanceCommand["needs"]): ModelNeeds {
  return { ...n, layerBytes: [...n.layerBytes], layerFlopsPerToken: [...n.layerFlopsPerToken] };
}

export function decidePlacement(state: ClusterState, cmd: PlaceInstanceCommand): PlacementDecision {
  const { devices } = devicesFromState(state, cmd.needs.weightType);
  const needs = needsOf(cmd.needs);
  const result = place(needs, devices, linksFromState(state), constraintsOf(cmd));
  if (!result.ok) return { ok: false, detail: `${result.reason}: ${result.detail}` };
  return { ok: true, placement: result, slices: result.stages.map((s) => ({ nodeId: s.nodeId, start: s.start, end: s.end })) };
}
