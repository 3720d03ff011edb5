// Fixtures shared by the cluster tests: deep freezing (to prove nothing is mutated), indexing helpers,
// and a seeded generator of valid random events for the fuzz tests.
import { mulberry32 } from "../random/mulberry32.js";
import type { Event, IndexedEvent } from "./events.js";

/** Freezes a JSON-shaped value and everything inside it; returns it for chaining. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Wraps events as a consecutive log starting at `start`, all stamped with `term` by `origin`. */
export function indexed(events: readonly Event[], start = 0, term = 0, origin = "master"): IndexedEvent[] {
  return events.map((event, i) => ({ index: start + i, term, event, origin }));
}

/** Ids that include the prototype-shaped ones, so lookups must use own properties. */
export const NODE_POOL = ["a", "b", "c", "d", "constructor", "__proto__", "toString"] as const;
const INSTANCE_POOL = ["i1", "i2", "hasOwnProperty"] as const;

export type Rand = () => number;
export const seeded = (seed: number): Rand => mulberry32(seed);
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const int = (rand: Rand, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

function twoNodes(rand: Rand): [string, string] {
  const from = pick(rand, NODE_POOL);
  const rest = NODE_POOL.filter((n) => n !== from);
  return [from, pick(rand, rest)];
}

/** One valid random event; `maxTerm` bounds MasterElected terms. */
export function randomEvent(rand: Rand, maxTerm: number): Event {
  const nodeId = pick(rand, NODE_POOL);
  const at = int(rand, 0, 10_000);
  const instanceId = pick(rand, INSTANCE_POOL);
  switch (int(rand, 0, 14)) {
    case 0:
      return { type: "NodeJoined", nodeId, name: `node ${nodeId}`, addresses: [`/ip4/10.0.0.${int(rand, 1, 9)}/tcp/4001`], at };
    case 1:
      return { type: "NodeTimedOut", nodeId, at };
    case 2:
      return { type: "NodeLeft", nodeId, at };
    case 3:
      return { type: "NodeSeen", nodeId, at };
    case 4: {
      const [from, to] = twoNodes(rand);
      return rand() < 0.5
        ? { type: "TopologyEdgeCreated", from, to }
        : { type: "TopologyEdgeCreated", from, to, latencyMs: int(rand, 0, 50), throughputBps: int(rand, 1, 1e9) };
    }
    case 5: {
      const [from, to] = twoNodes(rand);
      return { type: "TopologyEdgeDeleted", from, to };
    }
    case 6:
      return { type: "MasterElected", nodeId, term: int(rand, 0, maxTerm) };
    case 7:
      return { type: "DeviceGPUStateUpdated", nodeId, gpus: [{ name: "gpu", memoryBytes: int(rand, 0, 1e9) }] };
    case 8:
      return { type: "NodeTelemetryUpdated", nodeId, telemetry: { cpu: rand(), temps: [int(rand, 20, 90)] } };
    case 9: {
      const [from, to] = twoNodes(rand);
      return { type: "GPUBandwidthMeasured", from, to, latencyMs: int(rand, 0, 20), throughputBps: int(rand, 1, 1e9), at };
    }
    case 10: {
      const [n1, n2] = twoNodes(rand);
      const placement = [
        { nodeId: n1, start: 0, end: 4 },
        { nodeId: n2, start: 4, end: 8 },
      ];
      return { type: "InstanceCreated", instanceId, model: "stories260K", placement };
    }
    case 11:
      return { type: "InstanceDeleted", instanceId };
    case 12:
      return { type: "NodeModelsUpdated", nodeId, models: [{ name: "stories260K", sizeBytes: int(rand, 1, 1e6) }] };
    case 13:
      return { type: "NodeDownloadProgress", nodeId, model: pick(rand, ["m1", "m2"] as const), source: "peer", bytesDone: int(rand, 0, 100), bytesTotal: 100, status: "downloading", at };
    default:
      return { type: "RunnerStatusUpdated", instanceId, nodeId, status: pick(rand, ["idle", "loading", "loaded", "ready", "running", "failed", "shutdown"] as const) };
  }
}

/**
 * A random log of `length` events, stamped the way a well-behaved cluster would: each event carries
 * the highest term elected so far (a MasterElected carries its own term when that is higher).
 */
export function randomLog(seed: number, length: number): IndexedEvent[] {
  const rand = seeded(seed);
  let term = 0;
  const log: IndexedEvent[] = [];
  for (let index = 0; index < length; index++) {
    const event = randomEvent(rand, term + 2);
    if (event.type === "MasterElected") term = Math.max(term, event.term);
    log.push({ index, term, event, origin: pick(rand, NODE_POOL) });
  }
  return log;
}
