// GET /instance/predictions: each instance's predicted decode rate on its actual placement, for the
// dashboard's placement diagram. An instance the solver placed carries the model's needs in its
// InstanceCreated (`placed`); for one placed by hand this node reads the model's header, when it has
// the file. The prediction uses the cluster as it is now (devices, telemetry, links), as previews do.
import type { ClusterState, Instance } from "../cluster/index.js";
import { needsFor } from "../api/placement.js";
import { predictDecode } from "../placement/cost.js";
import { devicesFromState, linksFromState } from "../placement/from-state.js";
import type { ModelNeeds } from "../placement/types.js";
import type { RunnerManager } from "../runtime/runners.js";

export interface InstancePrediction {
  readonly instance_id: string;
  readonly model: string;
  /** Null when no prediction can be made; `reason` says why. */
  readonly predicted: {
    readonly tok_per_sec: number;
    readonly seconds_per_token: number;
    readonly stages: readonly { readonly node_id: string; readonly start: number; readonly end: number; readonly seconds: number }[];
  } | null;
  readonly source: "placed" | "model_header" | null;
  readonly reason?: string;
}

/** A model's needs, looked up once per model: reading a GGUF header on every dashboard refresh is waste. */
export class NeedsCache {
  private readonly known = new Map<string, Promise<ModelNeeds>>();
  constructor(private readonly runners: RunnerManager, private readonly limit = 32) {}

  get(model: string): Promise<ModelNeeds> {
    let p = this.known.get(model);
    if (!p) {
      if (this.known.size >= this.limit) this.known.delete(this.known.keys().next().value!);
      p = needsFor(this.runners, { model });
      // A failure (the file is not here yet) is not remembered: the model may arrive later.
      p.catch(() => this.known.delete(model));
      this.known.set(model, p);
    }
    return p;
  }
}

function predictOne(state: ClusterState, instance: Instance, needs: ModelNeeds): InstancePrediction["predicted"] {
  const { devices } = devicesFromState(state, needs.weightType);
  const p = predictDecode(needs, instance.placement, devices, linksFromState(state));
  return {
    tok_per_sec: p.tokPerSec,
    seconds_per_token: p.secondsPerToken,
    stages: p.breakdown.stages.map((s) => ({ node_id: s.nodeId, start: s.start, end: s.end, seconds: s.seconds })),
  };
}

const caches = new WeakMap<RunnerManager, NeedsCache>();

/** The predictions for every instance in `state`, with one needs cache per node's runner manager. */
export function predictionsFor(state: ClusterState, runners: RunnerManager): Promise<{ instances: InstancePrediction[] }> {
  let cache = caches.get(runners);
  if (!cache) caches.set(runners, (cache = new NeedsCache(runners)));
  return instancePredictions(state, cache);
}

export async function instancePredictions(state: ClusterState, needs: NeedsCache): Promise<{ instances: InstancePrediction[] }> {
  const out: InstancePrediction[] = [];
  for (const instance of Object.values(state.instances)) {
    const base = { instance_id: instance.instanceId, model: instance.model };
    let source: InstancePrediction["source"] = null;
    try {
      let n: ModelNeeds;
      if (instance.placed) {
        source = "placed";
        n = instance.placed.needs as ModelNeeds;
      } else {
        source = "model_header";
        n = await needs.get(instance.model);
      }
      out.push({ ...base, source, predicted: predictOne(state, instance, n) });
    } catch (e) {
      // No profile or link measured yet, or no model file on this node: the diagram shows why.
      out.push({ ...base, source, predicted: null, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  return { instances: out };
}
