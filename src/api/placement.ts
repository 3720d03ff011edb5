// Placement through the API: GET /instance/previews?model=… shows the best few placements the solver
// finds on the cluster as this node sees it, and POST /instance without a placement asks the master to
// place the model (PlaceInstance). The model's needs come from this node's copy of the GGUF header.
import { randomUUID } from "node:crypto";
import type { ClusterState } from "../cluster/index.js";
import { metaOptNumber, metaOptString } from "../gguf/format.js";
import { openGguf } from "../gguf/reader.js";
import { devicesFromState, linksFromState } from "../placement/from-state.js";
import { modelNeeds } from "../placement/model-needs.js";
import { constraintsOf, decidePlacement, type PlaceInstanceCommand } from "../placement/place-instance.js";
import { previews } from "../placement/previews.js";
import type { ModelNeeds, PlacementOk } from "../placement/types.js";
import type { TesseraNode } from "../runtime/node.js";
import { resolveModelFile, type RunnerManager } from "../runtime/runners.js";
import { HttpError } from "./http.js";

/** KV cache planned per sequence when the caller does not say: the model's context, capped. */
export const DEFAULT_PLANNED_CONTEXT = 4096;

export interface PlanRequest {
  readonly model: string;
  readonly contextLength?: number;
  readonly sequences?: number;
  readonly constraints?: PlaceInstanceCommand["constraints"];
}

/** The model's needs from the local file; 400 when this node cannot read it. */
export async function needsFor(runners: RunnerManager, req: PlanRequest): Promise<ModelNeeds> {
  const path = await resolveModelFile(req.model, runners.options.modelsDir).catch((e: Error) => {
    throw new HttpError(400, `${e.message}; placement reads the model's header on the node asked`);
  });
  const file = await openGguf(path).catch((e: Error) => {
    throw new HttpError(400, `model ${req.model}: ${e.message}`);
  });
  try {
    const header = file.header;
    const arch = metaOptString(header.metadata, "general.architecture");
    const modelContext = (arch && metaOptNumber(header.metadata, `${arch}.context_length`)) || DEFAULT_PLANNED_CONTEXT;
    const contextLength = req.contextLength ?? Math.min(modelContext, DEFAULT_PLANNED_CONTEXT);
    return modelNeeds(header, { contextLength, sequences: req.sequences ?? 1 });
  } catch (e) {
    throw new HttpError(400, `model ${req.model}: ${(e as Error).message}`);
  } finally {
    await file.close();
  }
}

function describe(state: ClusterState, p: PlacementOk): unknown {
  return {
    placement: p.stages.map((s) => ({ node_id: s.nodeId, name: state.nodes[s.nodeId]?.name ?? s.nodeId, start: s.start, end: s.end })),
    strategy: p.strategy,
    predicted: {
      tok_per_sec: p.predicted.tokPerSec,
      seconds_per_token: p.predicted.secondsPerToken,
      stages: p.predicted.breakdown.stages.map((s) => ({ node_id: s.nodeId, start: s.start, end: s.end, seconds: s.seconds, stream_bytes: s.streamBytes, bytes_per_sec: s.bytesPerSec, memory_bytes: s.memoryBytes })),
      hops: p.predicted.breakdown.hops.map((h) => ({ from: h.from, to: h.to, kind: h.kind, bytes: h.bytes, seconds: h.seconds })),
    },
  };
}

export async function instancePreviews(node: TesseraNode, runners: RunnerManager, req: PlanRequest, count: number): Promise<unknown> {
  const needs = await needsFor(runners, req);
  const state = node.state;
  const { devices, unknown } = devicesFromState(state, needs.weightType);
  const p = previews(needs, devices, linksFromState(state), constraintsOf(req), count);
  const reasons = [...p.best.reasons, ...unknown].map((r) => ({ node_id: r.nodeId, name: state.nodes[r.nodeId]?.name ?? r.nodeId, status: r.status, detail: r.detail }));
  return {
    model: req.model,
    context_length: needs.contextLength,
    sequences: needs.sequences,
    previews: p.best.ok ? [p.best, ...p.alternatives].map((x) => describe(state, x)) : [],
    devices: reasons,
    ...(p.best.ok ? {} : { failure: { reason: p.best.reason, detail: p.best.detail, needed_bytes: p.best.neededBytes, usable_bytes: p.best.usableBytes, shortfall_bytes: p.best.shortfallBytes } }),
  };
}

/** POST /instance without a placement: checks it can be placed, then lets the master place it. */
export async function placeInstance(node: TesseraNode, runners: RunnerManager, req: PlanRequest & { readonly instanceId?: string }): Promise<{ instanceId: string; preview: unknown }> {
  const needs = await needsFor(runners, req);
  const instanceId = req.instanceId ?? `inst-${randomUUID()}`;
  if (node.state.instances[instanceId]) throw new HttpError(409, `instance ${instanceId} already exists`);
  const cmd: PlaceInstanceCommand = { type: "PlaceInstance", instanceId, model: req.model, needs, ...(req.constraints ? { constraints: req.constraints } : {}) };
  const local = decidePlacement(node.state, cmd);
  if (!local.ok) throw new HttpError(422, `cannot place ${req.model}: ${local.detail}`);
  await node.submit(cmd);
  return { instanceId, preview: describe(node.state, local.placement) };
}
