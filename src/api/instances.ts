// POST /instance and DELETE /instance/:id: create an instance with an explicit placement, or delete
// one. The command goes to the master; the reply comes once this node has applied the result, so a
// client that gets 201 can see the instance in /state on this node.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { IdSchema, ModelSchema, PlacementSchema } from "../cluster/index.js";
import type { TesseraNode } from "../runtime/node.js";
import { resolveModelFile, type RunnerManager } from "../runtime/runners.js";
import { readModelHeader } from "../shard/shard.js";
import { placeInstance, type PlanRequest } from "./placement.js";
import { HttpError } from "./http.js";

const SliceInput = z.object({
  node_id: IdSchema.optional(),
  nodeId: IdSchema.optional(),
  start: z.number().int().min(0),
  end: z.number().int().min(1),
});

export const ConstraintsInput = z.object({
  excluded: z.array(IdSchema).max(64).optional(),
  min_battery_percent: z.number().min(0).max(100).optional(),
  min_nodes: z.number().int().min(1).max(64).optional(),
  max_nodes: z.number().int().min(1).max(64).optional(),
});

/** With a placement: exactly that. Without: the master's solver chooses one (context, sequences and constraints guide it). */
export const CreateInstanceBody = z.object({
  model: ModelSchema,
  instance_id: IdSchema.optional(),
  placement: z.array(SliceInput).min(1).max(64).optional(),
  context_length: z.number().int().min(1).max(1 << 24).optional(),
  sequences: z.number().int().min(1).max(1024).optional(),
  constraints: ConstraintsInput.optional(),
});

export function constraintsFrom(c: z.infer<typeof ConstraintsInput> | undefined): PlanRequest["constraints"] {
  if (!c) return undefined;
  return {
    ...(c.excluded ? { excluded: c.excluded } : {}),
    ...(c.min_battery_percent !== undefined ? { minBatteryPercent: c.min_battery_percent } : {}),
    ...(c.min_nodes !== undefined ? { minNodes: c.min_nodes } : {}),
    ...(c.max_nodes !== undefined ? { maxNodes: c.max_nodes } : {}),
  };
}

const APPLY_WAIT_MS = 10_000;

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + APPLY_WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new HttpError(504, `the master did not record ${what} within ${APPLY_WAIT_MS / 1000} s (is a master elected?)`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function createInstance(node: TesseraNode, runners: RunnerManager, body: z.infer<typeof CreateInstanceBody>): Promise<unknown> {
  if (!body.placement) {
    const placed = await placeInstance(node, runners, {
      model: body.model, instanceId: body.instance_id, contextLength: body.context_length, sequences: body.sequences, constraints: constraintsFrom(body.constraints),
    });
    await waitFor(() => node.state.instances[placed.instanceId] !== undefined, `instance ${placed.instanceId} (the master may have found no placement on its view of the cluster)`);
    const recorded = node.state.instances[placed.instanceId]!;
    return {
      instance_id: placed.instanceId,
      model: body.model,
      placement: recorded.placement.map((p) => ({ node_id: p.nodeId, start: p.start, end: p.end })),
      preview: placed.preview,
    };
  }
  const placement = body.placement.map((s) => {
    const nodeId = s.node_id ?? s.nodeId;
    if (nodeId === undefined) throw new HttpError(400, "every placement slice needs a node_id");
    return { nodeId, start: s.start, end: s.end };
  });
  const checked = PlacementSchema.safeParse(placement);
  if (!checked.success) throw new HttpError(400, `invalid placement: ${checked.error.issues.map((i) => i.message).join("; ")}`);
  for (const p of placement) {
    if (node.state.nodes[p.nodeId]?.status !== "alive") throw new HttpError(400, `node ${p.nodeId} is not an alive member of the cluster`);
  }
  // When this node has the model file too, check the layer count now rather than after loading.
  const path = await resolveModelFile(body.model, runners.options.modelsDir).catch(() => undefined);
  if (path) {
    const header = await readModelHeader(path).catch((e: Error) => {
      throw new HttpError(400, `model ${body.model}: ${e.message}`);
    });
    const end = placement.at(-1)!.end;
    if (end !== header.config.layers) throw new HttpError(400, `the placement covers layers [0, ${end}) but ${body.model} has ${header.config.layers}`);
  }
  const instanceId = body.instance_id ?? `inst-${randomUUID()}`;
  if (node.state.instances[instanceId]) throw new HttpError(409, `instance ${instanceId} already exists`);
  await node.submit({ type: "CreateInstance", instanceId, model: body.model, placement });
  await waitFor(() => node.state.instances[instanceId] !== undefined, `instance ${instanceId}`);
  return { instance_id: instanceId, model: body.model, placement: placement.map((p) => ({ node_id: p.nodeId, start: p.start, end: p.end })) };
}

export async function deleteInstance(node: TesseraNode, instanceId: string): Promise<unknown> {
  if (!node.state.instances[instanceId]) throw new HttpError(404, `no instance ${instanceId}`);
  await node.submit({ type: "DeleteInstance", instanceId });
  await waitFor(() => node.state.instances[instanceId] === undefined, `the deletion of ${instanceId}`);
  return { deleted: instanceId };
}
