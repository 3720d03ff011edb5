import assert from "node:assert/strict";
import { test } from "node:test";
import { initialState, type ClusterState, type Instance, type NodeInfo } from "../cluster/index.js";
import { decidePlacement, placedRecord } from "./place-instance.js";
import { planRebalance, REBALANCE_GAIN, REBALANCE_SLOWDOWN } from "./rebalance.js";
import { GB } from "./test-support.js";

// 8 layers of 200 MB: 1.6 GB of weights, too big for any one 1.2 GB device, so every placement has stages.
const NEEDS = {
  name: "m", layers: 8, layerBytes: Array(8).fill(2e8), layerFlopsPerToken: Array(8).fill(4e8), embeddingBytes: 1e7, outputBytes: 1e7,
  outputFlopsPerToken: 1e8, tiedHeadBytes: 0, sharedBytes: 0, kvBytesPerTokenPerLayer: 1024, hiddenBytesPerToken: 8192, contextLength: 512, sequences: 1,
};

const node = (id: string, utilisation = 0, thermal = "nominal"): NodeInfo => ({
  id, name: id, addresses: [], firstSeen: 0, lastSeen: 0, status: "alive",
  device: { placement: { memoryBytes: 1.2 * GB, backends: [{ kind: "cpu", weightBytesPerSec: 4 * GB }], utilisation: 0, thermal: "nominal" } },
  telemetry: { cpu: { utilisation }, thermal: { state: thermal } },
});

function cluster(nodes: NodeInfo[], instances: Instance[] = []): ClusterState {
  const edges: Record<string, ClusterState["edges"][string]> = {};
  for (const a of nodes) for (const b of nodes) if (a !== b) edges[`${a.id}->${b.id}`] = { from: a.id, to: b.id, latencyMs: 1, throughputBps: 1e8 };
  return { ...initialState(), edges, nodes: Object.fromEntries(nodes.map((n) => [n.id, n])), instances: Object.fromEntries(instances.map((i) => [i.instanceId, i])) };
}

/** The instance the master would have created on this cluster. */
function placedOn(s: ClusterState, id: string): Instance {
  const cmd = { type: "PlaceInstance" as const, instanceId: id, model: "m.gguf", needs: NEEDS, constraints: { maxNodes: 2 } };
  const d = decidePlacement(s, cmd);
  assert.ok(d.ok);
  return { instanceId: id, model: "m.gguf", placement: d.slices, placed: placedRecord(cmd, d.placement) };
}

test("an instance moves off a device whose rate dropped when another device can take its layers", () => {
  const calm = cluster([node("a"), node("b"), node("c")]);
  const inst = placedOn(calm, "i");
  const used = inst.placement.map((p) => p.nodeId);
  assert.equal(used.length, 2);
  const spare = ["a", "b", "c"].find((x) => !used.includes(x))!;
  assert.deepEqual(planRebalance({ ...calm, instances: { i: inst } }), [], "nothing moves while the devices are as planned");

  // One used device now has 90 % of its CPU taken by other work: its stage runs about 10× slower.
  const slowed = cluster([node("a", used[0] === "a" ? 0.9 : 0), node("b", used[0] === "b" ? 0.9 : 0), node("c", used[0] === "c" ? 0.9 : 0)], [inst]);
  const plans = planRebalance(slowed);
  assert.equal(plans.length, 1);
  const p = plans[0];
  assert.ok(p.currentSeconds >= REBALANCE_SLOWDOWN * p.plannedSeconds);
  assert.ok(p.betterSeconds * REBALANCE_GAIN <= p.currentSeconds);
  assert.deepEqual(p.events[0], { type: "InstanceDeleted", instanceId: "i" });
  const created = p.events[1];
  assert.ok(created.type === "InstanceCreated");
  assert.equal(created.replaces, "i");
  assert.equal(created.instanceId, "i.r1");
  assert.ok(!created.placement.some((s) => s.nodeId === used[0]), "the slowed device is left out");
  assert.ok(created.placement.some((s) => s.nodeId === spare), "the spare device takes its layers");
  assert.ok(Math.abs((created.placed?.predicted?.secondsPerToken ?? 0) - p.betterSeconds) < 1e-12, "the new instance records the prediction it was moved for");
  assert.deepEqual(planRebalance(slowed), plans, "deterministic");

  // Once moved, the new instance is as planned: it does not move again.
  const after = { ...slowed, instances: { "i.r1": { instanceId: "i.r1", model: "m.gguf", placement: created.placement, placed: created.placed, replaces: "i" } } };
  assert.deepEqual(planRebalance(after), []);
});

test("no move when every device slowed together, when the slowdown is small, or for a hand-placed instance", () => {
  const calm = cluster([node("a"), node("b"), node("c")]);
  const inst = placedOn(calm, "i");
  const allBusy = cluster([node("a", 0.8), node("b", 0.8), node("c", 0.8)], [inst]);
  assert.deepEqual(planRebalance(allBusy), [], "moving would not help: every device is as slow");

  const used = inst.placement[0].nodeId;
  const mild = cluster(["a", "b", "c"].map((x) => node(x, x === used ? 0.3 : 0)), [inst]);
  assert.deepEqual(planRebalance(mild), [], "a 30 % slowdown of one stage is below the threshold");

  const pinned = { ...inst, placed: undefined };
  const slowed = cluster(["a", "b", "c"].map((x) => node(x, x === used ? 0.95 : 0)), [pinned]);
  assert.deepEqual(planRebalance(slowed), [], "a placement given by hand is never moved");
});

test("a device throttled by heat counts as slowed", () => {
  const calm = cluster([node("a"), node("b"), node("c")]);
  const inst = placedOn(calm, "i");
  const used = inst.placement.map((p) => p.nodeId);
  // "serious" runs at 0.6 of the rate: both stages at 0.6 is 1.67× slower, under the 2× threshold.
  const warm = cluster(["a", "b", "c"].map((x) => node(x, 0, used.includes(x) ? "serious" : "nominal")), [inst]);
  assert.deepEqual(planRebalance(warm), []);
  const hot = cluster(["a", "b", "c"].map((x) => node(x, x === used[1] ? 0.7 : 0, x === used[1] ? "serious" : "nominal")), [inst]);
  const plans = planRebalance(hot);
  assert.equal(plans.length, 1);
  const created = plans[0].events[1];
  assert.ok(created.type === "InstanceCreated" && !created.placement.some((s) => s.nodeId === used[1]));
});
