// Commands are requests, not facts: a node (or the API) asks the master to do something, and the
// master answers by sequencing events, or by refusing. Kept deliberately small; later issues add more.
import { z } from "zod";
import { CounterSchema, InstanceIdSchema, LIMITS, ModelSchema, NodeIdSchema } from "./bounded.js";
import { InvalidMessage } from "./errors.js";
import { describeIssues, PlacementSchema } from "./events.js";
import type { DeepReadonly } from "./readonly.js";

/** Layers a placement request may describe; far beyond any model (Llama 3 405B has 126). */
export const MAX_PLACED_LAYERS = 1024;

const Bytes = z.number().finite().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * A model's needs (placement/types.ts ModelNeeds), computed from its GGUF header by the node that has
 * the file, so the master can place a model it does not hold.
 */
export const ModelNeedsSchema = z
  .strictObject({
    name: z.string().max(LIMITS.textMaxChars),
    layers: z.number().int().min(1).max(MAX_PLACED_LAYERS),
    layerBytes: z.array(Bytes).min(1).max(MAX_PLACED_LAYERS),
    layerFlopsPerToken: z.array(Bytes).min(1).max(MAX_PLACED_LAYERS),
    embeddingBytes: Bytes,
    outputBytes: Bytes,
    outputFlopsPerToken: Bytes,
    tiedHeadBytes: Bytes,
    sharedBytes: Bytes,
    kvBytesPerTokenPerLayer: Bytes,
    hiddenBytesPerToken: Bytes,
    contextLength: z.number().int().min(1).max(1 << 24),
    sequences: z.number().int().min(1).max(1024),
  })
  .refine((n) => n.layerBytes.length === n.layers && n.layerFlopsPerToken.length === n.layers, "one entry per layer in layerBytes and layerFlopsPerToken");

/** What the caller rules out; the solver's Constraints. */
export const PlacementConstraintsSchema = z.strictObject({
  excluded: z.array(NodeIdSchema).max(LIMITS.listMax).optional(),
  minBatteryPercent: z.number().min(0).max(100).optional(),
  minNodes: z.number().int().min(1).max(LIMITS.listMax).optional(),
  maxNodes: z.number().int().min(1).max(LIMITS.listMax).optional(),
  memorySafetyFraction: z.number().gt(0).max(1).optional(),
});

/** Asks the master to choose a placement with the solver and create the instance. */
export const PlaceInstanceSchema = z.strictObject({
  type: z.literal("PlaceInstance"),
  instanceId: InstanceIdSchema,
  model: ModelSchema,
  needs: ModelNeedsSchema,
  constraints: PlacementConstraintsSchema.optional(),
});

/** An instance with a placement chosen by the caller; the master checks the nodes and records it. */
export const CreateInstanceSchema = z.strictObject({
  type: z.literal("CreateInstance"),
  instanceId: InstanceIdSchema,
  model: ModelSchema,
  placement: PlacementSchema,
});

export const DeleteInstanceSchema = z.strictObject({
  type: z.literal("DeleteInstance"),
  instanceId: InstanceIdSchema,
});

/**
 * exo's catch-up: a node that sees a gap in the log asks for events [since, until) (to the end of the
 * log when `until` is absent); the answer is the IndexedEvents themselves.
 */
export const RequestEventLogSchema = z
  .strictObject({
    type: z.literal("RequestEventLog"),
    since: CounterSchema,
    until: CounterSchema.optional(),
    requester: NodeIdSchema,
  })
  .refine((c) => c.until === undefined || c.until > c.since, "until must be greater than since");

export const CommandSchema = z.discriminatedUnion("type", [
  PlaceInstanceSchema,
  CreateInstanceSchema,
  DeleteInstanceSchema,
  RequestEventLogSchema,
]);

export type Command = DeepReadonly<z.output<typeof CommandSchema>>;
export type CommandType = Command["type"];

/** Validates an untrusted value as a Command; throws InvalidMessage. */
export function parseCommand(value: unknown): Command {
  const r = CommandSchema.safeParse(value);
  if (!r.success) throw new InvalidMessage("command", describeIssues(r.error));
  return r.data;
}
