// Commands are requests, not facts: a node (or the API) asks the master to do something, and the
// master answers by sequencing events, or by refusing. Kept deliberately small; later issues add more.
import { z } from "zod";
import { CounterSchema, InstanceIdSchema, ModelSchema, NodeIdSchema } from "./bounded.js";
import { InvalidMessage } from "./errors.js";
import { describeIssues, PlacementSchema } from "./events.js";
import { ModelNeedsSchema, PlacementConstraintsSchema } from "./needs.js";
import type { DeepReadonly } from "./readonly.js";

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
