import { test } from "node:test";
import assert from "node:assert/strict";
import { exoBaseline, exoMemoryProportionalStages } from "./exo-baseline.js";
import { device, fullMesh, MB } from "./test-support.js";
import type { ModelNeeds } from "./types.js";

const needs: ModelNeeds = {
  name: "toy",
  layers: 12,
  layerBytes: new Array<number>(12).fill(100 * MB),
  layerFlopsPerToken: new Array<number>(12).fill(200 * MB),
  embeddingBytes: 10 * MB,
  outputBytes: 10 * MB,
  outputFlopsPerToken: 20 * MB,
  tiedHeadBytes: 0,
  sharedBytes: 0,
  kvBytesPerTokenPerLayer: 0,
  hiddenBytesPerToken: 1024,
  contextLength: 1,
  sequences: 1,
};

test("exo's rule: layers in proportion to memory, largest memory first", () => {
  const devices = [device("small", 2, 500), device("big", 4, 10), device("mid", 2, 10)];
  // big holds half; the 2 GB devices tie and sort by id descending (exo sorts (memory, id) in reverse).
  assert.deepEqual(exoMemoryProportionalStages(needs, devices), [
    { nodeId: "big", start: 0, end: 6 },
    { nodeId: "small", start: 6, end: 9 },
    { nodeId: "mid", start: 9, end: 12 },
  ]);
  const plan = exoBaseline(needs, devices, fullMesh(devices, 1, 100 * MB));
  assert.equal(plan.fits, true);
  assert.ok(plan.predicted && plan.predicted.breakdown.hops.length === 3);
  // Unlinked devices: no prediction, and a stage too big for its device: does not fit.
  assert.equal(exoBaseline(needs, devices, []).predicted, undefined);
  assert.equal(exoBaseline(needs, [device("a", 0.5, 1), device("b", 0.1, 1)], []).fits, false);
});
