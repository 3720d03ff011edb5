import { test } from "node:test";
import assert from "node:assert/strict";
import { deratedRate, LOW_POWER_FACTOR, PlacementInputError, predictDecode, predictPrefill, stageMemoryBytes, THERMAL_FACTOR } from "./cost.js";
import { device, GB, MB } from "./test-support.js";
import type { ModelNeeds } from "./types.js";

const needs: ModelNeeds = {
  name: "toy",
  layers: 4,
  layerBytes: [100 * MB, 100 * MB, 200 * MB, 100 * MB],
  layerFlopsPerToken: [200 * MB, 200 * MB, 400 * MB, 200 * MB],
  embeddingBytes: 50 * MB,
  outputBytes: 60 * MB,
  outputFlopsPerToken: 100 * MB,
  tiedHeadBytes: 0,
  sharedBytes: 0,
  kvBytesPerTokenPerLayer: 1000,
  hiddenBytesPerToken: 8000,
  contextLength: 1000,
  sequences: 2,
};

test("derated rate: best backend × (1 − utilisation) × thermal × low power", () => {
  const d = device("a", 8, 10, { backends: [{ kind: "cpu", weightBytesPerSec: 10 * GB }, { kind: "webgpu", weightBytesPerSec: 40 * GB }] });
  assert.equal(deratedRate(d), 40 * GB);
  assert.equal(deratedRate({ ...d, utilisation: 0.25 }), 30 * GB);
  assert.equal(THERMAL_FACTOR.serious, 0.6);
  assert.equal(THERMAL_FACTOR.fair, 0.85);
  assert.equal(deratedRate({ ...d, thermal: "serious" }), 24 * GB);
  assert.equal(deratedRate({ ...d, thermal: "fair" }), 34 * GB);
  assert.equal(deratedRate({ ...d, battery: { percent: 50, charging: false, lowPowerMode: true } }), 40 * GB * LOW_POWER_FACTOR);
  assert.equal(deratedRate({ ...d, thermal: "critical" }), 0);
});

test("decode prediction: stages stream their layers (+ head on the last), hops carry hidden states and the token back", () => {
  const a = device("a", 8, 10);
  const b = device("b", 8, 20);
  const links = [{ from: "a", to: "b", latencyMs: 2, throughputBytesPerSec: 16 * MB }];
  const p = predictDecode(needs, [{ nodeId: "a", start: 0, end: 2 }, { nodeId: "b", start: 2, end: 4 }], [a, b], links);
  const stageA = (200 * MB) / (10 * GB); // the embedding row read is not streamed
  const stageB = (300 * MB + 60 * MB) / (20 * GB);
  const forward = 0.002 + (8000 * 2) / (16 * MB);
  const back = 0.002 + (4 * 2) / (16 * MB);
  assert.ok(Math.abs(p.secondsPerToken - (stageA + stageB + forward + back)) < 1e-15);
  assert.equal(p.tokPerSec, 1 / p.secondsPerToken);
  assert.deepEqual(p.breakdown.hops.map((h) => [h.from, h.to, h.kind, h.bytes]), [["a", "b", "forward", 16000], ["b", "a", "return", 8]]);
  // Memory: weights + KV (layers × 1000 B × 1000 tokens × 2 sequences) + embedding on the first, head on the last.
  assert.equal(p.breakdown.stages[0]!.memoryBytes, 200 * MB + 2 * 2e6 + 50 * MB);
  assert.equal(p.breakdown.stages[1]!.memoryBytes, 300 * MB + 2 * 2e6 + 60 * MB);
  assert.equal(p.breakdown.stages[0]!.capacityBytes, 7.2 * GB);
  // One device alone: no hops.
  const single = predictDecode(needs, [{ nodeId: "b", start: 0, end: 4 }], [a, b], links);
  assert.equal(single.breakdown.hops.length, 0);
  assert.ok(Math.abs(single.secondsPerToken - (560 * MB) / (20 * GB)) < 1e-15);
});

test("a tied head is held once by a single device, and copied to a separate last stage", () => {
  const tied: ModelNeeds = { ...needs, outputBytes: 50 * MB + 256, tiedHeadBytes: 50 * MB };
  assert.equal(stageMemoryBytes(tied, 0, 4, true, true), 500 * MB + 4 * 2e6 + 50 * MB + 256);
  assert.equal(stageMemoryBytes(tied, 2, 4, false, true), 300 * MB + 2 * 2e6 + 50 * MB + 256);
});

test("bad placements are named errors", () => {
  const a = device("a", 8, 10);
  assert.throws(() => predictDecode(needs, [{ nodeId: "a", start: 0, end: 3 }], [a], []), PlacementInputError);
  assert.throws(() => predictDecode(needs, [{ nodeId: "z", start: 0, end: 4 }], [a], []), PlacementInputError);
  const b = device("b", 8, 10);
  assert.throws(() => predictDecode(needs, [{ nodeId: "a", start: 0, end: 1 }, { nodeId: "b", start: 1, end: 4 }], [a, b], []), /no link/);
});

test("prefill: the larger of compute and per-chunk weight streaming, measured flops when given", () => {
  const a = device("a", 8, 10, { backends: [{ kind: "cpu", weightBytesPerSec: 10 * GB, flopsPerSec: 1e12 }] });
  const p = predictPrefill(needs, [{ nodeId: "a", start: 0, end: 4 }], [a], [], 1024);
  const compute = ((1000 * MB + 100 * MB) * 1024) / 1e12;
  const memory = (560 * MB * 2) / (10 * GB);
  assert.ok(Math.abs(p.seconds - Math.max(compute, memory)) < 1e-12);
  // Without flops: 16 flops per weight byte/s.
  const b = device("b", 8, 10);
  const q = predictPrefill(needs, [{ nodeId: "b", start: 0, end: 4 }], [b], [], 1024);
  assert.ok(Math.abs(q.stages[0]!.computeSeconds - ((1100 * MB) * 1024) / (160 * GB)) < 1e-12);
});
