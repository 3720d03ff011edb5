import assert from "node:assert/strict";
import { test } from "node:test";
import { initialState, runnerKey, type ClusterState, type Instance, type NodeInfo, type Runner } from "../cluster/index.js";
import { lostNodes, planRecovery, replacementId } from "./recovery.js";
import { GB } from "./test-support.js";

const NEEDS = {
  name: "m", layers: 4, layerBytes: [1e8, 1e8, 1e8, 1e8], layerFlopsPerToken: [4e8, 4e8, 4e8, 4e8], embeddingBytes: 5e7, outputBytes: 5e7,
  outputFlopsPerToken: 1e8, tiedHeadBytes: 0, sharedBytes: 0, kvBytesPerTokenPerLayer: 1024, hiddenBytesPerToken: 8192, contextLength: 512, sequences: 1,
};

const node = (id: string, status: NodeInfo["status"] = "alive"): NodeInfo => ({
  id, name: id, addresses: [], firstSeen: 0, lastSeen: 0, status,
  device: { placement: { memoryBytes: 16 * GB, backends: [{ kind: "cpu", weightBytesPerSec: 4 * GB }], utilisation: 0, thermal: "nominal" } },
});

/** Nodes linked to each other both ways (link probes make these edges in a running cluster). */
function cluster(nodes: NodeInfo[], instances: Instance[], runners: Runner[] = []): ClusterState {
  const edges: Record<string, ClusterState["edges"][string]> = {};
  for (const a of nodes) for (const b of nodes) if (a !== b) edges[`${a.id}->${b.id}`] = { from: a.id, to: b.id, latencyMs: 1, throughputBps: 1e8 };
  return {
    ...initialState(),
    edges,
    nodes: Object.fromEntries(nodes.map((n) => [n.id, n])),
    instances: Object.fromEntries(instances.map((i) => [i.instanceId, i])),
    runners: Object.fromEntries(runners.map((r) => [runnerKey(r.instanceId, r.nodeId), r])),
  };
}

const placed = (id: string, nodes: string[], extra: Partial<Instance> = {}): Instance => ({
  instanceId: id, model: "m.gguf",
  placement: nodes.map((n, i) => ({ nodeId: n, start: i * 2, end: i * 2 + 2 })),
  placed: { needs: NEEDS, constraints: { minNodes: 2 } },
  ...extra,
});

test("a stage is lost when its node is not alive or its runner failed or shut down", () => {
  const s = cluster([node("a"), node("b", "timed_out"), node("c")], [placed("i", ["a", "b"]), placed("j", ["a", "c"])], [
    { instanceId: "j", nodeId: "c", status: "failed", error: "stage 1 was lost" },
    { instanceId: "j", nodeId: "a", status: "ready" },
  ]);
  assert.deepEqual(lostNodes(s, s.instances["i"]), ["b"]);
  assert.deepEqual(lostNodes(s, s.instances["j"]), ["c"]);
});

test("a device gone critical, or on battery below the floor, leaves its instances too", () => {
  const hot = { ...node("b"), telemetry: { thermal: { state: "critical" } } };
  const drained = { ...node("c"), telemetry: { power: { source: "battery", batteryPercent: 10 } } };
  const charging = { ...node("d"), telemetry: { power: { source: "mains", batteryPercent: 10 } } };
  const s = cluster([node("a"), hot, drained, charging], [placed("i", ["a", "b"]), placed("j", ["c", "d"])]);
  assert.deepEqual(lostNodes(s, s.instances["i"]), ["b"]);
  assert.deepEqual(lostNodes(s, s.instances["j"]), ["c"], "a charging device is not drained");
});

test("replacement ids count up from the base id and skip ids in use", () => {
  const s = cluster([], [placed("x.r1", ["a"])]);
  assert.equal(replacementId(s, "x"), "x.r2");
  assert.equal(replacementId(s, "x.r1"), "x.r2");
  assert.equal(replacementId(s, "y.r7"), "y.r8");
});

test("recovery replaces a solver-placed instance without its lost nodes, keeps its needs, and never moves a hand-placed one", () => {
  const s = cluster([node("a"), node("b", "timed_out"), node("c"), node("d")], [
    placed("auto", ["a", "b"]),
    placed("pinned", ["a", "b"], { placed: undefined }),
  ]);
  const { events, stranded } = planRecovery(s);
  assert.deepEqual(stranded, []);
  assert.equal(events.length, 2);
  assert.deepEqual(events[0], { type: "InstanceDeleted", instanceId: "auto" });
  const created = events[1];
  assert.ok(created.type === "InstanceCreated");
  assert.equal(created.instanceId, "auto.r1");
  assert.equal(created.replaces, "auto");
  assert.deepEqual(created.placed?.needs, s.instances["auto"].placed?.needs);
  assert.deepEqual(created.placed?.constraints, s.instances["auto"].placed?.constraints);
  assert.ok((created.placed?.predicted?.tokPerSec ?? 0) > 0, "the replacement records its own prediction");
  assert.ok(created.placement.length >= 2, "its constraints (minNodes 2) still hold");
  assert.ok(!created.placement.some((p) => p.nodeId === "b"));
  assert.deepEqual(planRecovery(s), { events, stranded }, "deterministic");
});

test("an instance that no longer fits is stranded with the solver's reason", () => {
  const s = cluster([node("a"), node("b", "left")], [placed("auto", ["a", "b"])]);
  const { events, stranded } = planRecovery(s);
  assert.deepEqual(events, []);
  assert.equal(stranded.length, 1);
  assert.match(stranded[0].detail, /not_enough_devices/);
});
