import assert from "node:assert/strict";
import { test } from "node:test";
import { initialState, type ClusterState, type NodeInfo } from "../cluster/index.js";
import { devicesFromState, linksFromState } from "./from-state.js";
import { previews } from "./previews.js";
import { device, fullMesh, GB, smallNeeds } from "./test-support.js";
import { mulberry32 } from "../random/mulberry32.js";

const published = (memoryGB: number, rateGBs: number) => ({
  placement: { memoryBytes: memoryGB * GB, backends: [{ kind: "cpu", weightBytesPerSec: rateGBs * GB }], utilisation: 0, thermal: "nominal" },
});

function node(id: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  return { id, name: `n-${id}`, addresses: [], firstSeen: 0, lastSeen: 0, status: "alive", ...extra };
}

function stateWith(nodes: NodeInfo[], edges: ClusterState["edges"] = {}): ClusterState {
  return { ...initialState(), nodes: Object.fromEntries(nodes.map((n) => [n.id, n])), edges };
}

test("devices come from published profiles, refreshed by the latest telemetry; nodes without one are listed as unknown", () => {
  const s = stateWith([
    node("b", { device: published(16, 10) }),
    node("a", {
      device: published(8, 5),
      telemetry: { memory: { availableBytes: 3 * GB }, cpu: { utilisation: 0.5 }, thermal: { state: "serious" }, power: { source: "battery", batteryPercent: 40, lowPowerMode: true } },
    }),
    node("c"),
    node("d", { device: { placement: { memoryBytes: -1 } } }),
    node("e", { device: published(8, 5), status: "timed_out" }),
  ]);
  const { devices, unknown } = devicesFromState(s);
  assert.deepEqual(devices.map((d) => d.id), ["a", "b"], "alive nodes with a valid profile, in id order");
  assert.deepEqual(devices[0], {
    id: "a", name: "n-a", memoryBytes: 3 * GB, backends: [{ kind: "cpu", weightBytesPerSec: 5 * GB }], utilisation: 0.5, thermal: "serious",
    battery: { percent: 40, charging: false, lowPowerMode: true },
  });
  assert.equal(devices[1].memoryBytes, 16 * GB, "no telemetry: the profile's figures stand");
  assert.deepEqual(unknown.map((u) => u.nodeId), ["c", "d"]);
});

test("a model's weight type picks the rate measured for it, capped by memory reads", () => {
  const device = { ...published(8, 3), benchmark: { q8_0GBs: 5, q4_KGBs: 3, memoryReadGBs: 4.5 } };
  const s = stateWith([node("a", { device })]);
  const rate = (t?: string) => devicesFromState(s, t).devices[0].backends[0].weightBytesPerSec;
  assert.equal(rate("Q8_0"), 4.5 * GB, "Q8_0 measured 5 GB/s, but reads cap it");
  assert.equal(rate("Q4_K"), 3 * GB);
  assert.equal(rate("F16"), 3 * GB, "unmeasured types keep the published rate");
  assert.equal(rate(undefined), 3 * GB);
});

test("a discrete GPU's memory is not replaced by the system's free memory; --max-memory still caps it", () => {
  const gpuNode = (limitGB?: number) => ({
    placement: {
      memoryBytes: 24 * GB, gpuMemoryBytes: 24 * GB, ...(limitGB !== undefined ? { memoryLimitBytes: limitGB * GB } : {}),
      backends: [{ kind: "webgpu", weightBytesPerSec: 300 * GB }], utilisation: 0, thermal: "nominal",
    },
  });
  const telemetry = { memory: { availableBytes: 6 * GB } };
  const s = stateWith([node("a", { device: gpuNode(), telemetry }), node("b", { device: gpuNode(10), telemetry })]);
  const [a, b] = devicesFromState(s).devices;
  assert.equal(a.memoryBytes, 24 * GB);
  assert.equal(b.memoryBytes, 10 * GB);
});

test("the node's own Tessera work does not derate it", () => {
  const s = stateWith([node("a", { device: published(8, 5), telemetry: { cpu: { utilisation: 0.7, ownUtilisation: 0.5 } } })]);
  assert.ok(Math.abs(devicesFromState(s).devices[0].utilisation - 0.2) < 1e-12);
});

test("telemetry of the wrong shape is ignored field by field", () => {
  const s = stateWith([node("a", { device: published(8, 5), telemetry: { memory: "lots", cpu: { utilisation: "high" }, thermal: { state: "melting" } } })]);
  const [d] = devicesFromState(s).devices;
  assert.equal(d.memoryBytes, 8 * GB);
  assert.equal(d.utilisation, 0);
  assert.equal(d.thermal, "nominal");
});

test("links are the edges with both figures", () => {
  const s = stateWith([node("a"), node("b")], {
    "a->b": { from: "a", to: "b", latencyMs: 2, throughputBps: 1e8 },
    "b->a": { from: "b", to: "a", latencyMs: 2 },
  });
  assert.deepEqual(linksFromState(s), [{ from: "a", to: "b", latencyMs: 1, throughputBytesPerSec: 1e8 }], "one way: half the round trip");
});

test("previews: the solver's choice first, then the best plan for each other node count, none repeated", () => {
  const rand = mulberry32(3);
  const needs = smallNeeds(rand, 12);
  const devices = [device("big", 64, 20), device("mid", 8, 8), device("small", 2, 4)];
  const links = fullMesh(devices, 1, 1e9);
  const p = previews(needs, devices, links, {}, 3);
  assert.ok(p.best.ok);
  assert.equal(p.best.stages.length, 1, "it fits on the fastest device alone");
  assert.ok(p.alternatives.length >= 1 && p.alternatives.length <= 2);
  for (const alt of p.alternatives) {
    assert.ok(alt.stages.length > 1);
    assert.ok(alt.predicted.tokPerSec <= p.best.predicted.tokPerSec);
  }
  const counts = p.alternatives.map((a) => a.stages.length);
  assert.equal(new Set(counts).size, counts.length);
  assert.deepEqual(previews(needs, devices, links, {}, 3), p, "deterministic");
});
