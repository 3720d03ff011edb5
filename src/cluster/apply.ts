// The one reducer: apply(state, indexedEvent) -> new state. Every node folds the same ordered log with
// it, so it must be a pure, deterministic function of its inputs: no clock, no randomness, no I/O, no
// mutation (old states stay valid and may be shared). Each event type has its own small function.
//
// Events about things the state does not know are ignored rather than rejected: the log is already
// agreed and ordered, so refusing an event would only make a replica stuck. In particular:
// - NodeSeen, NodeTimedOut, NodeLeft, telemetry, profiles and GPU state for an unknown node are ignored
//   (the node's NodeJoined is the only way into the state);
// - telemetry, profiles and GPU state for a node that has left are ignored (it said goodbye);
// - edges need both ends known and alive; a node timing out or leaving drops its edges, and a
//   bandwidth measurement never creates an edge (it could race with a deletion);
// - MasterElected is only accepted for a higher term than the current master's (first wins in a term);
// - runner updates for a deleted instance, or for a node outside the placement, are ignored;
// - a node that times out fails its runners, and one that leaves shuts them down: a dead stage cannot
//   report for itself, and every replica must agree the instance is broken.
// Events are assumed schema-valid (parseIndexedEvent at the network and disk edges); apply re-checks
// only what the schema cannot know: the index order and the term.
import { OutOfOrderEvent, StaleTermEvent } from "./errors.js";
import type { Event, EventOf, IndexedEvent, NodeId } from "./events.js";
import { filterEntries, lookup, withEntry, withoutEntry } from "./readonly.js";
import type { ClusterState, Edge, NodeInfo } from "./state.js";
import { edgeKey, runnerKey } from "./state.js";

/**
 * Applies the event at index state.lastEventIndex + 1. Throws OutOfOrderEvent for any other index
 * (buffer it: see OrderedLog) and StaleTermEvent for an event stamped with a term older than the
 * current master's (a deposed master can never write again).
 */
export function apply(state: ClusterState, indexed: IndexedEvent): ClusterState {
  const expected = state.lastEventIndex + 1;
  if (indexed.index !== expected) throw new OutOfOrderEvent(expected, indexed.index);
  const currentTerm = state.master?.term ?? 0;
  if (indexed.term < currentTerm) throw new StaleTermEvent(indexed.index, indexed.term, currentTerm);
  return { ...reduce(state, indexed.event), lastEventIndex: indexed.index };
}

/** Folds `events` in order; stops with the first error (the states before it are not lost: apply is pure). */
export function applyAll(state: ClusterState, events: Iterable<IndexedEvent>): ClusterState {
  let s = state;
  for (const e of events) s = apply(s, e);
  return s;
}

function reduce(s: ClusterState, e: Event): ClusterState {
  switch (e.type) {
    case "NodeJoined":
      return nodeJoined(s, e);
    case "NodeTimedOut":
      return nodeTimedOut(s, e);
    case "NodeLeft":
      return nodeLeft(s, e);
    case "NodeSeen":
      return nodeSeen(s, e);
    case "TopologyEdgeCreated":
      return edgeCreated(s, e);
    case "TopologyEdgeDeleted":
      return { ...s, edges: withoutEntry(s.edges, edgeKey(e.from, e.to)) };
    case "MasterElected":
      return masterElected(s, e);
    case "DeviceGPUStateUpdated":
      return updateReportingNode(s, e.nodeId, (n) => ({ ...n, gpus: e.gpus }));
    case "NodeTelemetryUpdated":
      return updateReportingNode(s, e.nodeId, (n) => ({ ...n, telemetry: e.telemetry }));
    case "NodeProfileUpdated":
      return updateReportingNode(s, e.nodeId, (n) => ({ ...n, device: e.profile }));
    case "GPUBandwidthMeasured":
      return bandwidthMeasured(s, e);
    case "NodeModelsUpdated":
      return updateReportingNode(s, e.nodeId, (n) => ({ ...n, models: e.models }));
    case "NodeDownloadProgress":
      return updateReportingNode(s, e.nodeId, (n) => {
        const { type: _type, nodeId: _node, ...progress } = e;
        // Bounded: a node keeps its 64 most recent downloads.
        const kept = Object.entries(n.downloads ?? {}).filter(([model]) => model !== e.model).slice(-63);
        return { ...n, downloads: Object.fromEntries([...kept, [e.model, progress]]) };
      });
    case "InstanceCreated":
      return instanceCreated(s, e);
    case "InstanceDeleted":
      return instanceDeleted(s, e);
    case "RunnerStatusUpdated":
      return runnerStatusUpdated(s, e);
    default:
      return assertNever(e);
  }
}

/** The compiler proves this unreachable; at run time it catches an event that bypassed the schema. */
export function assertNever(value: never): never {
  throw new Error(`unhandled event: ${JSON.stringify(value)}`);
}

const putNode = (s: ClusterState, n: NodeInfo): ClusterState => ({ ...s, nodes: withEntry(s.nodes, n.id, n) });

function nodeJoined(s: ClusterState, e: EventOf<"NodeJoined">): ClusterState {
  const prev = lookup(s.nodes, e.nodeId);
  const base = { id: e.nodeId, name: e.name, addresses: e.addresses, status: "alive" as const };
  if (prev === undefined) return putNode(s, { ...base, firstSeen: e.at, lastSeen: e.at });
  // A duplicate join while alive refreshes name and addresses but keeps the membership (and seniority).
  if (prev.status === "alive") return putNode(s, { ...prev, ...base, lastSeen: Math.max(prev.lastSeen, e.at) });
  // A rejoin starts a new membership: seniority restarts, and the old telemetry is stale, so it goes.
  return putNode(s, { ...base, firstSeen: e.at, lastSeen: Math.max(prev.lastSeen, e.at) });
}

function nodeTimedOut(s: ClusterState, e: EventOf<"NodeTimedOut">): ClusterState {
  const prev = lookup(s.nodes, e.nodeId);
  if (prev?.status !== "alive") return s;
  const gone = dropEdgesOf(putNode(s, { ...prev, status: "timed_out" }), e.nodeId);
  return endRunnersOf(gone, e.nodeId, "failed", "its node stopped responding");
}

function nodeLeft(s: ClusterState, e: EventOf<"NodeLeft">): ClusterState {
  const prev = lookup(s.nodes, e.nodeId);
  if (prev === undefined || prev.status === "left") return s;
  const gone = dropEdgesOf(putNode(s, { ...prev, status: "left", lastSeen: Math.max(prev.lastSeen, e.at) }), e.nodeId);
  return endRunnersOf(gone, e.nodeId, "shutdown");
}

function nodeSeen(s: ClusterState, e: EventOf<"NodeSeen">): ClusterState {
  const prev = lookup(s.nodes, e.nodeId);
  // A node that left must come back through NodeJoined; a timed-out one was a false alarm and revives.
  if (prev === undefined || prev.status === "left") return s;
  return putNode(s, { ...prev, status: "alive", lastSeen: Math.max(prev.lastSeen, e.at) });
}

/** Marks every runner of a node that is still live as ended; failed or shut-down runners keep their reason. */
function endRunnersOf(s: ClusterState, nodeId: NodeId, status: "failed" | "shutdown", error?: string): ClusterState {
  let runners = s.runners;
  for (const [key, r] of Object.entries(s.runners)) {
    if (r.nodeId !== nodeId || r.status === "failed" || r.status === "shutdown") continue;
    runners = withEntry(runners, key, error === undefined ? { ...r, status } : { ...r, status, error });
  }
  return runners === s.runners ? s : { ...s, runners };
}

function dropEdgesOf(s: ClusterState, nodeId: NodeId): ClusterState {
  return { ...s, edges: filterEntries(s.edges, (edge) => edge.from !== nodeId && edge.to !== nodeId) };
}

const isAlive = (s: ClusterState, id: NodeId): boolean => lookup(s.nodes, id)?.status === "alive";

function edgeCreated(s: ClusterState, e: EventOf<"TopologyEdgeCreated">): ClusterState {
  if (!isAlive(s, e.from) || !isAlive(s, e.to)) return s;
  const key = edgeKey(e.from, e.to);
  // Keep earlier measurements unless this event brings new ones; never store `undefined` fields, so
  // equal states stay deepEqual and hash alike.
  const edge: Edge = { ...lookup(s.edges, key), from: e.from, to: e.to };
  const withLatency = e.latencyMs === undefined ? edge : { ...edge, latencyMs: e.latencyMs };
  const full = e.throughputBps === undefined ? withLatency : { ...withLatency, throughputBps: e.throughputBps };
  return { ...s, edges: withEntry(s.edges, key, full) };
}

function bandwidthMeasured(s: ClusterState, e: EventOf<"GPUBandwidthMeasured">): ClusterState {
  const key = edgeKey(e.from, e.to);
  const prev = lookup(s.edges, key);
  // An older measurement sequenced after a newer one must not overwrite it.
  if (prev === undefined || (prev.measuredAt !== undefined && prev.measuredAt > e.at)) return s;
  const edge: Edge = { ...prev, latencyMs: e.latencyMs, throughputBps: e.throughputBps, measuredAt: e.at };
  return { ...s, edges: withEntry(s.edges, key, edge) };
}

function masterElected(s: ClusterState, e: EventOf<"MasterElected">): ClusterState {
  if (s.master !== null && e.term <= s.master.term) return s;
  // The master need not have joined yet: at bootstrap the first master announces itself first.
  return { ...s, master: { nodeId: e.nodeId, term: e.term } };
}

function updateReportingNode(s: ClusterState, nodeId: NodeId, update: (n: NodeInfo) => NodeInfo): ClusterState {
  const prev = lookup(s.nodes, nodeId);
  if (prev === undefined || prev.status === "left") return s;
  return putNode(s, update(prev));
}

function instanceCreated(s: ClusterState, e: EventOf<"InstanceCreated">): ClusterState {
  // Instance ids are unique for the life of the cluster; a second creation with the same id is ignored.
  if (lookup(s.instances, e.instanceId) !== undefined) return s;
  // Optional fields only when present: equal states must stay deepEqual and hash alike.
  const instance = {
    instanceId: e.instanceId, model: e.model, placement: e.placement,
    ...(e.placed === undefined ? {} : { placed: e.placed }),
    ...(e.replaces === undefined ? {} : { replaces: e.replaces }),
  };
  // Every placed node gets a runner, idle until that node reports loading.
  let runners = s.runners;
  for (const p of e.placement) runners = withEntry(runners, runnerKey(e.instanceId, p.nodeId), { instanceId: e.instanceId, nodeId: p.nodeId, status: "idle" as const });
  return { ...s, instances: withEntry(s.instances, e.instanceId, instance), runners };
}

function instanceDeleted(s: ClusterState, e: EventOf<"InstanceDeleted">): ClusterState {
  if (lookup(s.instances, e.instanceId) === undefined) return s;
  return {
    ...s,
    instances: withoutEntry(s.instances, e.instanceId),
    runners: filterEntries(s.runners, (r) => r.instanceId !== e.instanceId),
  };
}

function runnerStatusUpdated(s: ClusterState, e: EventOf<"RunnerStatusUpdated">): ClusterState {
  const instance = lookup(s.instances, e.instanceId);
  if (instance === undefined || !instance.placement.some((p) => p.nodeId === e.nodeId)) return s;
  // Never store an undefined field: equal states must stay deepEqual and hash alike.
  const runner = e.error === undefined ? { instanceId: e.instanceId, nodeId: e.nodeId, status: e.status } : { instanceId: e.instanceId, nodeId: e.nodeId, status: e.status, error: e.error };
  return { ...s, runners: withEntry(s.runners, runnerKey(e.instanceId, e.nodeId), runner) };
}
