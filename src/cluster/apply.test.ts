import { test } from "node:test";
import assert from "node:assert/strict";
import { apply, applyAll } from "./apply.js";
import { OutOfOrderEvent, StaleTermEvent } from "./errors.js";
import type { Event } from "./events.js";
import { stateHash } from "./hash.js";
import { edgeKey, initialState, runnerKey, type ClusterState } from "./state.js";
import { deepFreeze, indexed, randomLog, seeded } from "./test-support.js";

/** Applies `events` after `before` (already a log) to a fresh state, freezing every input on the way. */
function run(events: readonly Event[], before: readonly Event[] = []): { prev: ClusterState; next: ClusterState } {
  const all = indexed([...before, ...events]);
  let s = deepFreeze(initialState());
  let prev = s;
  for (const e of all) {
    prev = s;
    s = deepFreeze(apply(s, deepFreeze(e)));
  }
  return { prev, next: s };
}
const stateAfter = (events: readonly Event[]): ClusterState => run(events).next;

const join = (nodeId: string, at = 100, name = nodeId): Event => ({ type: "NodeJoined", nodeId, name, addresses: [`/ip4/10.0.0.1/tcp/${at}`], at });
const AB: Event[] = [join("a"), join("b")];

test("initial state", () => {
  const s = initialState();
  assert.deepEqual(s, { nodes: {}, edges: {}, instances: {}, runners: {}, master: null, lastEventIndex: -1 });
  assert.ok(Object.isFrozen(s));
});

test("NodeJoined adds an alive node; a duplicate join keeps seniority; a rejoin resets it", () => {
  const s1 = stateAfter([join("a", 100)]);
  assert.deepEqual(s1.nodes["a"], { id: "a", name: "a", addresses: ["/ip4/10.0.0.1/tcp/100"], firstSeen: 100, lastSeen: 100, status: "alive" });
  assert.equal(s1.lastEventIndex, 0);
  const dup = stateAfter([join("a", 100), join("a", 200, "renamed")]).nodes["a"]!;
  assert.equal(dup.firstSeen, 100);
  assert.equal(dup.lastSeen, 200);
  assert.equal(dup.name, "renamed");
  const telemetry: Event = { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { cpu: 1 } };
  const rejoined = stateAfter([join("a", 100), telemetry, { type: "NodeLeft", nodeId: "a", at: 150 }, join("a", 300)]).nodes["a"]!;
  assert.equal(rejoined.status, "alive");
  assert.equal(rejoined.firstSeen, 300);
  assert.equal(rejoined.telemetry, undefined, "stale telemetry is dropped on rejoin");
});

test("NodeTimedOut marks an alive node and drops its edges; unknown or left nodes are ignored", () => {
  const edges: Event[] = [...AB, join("c"), { type: "TopologyEdgeCreated", from: "a", to: "b" }, { type: "TopologyEdgeCreated", from: "b", to: "c" }];
  const { prev, next } = run([{ type: "NodeTimedOut", nodeId: "a", at: 500 }], edges);
  assert.equal(next.nodes["a"]!.status, "timed_out");
  assert.deepEqual(Object.keys(next.edges), [edgeKey("b", "c")]);
  assert.equal(Object.keys(prev.edges).length, 2);
  const unknown = run([{ type: "NodeTimedOut", nodeId: "zz", at: 5 }], AB);
  assert.deepEqual({ ...unknown.next, lastEventIndex: 0 }, { ...unknown.prev, lastEventIndex: 0 });
  const left = stateAfter([...AB, { type: "NodeLeft", nodeId: "a", at: 1 }, { type: "NodeTimedOut", nodeId: "a", at: 2 }]);
  assert.equal(left.nodes["a"]!.status, "left");
});

test("NodeLeft marks the node left and drops its edges", () => {
  const s = stateAfter([...AB, { type: "TopologyEdgeCreated", from: "b", to: "a" }, { type: "NodeLeft", nodeId: "a", at: 900 }]);
  assert.equal(s.nodes["a"]!.status, "left");
  assert.equal(s.nodes["a"]!.lastSeen, 900);
  assert.deepEqual(s.edges, {});
});

test("NodeSeen refreshes lastSeen (never backwards), revives a timed-out node, not a left one", () => {
  assert.equal(stateAfter([join("a", 100), { type: "NodeSeen", nodeId: "a", at: 400 }]).nodes["a"]!.lastSeen, 400);
  assert.equal(stateAfter([join("a", 100), { type: "NodeSeen", nodeId: "a", at: 50 }]).nodes["a"]!.lastSeen, 100);
  const revived = stateAfter([join("a", 100), { type: "NodeTimedOut", nodeId: "a", at: 200 }, { type: "NodeSeen", nodeId: "a", at: 300 }]);
  assert.equal(revived.nodes["a"]!.status, "alive");
  assert.equal(revived.nodes["a"]!.firstSeen, 100);
  const left = stateAfter([join("a", 100), { type: "NodeLeft", nodeId: "a", at: 200 }, { type: "NodeSeen", nodeId: "a", at: 300 }]);
  assert.equal(left.nodes["a"]!.status, "left");
  assert.equal(left.nodes["a"]!.lastSeen, 200);
  assert.deepEqual(stateAfter([{ type: "NodeSeen", nodeId: "ghost", at: 1 }]).nodes, {});
});

test("TopologyEdgeCreated needs two alive nodes, upserts and keeps earlier measurements", () => {
  const s = stateAfter([...AB, { type: "TopologyEdgeCreated", from: "a", to: "b", latencyMs: 2, throughputBps: 5 }]);
  assert.deepEqual(s.edges[edgeKey("a", "b")], { from: "a", to: "b", latencyMs: 2, throughputBps: 5 });
  const again = stateAfter([...AB, { type: "TopologyEdgeCreated", from: "a", to: "b", latencyMs: 2 }, { type: "TopologyEdgeCreated", from: "a", to: "b", throughputBps: 9 }]);
  assert.deepEqual(again.edges[edgeKey("a", "b")], { from: "a", to: "b", latencyMs: 2, throughputBps: 9 });
  assert.deepEqual(stateAfter([join("a"), { type: "TopologyEdgeCreated", from: "a", to: "ghost" }]).edges, {});
  const toDead = stateAfter([...AB, { type: "NodeTimedOut", nodeId: "b", at: 1 }, { type: "TopologyEdgeCreated", from: "a", to: "b" }]);
  assert.deepEqual(toDead.edges, {});
});

test("TopologyEdgeDeleted removes the directed edge only; deleting a missing edge is a no-op", () => {
  const s = stateAfter([...AB, { type: "TopologyEdgeCreated", from: "a", to: "b" }, { type: "TopologyEdgeCreated", from: "b", to: "a" }, { type: "TopologyEdgeDeleted", from: "a", to: "b" }]);
  assert.deepEqual(Object.keys(s.edges), [edgeKey("b", "a")]);
  const { prev, next } = run([{ type: "TopologyEdgeDeleted", from: "a", to: "b" }], AB);
  assert.equal(next.edges, prev.edges, "structure shared when nothing changed");
});

test("MasterElected: the first is accepted, a higher term replaces, an equal or lower term is ignored", () => {
  const m = (nodeId: string, term: number): Event => ({ type: "MasterElected", nodeId, term });
  // Each event is stamped with the term of the master that sequenced it, as a real master would.
  const log = (...events: [Event, number][]) => events.map(([event, term], index) => deepFreeze({ index, term, event, origin: "x" }));
  assert.deepEqual(applyAll(initialState(), log([m("a", 0), 0])).master, { nodeId: "a", term: 0 });
  assert.deepEqual(applyAll(initialState(), log([m("a", 1), 1], [m("b", 3), 3])).master, { nodeId: "b", term: 3 });
  assert.deepEqual(applyAll(initialState(), log([m("a", 3), 3], [m("b", 3), 3])).master, { nodeId: "a", term: 3 });
  assert.deepEqual(applyAll(initialState(), log([m("a", 3), 3], [m("b", 2), 3])).master, { nodeId: "a", term: 3 });
});

test("DeviceGPUStateUpdated and NodeTelemetryUpdated store data for known nodes, ignore unknown and left ones", () => {
  const gpus = [{ name: "V100", vram: 16e9 }];
  const s = stateAfter([join("a"), { type: "DeviceGPUStateUpdated", nodeId: "a", gpus }, { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { cpu: 0.25 } }]);
  assert.deepEqual(s.nodes["a"]!.gpus, gpus);
  assert.deepEqual(s.nodes["a"]!.telemetry, { cpu: 0.25 });
  assert.deepEqual(stateAfter([{ type: "NodeTelemetryUpdated", nodeId: "ghost", telemetry: { cpu: 1 } }]).nodes, {});
  const left = stateAfter([join("a"), { type: "NodeLeft", nodeId: "a", at: 1 }, { type: "DeviceGPUStateUpdated", nodeId: "a", gpus }]);
  assert.equal(left.nodes["a"]!.gpus, undefined);
});

test("NodeProfileUpdated sets the node's device for known nodes, ignores unknown and left ones; a rejoin drops it", () => {
  const profile = { cpu: { model: "Xeon" }, benchmark: { q8_0GBs: 5 } };
  const update: Event = { type: "NodeProfileUpdated", nodeId: "a", profile };
  const s = stateAfter([join("a"), update]);
  assert.deepEqual(s.nodes["a"]!.device, profile);
  const replaced = stateAfter([join("a"), update, { type: "NodeProfileUpdated", nodeId: "a", profile: { cpu: { model: "new" } } }]);
  assert.deepEqual(replaced.nodes["a"]!.device, { cpu: { model: "new" } });
  const ghost = run([{ type: "NodeProfileUpdated", nodeId: "ghost", profile }], [join("a")]);
  assert.deepEqual(ghost.next.nodes, ghost.prev.nodes);
  const left = stateAfter([join("a"), { type: "NodeLeft", nodeId: "a", at: 1 }, update]);
  assert.equal(left.nodes["a"]!.device, undefined);
  const timedOut = stateAfter([join("a"), { type: "NodeTimedOut", nodeId: "a", at: 1 }, update]);
  assert.deepEqual(timedOut.nodes["a"]!.device, profile, "a timed-out node may still report: it may be alive after all");
  const rejoined = stateAfter([join("a", 100), update, { type: "NodeLeft", nodeId: "a", at: 150 }, join("a", 300)]);
  assert.equal(rejoined.nodes["a"]!.device, undefined, "a new membership sends its profile again");
});

test("NodeModelsUpdated lists a node's models; NodeDownloadProgress keeps the latest progress per model; a rejoin drops both", () => {
  const held = { name: "owner/repo:m.gguf", sizeBytes: 1000, sha256: "a".repeat(64), architecture: "llama", layers: 5 };
  const models: Event = { type: "NodeModelsUpdated", nodeId: "a", models: [held] };
  const progress = (bytesDone: number, status: "downloading" | "done" = "downloading", model = "m"): Event =>
    ({ type: "NodeDownloadProgress", nodeId: "a", model, source: "peer", bytesDone, bytesTotal: 100, status, at: 5 });
  const s = stateAfter([...AB, models, progress(10), progress(60), progress(100, "done"), progress(1, "downloading", "other")]);
  assert.deepEqual(s.nodes["a"]!.models, [held]);
  assert.deepEqual(s.nodes["a"]!.downloads, {
    m: { model: "m", source: "peer", bytesDone: 100, bytesTotal: 100, status: "done", at: 5 },
    other: { model: "other", source: "peer", bytesDone: 1, bytesTotal: 100, status: "downloading", at: 5 },
  });
  assert.equal(stateAfter([join("b"), { ...models, nodeId: "zz" }]).nodes["zz"], undefined, "unknown nodes are ignored");
  const rejoined = stateAfter([...AB, models, progress(10), { type: "NodeLeft", nodeId: "a", at: 200 }, join("a", 300)]).nodes["a"]!;
  assert.equal(rejoined.models, undefined);
  assert.equal(rejoined.downloads, undefined);
  // Many models in flight: only the 64 most recent are kept.
  const many = stateAfter([...AB, ...Array.from({ length: 70 }, (_, i) => progress(i, "downloading", `m${i}`))]).nodes["a"]!;
  assert.equal(Object.keys(many.downloads!).length, 64);
  assert.ok(many.downloads!["m69"] && !many.downloads!["m0"]);
});

test("GPUBandwidthMeasured updates an existing edge, never creates one, never goes back in time", () => {
  const bw = (at: number, throughputBps: number): Event => ({ type: "GPUBandwidthMeasured", from: "a", to: "b", latencyMs: 1, throughputBps, at });
  const s = stateAfter([...AB, { type: "TopologyEdgeCreated", from: "a", to: "b" }, bw(10, 100), bw(5, 50)]);
  assert.deepEqual(s.edges[edgeKey("a", "b")], { from: "a", to: "b", latencyMs: 1, throughputBps: 100, measuredAt: 10 });
  assert.deepEqual(stateAfter([...AB, bw(10, 100)]).edges, {});
});

test("instances and runners: create once, runners only for placed nodes, delete removes runners", () => {
  const create: Event = { type: "InstanceCreated", instanceId: "i1", model: "stories260K", placement: [{ nodeId: "a", start: 0, end: 3 }, { nodeId: "b", start: 3, end: 5 }] };
  const runner = (nodeId: string, status: "loading" | "ready" | "failed"): Event => ({ type: "RunnerStatusUpdated", instanceId: "i1", nodeId, status });
  const s = stateAfter([...AB, create, { ...create, model: "other" }, runner("a", "loading"), runner("a", "ready"), runner("c", "ready")]);
  assert.equal(s.instances["i1"]!.model, "stories260K");
  assert.deepEqual(s.runners, {
    [runnerKey("i1", "a")]: { instanceId: "i1", nodeId: "a", status: "ready" },
    [runnerKey("i1", "b")]: { instanceId: "i1", nodeId: "b", status: "idle" },
  });
  const deleted = stateAfter([...AB, create, runner("a", "ready"), { type: "InstanceDeleted", instanceId: "i1" }]);
  assert.deepEqual(deleted.instances, {});
  assert.deepEqual(deleted.runners, {});
  assert.deepEqual(stateAfter([runner("a", "ready")]).runners, {}, "runner for an unknown instance");
  assert.equal(stateAfter([{ type: "InstanceDeleted", instanceId: "nope" }]).lastEventIndex, 0);
});

test("runners: a failure keeps its reason; a node timing out fails its runners, one leaving shuts them down", () => {
  const create: Event = { type: "InstanceCreated", instanceId: "i1", model: "m", placement: [{ nodeId: "a", start: 0, end: 3 }, { nodeId: "b", start: 3, end: 5 }] };
  const ready = (nodeId: string): Event => ({ type: "RunnerStatusUpdated", instanceId: "i1", nodeId, status: "ready" });
  const failed: Event = { type: "RunnerStatusUpdated", instanceId: "i1", nodeId: "a", status: "failed", error: "no such file" };
  assert.deepEqual(stateAfter([...AB, create, failed]).runners[runnerKey("i1", "a")], { instanceId: "i1", nodeId: "a", status: "failed", error: "no such file" });
  const timedOut = stateAfter([...AB, create, ready("a"), ready("b"), { type: "NodeTimedOut", nodeId: "b", at: 200 }]);
  assert.deepEqual(timedOut.runners[runnerKey("i1", "b")], { instanceId: "i1", nodeId: "b", status: "failed", error: "its node stopped responding" });
  assert.equal(timedOut.runners[runnerKey("i1", "a")]!.status, "ready", "other nodes' runners are untouched");
  const left = stateAfter([...AB, create, ready("a"), ready("b"), { type: "NodeLeft", nodeId: "a", at: 200 }]);
  assert.deepEqual(left.runners[runnerKey("i1", "a")], { instanceId: "i1", nodeId: "a", status: "shutdown" });
  const failedThenGone = stateAfter([...AB, create, failed, { type: "NodeLeft", nodeId: "a", at: 200 }]);
  assert.equal(failedThenGone.runners[runnerKey("i1", "a")]!.error, "no such file", "an earlier failure keeps its reason");
});

test("ids shaped like Object.prototype members are ordinary ids", () => {
  const s = stateAfter([{ type: "NodeSeen", nodeId: "constructor", at: 1 }, { type: "NodeTelemetryUpdated", nodeId: "toString", telemetry: { x: 1 } }, join("__proto__")]);
  assert.deepEqual(Object.keys(s.nodes), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(s.nodes), Object.prototype);
  assert.equal(s.nodes["__proto__"]!.status, "alive");
});

test("apply never mutates its input (everything frozen) and returns a new state", () => {
  const log = randomLog(99, 300);
  const start = deepFreeze(initialState());
  let s = start;
  for (const e of log) {
    const next = apply(deepFreeze(s), deepFreeze(e));
    assert.notEqual(next, s);
    s = next;
  }
  assert.equal(s.lastEventIndex, 299);
  assert.deepEqual(start, initialState());
});

test("out-of-order indexes throw OutOfOrderEvent; the state is unchanged", () => {
  const s = applyAll(initialState(), indexed(AB));
  for (const bad of [0, 1, 3, 100]) {
    assert.throws(() => apply(s, { index: bad, term: 0, event: join("c"), origin: "a" }), (e: unknown) => e instanceof OutOfOrderEvent && e.expected === 2 && e.got === bad);
  }
  assert.equal(apply(s, { index: 2, term: 0, event: join("c"), origin: "a" }).lastEventIndex, 2);
});

test("events stamped with a term older than the current master's throw StaleTermEvent", () => {
  const s = applyAll(initialState(), indexed([{ type: "MasterElected", nodeId: "b", term: 4 }], 0, 4));
  assert.throws(() => apply(s, { index: 1, term: 3, event: join("c"), origin: "a" }), StaleTermEvent);
  assert.equal(apply(s, { index: 1, term: 4, event: join("c"), origin: "b" }).lastEventIndex, 1);
});

test("fuzz: 500 seeded logs give the same hash twice, keep invariants, and only throw named errors", () => {
  for (let seed = 1; seed <= 500; seed++) {
    const log = randomLog(seed, 40);
    const rand = seeded(seed * 7919);
    let s = initialState();
    for (const e of log) {
      // Now and then, offer a wrong index or a stale term first: only the named errors may come out.
      if (rand() < 0.1) {
        const wrong = { ...e, index: e.index + 1 + Math.floor(rand() * 3) };
        assert.throws(() => apply(s, wrong), OutOfOrderEvent);
      }
      if (s.master !== null && s.master.term > 0 && rand() < 0.1) {
        assert.throws(() => apply(s, { ...e, term: s.master!.term - 1 }), StaleTermEvent);
      }
      s = apply(s, e);
      checkInvariants(s);
    }
    const again = applyAll(initialState(), randomLog(seed, 40));
    assert.equal(stateHash(again), stateHash(s), `seed ${seed}`);
    assert.deepEqual(again, s);
  }
});

function checkInvariants(s: ClusterState): void {
  for (const [key, edge] of Object.entries(s.edges)) {
    assert.equal(key, edgeKey(edge.from, edge.to));
    assert.equal(s.nodes[edge.from]?.status, "alive");
    assert.equal(s.nodes[edge.to]?.status, "alive");
  }
  for (const [key, r] of Object.entries(s.runners)) {
    assert.equal(key, runnerKey(r.instanceId, r.nodeId));
    assert.ok(s.instances[r.instanceId]?.placement.some((p) => p.nodeId === r.nodeId));
  }
  for (const n of Object.values(s.nodes)) assert.ok(n.firstSeen <= n.lastSeen);
}

test("different logs give different hashes", () => {
  const a = applyAll(initialState(), randomLog(1, 40));
  const b = applyAll(initialState(), randomLog(2, 40));
  assert.notEqual(stateHash(a), stateHash(b));
});
