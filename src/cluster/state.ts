// The replicated cluster state: what every node believes after folding the same ordered event log.
// It is a plain, JSON-shaped value (records, arrays, scalars; no Maps, classes or Dates) so that it
// can be hashed canonically, compared across nodes and sent over the wire as is. Every type is
// readonly: a new state is built for each event and old ones stay valid (structural sharing).
import type { LooseRecord } from "./bounded.js";
import type { EventOf, NodeId, PlacementSlice, RunnerStatus } from "./events.js";

export type NodeStatus = "alive" | "timed_out" | "left";

export interface NodeInfo {
  readonly id: NodeId;
  readonly name: string;
  readonly addresses: readonly string[];
  /** Start of the node's current membership (reset when it rejoins after leaving or timing out). */
  readonly firstSeen: number;
  /** Latest time the node was heard from; never moves backwards. */
  readonly lastSeen: number;
  readonly status: NodeStatus;
  /** Static device description (NodeProfileUpdated): the device profile and its measured CPU backend rate. */
  readonly device?: LooseRecord;
  /** The node's latest telemetry sample (NodeTelemetryUpdated); see devices/telemetry.ts for its fields. */
  readonly telemetry?: LooseRecord;
  /** The node's GPUs as last sampled (DeviceGPUStateUpdated). */
  readonly gpus?: readonly LooseRecord[];
  /** Models in the node's models directory (NodeModelsUpdated). */
  readonly models?: readonly EventOf<"NodeModelsUpdated">["models"][number][];
  /** Latest progress of each model arriving on the node, by model name (NodeDownloadProgress). */
  readonly downloads?: Readonly<Record<string, Omit<EventOf<"NodeDownloadProgress">, "type" | "nodeId">>>;
}

export interface Edge {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Round-trip time measured from `from` to `to`, milliseconds. */
  readonly latencyMs?: number;
  /** Bytes per second `from` could send to `to` in a short timed transfer. */
  readonly throughputBps?: number;
  /** When the latest GPUBandwidthMeasured for this edge was taken. */
  readonly measuredAt?: number;
}

export interface Instance {
  readonly instanceId: string;
  readonly model: string;
  readonly placement: readonly PlacementSlice[];
  /** What the solver planned for, when it chose the placement (such an instance is re-placed when a stage is lost). */
  readonly placed?: EventOf<"InstanceCreated">["placed"];
  /** The instance this one replaced. */
  readonly replaces?: string;
}

export interface Runner {
  readonly instanceId: string;
  readonly nodeId: NodeId;
  readonly status: RunnerStatus;
  readonly error?: string;
}

export interface MasterInfo {
  readonly nodeId: NodeId;
  readonly term: number;
}

export interface ClusterState {
  readonly nodes: Readonly<Record<NodeId, NodeInfo>>;
  /** Directed links, keyed by edgeKey(from, to). */
  readonly edges: Readonly<Record<string, Edge>>;
  readonly instances: Readonly<Record<string, Instance>>;
  /** One runner per (instance, node), keyed by runnerKey(instanceId, nodeId). */
  readonly runners: Readonly<Record<string, Runner>>;
  readonly master: MasterInfo | null;
  /** Index of the last applied event; -1 before the first, so the next expected index is always this + 1. */
  readonly lastEventIndex: number;
}

// Ids cannot contain '>' or '#' (see bounded.ts), so these keys are unambiguous.
export const edgeKey = (from: NodeId, to: NodeId): string => `${from}->${to}`;
export const runnerKey = (instanceId: string, nodeId: NodeId): string => `${instanceId}#${nodeId}`;

const EMPTY: ClusterState = Object.freeze({
  nodes: Object.freeze({}),
  edges: Object.freeze({}),
  instances: Object.freeze({}),
  runners: Object.freeze({}),
  master: null,
  lastEventIndex: -1,
});

/** The state before any event. Frozen, so sharing one object between callers is safe. */
export function initialState(): ClusterState {
  return EMPTY;
}
