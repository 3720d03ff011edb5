import { test } from "node:test";
import assert from "node:assert/strict";
import { seedDeviceScore } from "./score.js";
import { device } from "./test-support.js";

test("seed score: 60% memory share, 40% idleness, minus a thermal penalty", () => {
  assert.equal(seedDeviceScore(device("a", 16, 100)), 1);
  assert.ok(Math.abs(seedDeviceScore(device("a", 8, 100), 16e9) - (0.6 * 0.5 + 0.4)) < 1e-12);
  assert.ok(Math.abs(seedDeviceScore(device("a", 16, 100, { utilisation: 0.25 }), 16e9) - (0.6 + 0.4 * 0.75)) < 1e-12);
  assert.ok(Math.abs(seedDeviceScore(device("a", 16, 100, { thermal: "serious" })) - 0.7) < 1e-12);
  // Cooler beats hotter; idler beats busier; roomier beats smaller.
  assert.ok(seedDeviceScore(device("a", 16, 1, { thermal: "fair" })) < seedDeviceScore(device("b", 16, 1)));
  assert.ok(seedDeviceScore(device("a", 4, 1), 16e9) < seedDeviceScore(device("b", 8, 1), 16e9));
});
