// Who in the cluster can serve a model's bytes: the alive nodes whose published list (NodeModelsUpdated)
// holds the whole file with a tensor manifest, which is what /tessera/model-range/1.0.0 serves.
import type { EventOf } from "./events.js";
import type { ClusterState } from "./state.js";

export type HeldModel = EventOf<"NodeModelsUpdated">["models"][number];

/** Does a held model answer to this name (its full name, or its file name)? */
export function heldAnswersTo(held: HeldModel, model: string): boolean {
  return held.name === model || held.name.split(/[:/]/).at(-1) === model;
}

/**
 * Alive nodes other than `exceptNodeId` that hold `model` whole and serve it, ordered by node id (so
 * every node asks the same holders first); each with the entry it published.
 */
export function wholeModelHolders(state: ClusterState, model: string, exceptNodeId?: string): { nodeId: string; held: HeldModel }[] {
  const holders: { nodeId: string; held: HeldModel }[] = [];
  for (const n of Object.values(state.nodes).sort((a, b) => (a.id < b.id ? -1 : 1))) {
    if (n.id === exceptNodeId || n.status !== "alive") continue;
    const held = n.models?.find((m) => heldAnswersTo(m, model) && m.tensorManifest !== undefined && m.partialBytes === undefined);
    if (held) holders.push({ nodeId: n.id, held });
  }
  return holders;
}
