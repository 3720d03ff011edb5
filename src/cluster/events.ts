// The cluster's vocabulary of facts. Every change to the shared ClusterState is one of these events,
// named in the past tense because it records something that already happened; the master orders them
// into one global log (IndexedEvent) and every node folds that log with apply(). The schemas are the
// wire contract: they are strict (unknown fields and unknown `type`s are rejected) so that what a node
// stores and hashes is exactly what was validated, and new facts arrive as new event types.
import { z } from "zod";
import {
  CounterSchema,
  InstanceIdSchema,
  LatencySchema,
  LIMITS,
  LooseRecordListSchema,
  LooseRecordSchema,
  ModelSchema,
  NodeIdSchema,
  TextSchema,
  ThroughputSchema,
  TimestampSchema,
} from "./bounded.js";
import { InvalidMessage } from "./errors.js";
import { ModelNeedsSchema, PlacementConstraintsSchema } from "./needs.js";
import type { DeepReadonly } from "./readonly.js";

const event = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.strictObject({ type: z.literal(type), ...shape });

// An edge from a node to itself is meaningless in the topology, so it is malformed rather than ignored.
const distinctEnds = (e: { from: string; to: string }) => e.from !== e.to;

export const NodeJoinedSchema = event("NodeJoined", {
  nodeId: NodeIdSchema,
  name: TextSchema,
  addresses: z.array(TextSchema.min(1)).max(LIMITS.listMax),
  at: TimestampSchema,
});
export const NodeTimedOutSchema = event("NodeTimedOut", { nodeId: NodeIdSchema, at: TimestampSchema });
export const NodeLeftSchema = event("NodeLeft", { nodeId: NodeIdSchema, at: TimestampSchema });
/** A heartbeat: refreshes lastSeen, and proves a timed-out node is alive after all. */
export const NodeSeenSchema = event("NodeSeen", { nodeId: NodeIdSchema, at: TimestampSchema });
export const TopologyEdgeCreatedSchema = event("TopologyEdgeCreated", {
  from: NodeIdSchema,
  to: NodeIdSchema,
  latencyMs: LatencySchema.optional(),
  throughputBps: ThroughputSchema.optional(),
}).refine(distinctEnds, "an edge needs two distinct nodes");
export const TopologyEdgeDeletedSchema = event("TopologyEdgeDeleted", { from: NodeIdSchema, to: NodeIdSchema }).refine(
  distinctEnds,
  "an edge needs two distinct nodes",
);
export const MasterElectedSchema = event("MasterElected", { nodeId: NodeIdSchema, term: CounterSchema });
export const DeviceGPUStateUpdatedSchema = event("DeviceGPUStateUpdated", {
  nodeId: NodeIdSchema,
  gpus: LooseRecordListSchema,
});
export const NodeTelemetryUpdatedSchema = event("NodeTelemetryUpdated", {
  nodeId: NodeIdSchema,
  telemetry: LooseRecordSchema,
});
/** A node's static description (the device profile and its measured CPU backend rate), sent once per membership. */
export const NodeProfileUpdatedSchema = event("NodeProfileUpdated", {
  nodeId: NodeIdSchema,
  profile: LooseRecordSchema,
});
const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/);
const ByteCountSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** One model file a node holds, whole or (for a shard fetched from peers) in part. */
export const HeldModelSchema = z.strictObject({
  /** The name requests use: `owner/repo:file.gguf` for pulled models, else the file name. */
  name: ModelSchema,
  sizeBytes: ByteCountSchema,
  sha256: Sha256Schema.optional(),
  architecture: TextSchema.optional(),
  layers: z.number().int().min(0).max(100_000).optional(),
  /** The dominant weight type, e.g. Q4_K. */
  weightType: TextSchema.optional(),
  /** Identity of the per-tensor hash list this node serves to peers fetching shards. */
  tensorManifest: Sha256Schema.optional(),
  /** For a partial model: the bytes held so far (only its shard's tensors). */
  partialBytes: ByteCountSchema.optional(),
});
/** The models in a node's models directory, sent at start and whenever the set changes. */
export const NodeModelsUpdatedSchema = event("NodeModelsUpdated", {
  nodeId: NodeIdSchema,
  models: z.array(HeldModelSchema).max(256),
});
/** A model (or a shard of one) arriving on a node, from the Hub or from peers. */
export const NodeDownloadProgressSchema = event("NodeDownloadProgress", {
  nodeId: NodeIdSchema,
  model: ModelSchema,
  source: z.enum(["hub", "peer"]),
  bytesDone: ByteCountSchema,
  bytesTotal: ByteCountSchema,
  status: z.enum(["downloading", "done", "failed"]),
  error: TextSchema.optional(),
  at: TimestampSchema,
});
export const GPUBandwidthMeasuredSchema = event("GPUBandwidthMeasured", {
  from: NodeIdSchema,
  to: NodeIdSchema,
  latencyMs: LatencySchema,
  throughputBps: ThroughputSchema,
  at: TimestampSchema,
}).refine(distinctEnds, "an edge needs two distinct nodes");

/** Layers [start, end) of a model served by one node, in pipeline order. */
export const PlacementSliceSchema = z
  .strictObject({
    nodeId: NodeIdSchema,
    start: z.number().int().min(0).max(LIMITS.maxLayer),
    end: z.number().int().min(1).max(LIMITS.maxLayer),
  })
  .refine((s) => s.start < s.end, "a slice needs start < end");

/**
 * A pipeline: slices in stage order, starting at layer 0, each starting where the previous one ended,
 * one node per stage. Whether the last slice ends at the model's layer count only the model file
 * knows; a worker that finds otherwise reports its runner failed.
 */
export const PlacementSchema = z
  .array(PlacementSliceSchema)
  .min(1)
  .max(LIMITS.listMax)
  // zod runs refinements even after min(1) failed, so none may assume an element exists.
  .refine((p) => p.length === 0 || p[0]?.start === 0, "the first slice must start at layer 0")
  .refine((p) => p.every((s, i) => i === 0 || s?.start === p[i - 1]?.end), "each slice must start where the previous one ends")
  .refine((p) => new Set(p.map((s) => s?.nodeId)).size === p.length, "a node may hold only one slice");

export const InstanceCreatedSchema = event("InstanceCreated", {
  instanceId: InstanceIdSchema,
  model: ModelSchema,
  placement: PlacementSchema,
  /**
   * Present when the solver chose the placement: what it planned for, so the master can place the
   * model again when a stage is lost. A placement given by hand is never moved.
   */
  placed: z
    .strictObject({
      needs: ModelNeedsSchema,
      constraints: PlacementConstraintsSchema.optional(),
      /** The solver's decode prediction for this placement, as the devices were when it was chosen. */
      predicted: z.strictObject({ secondsPerToken: z.number().finite().positive(), tokPerSec: z.number().finite().positive() }).optional(),
    })
    .optional(),
  /** The instance this one took over from after a stage was lost. */
  replaces: InstanceIdSchema.optional(),
});
export const InstanceDeletedSchema = event("InstanceDeleted", { instanceId: InstanceIdSchema });
/**
 * A runner's life: idle (assigned) → loading (reading its shard) → loaded → ready (linked to the next
 * stage) ⇄ running (serving sequences) → failed or shutdown.
 */
export const RunnerStatusSchema = z.enum(["idle", "loading", "loaded", "ready", "running", "failed", "shutdown"]);
export const RunnerStatusUpdatedSchema = event("RunnerStatusUpdated", {
  instanceId: InstanceIdSchema,
  nodeId: NodeIdSchema,
  status: RunnerStatusSchema,
  /** Why a runner failed, in words. */
  error: TextSchema.optional(),
});

export const EventSchema = z.discriminatedUnion("type", [
  NodeJoinedSchema,
  NodeTimedOutSchema,
  NodeLeftSchema,
  NodeSeenSchema,
  TopologyEdgeCreatedSchema,
  TopologyEdgeDeletedSchema,
  MasterElectedSchema,
  DeviceGPUStateUpdatedSchema,
  NodeTelemetryUpdatedSchema,
  NodeProfileUpdatedSchema,
  GPUBandwidthMeasuredSchema,
  NodeModelsUpdatedSchema,
  NodeDownloadProgressSchema,
  InstanceCreatedSchema,
  InstanceDeletedSchema,
  RunnerStatusUpdatedSchema,
]);

/**
 * One event in the master's global order: its position, the master's term, and who proposed it.
 * `prev` is the digest of the event before it (cluster/hash.ts eventDigest), so each event vouches for
 * the whole log behind it: a node whose own history differs (it was a master that died holding events
 * it never published) sees the break on the next event it is sent, not never. Absent at index 0 and in
 * logs written before it existed.
 */
export const IndexedEventSchema = z.strictObject({
  index: CounterSchema,
  term: CounterSchema,
  event: EventSchema,
  origin: NodeIdSchema,
  prev: z.string().regex(/^[0-9a-f]{32}$/).optional(),
});

export type NodeId = string;
export type Event = DeepReadonly<z.output<typeof EventSchema>>;
export type EventType = Event["type"];
export type EventOf<T extends EventType> = Extract<Event, { readonly type: T }>;
export type IndexedEvent = DeepReadonly<z.output<typeof IndexedEventSchema>>;
export type PlacementSlice = DeepReadonly<z.output<typeof PlacementSliceSchema>>;
export type RunnerStatus = z.output<typeof RunnerStatusSchema>;

/** Turns zod's issues into short "path: message" strings for InvalidMessage. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
}

/** Validates an untrusted value as an Event; throws InvalidMessage. */
export function parseEvent(value: unknown): Event {
  const r = EventSchema.safeParse(value);
  if (!r.success) throw new InvalidMessage("event", describeIssues(r.error));
  return r.data;
}

/** Validates an untrusted value as an IndexedEvent; throws InvalidMessage. */
export function parseIndexedEvent(value: unknown): IndexedEvent {
  const r = IndexedEventSchema.safeParse(value);
  if (!r.success) throw new InvalidMessage("indexed event", describeIssues(r.error));
  return r.data;
}
