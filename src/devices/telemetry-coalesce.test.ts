import assert from "node:assert/strict";
import { test } from "node:test";
import { TELEMETRY_REFRESH_MS, telemetryWorthRecording } from "./telemetry-coalesce.js";

const GB = 1e9;
const sample = (at: number, over: Record<string, unknown> = {}) => ({
  at,
  memory: { totalBytes: 16 * GB, availableBytes: 8 * GB },
  cpu: { utilisation: 0.2 },
  power: { source: "mains", batteryPercent: null, charging: null, lowPowerMode: false },
  thermal: { state: "nominal", cpuSpeedLimit: null },
  ...over,
});

test("a sample is recorded first, after a material change, or when the last one is old", () => {
  const base = sample(1000);
  assert.equal(telemetryWorthRecording(undefined, base), true, "first");
  assert.equal(telemetryWorthRecording(base, sample(3000)), false, "nothing changed");
  assert.equal(telemetryWorthRecording(base, sample(3000, { cpu: { utilisation: 0.3 } })), false, "small load change");
  assert.equal(telemetryWorthRecording(base, sample(3000, { cpu: { utilisation: 0.5 } })), true, "load jumped");
  assert.equal(telemetryWorthRecording(base, sample(3000, { memory: { totalBytes: 16 * GB, availableBytes: 8.5 * GB } })), false, "memory within 5 %");
  assert.equal(telemetryWorthRecording(base, sample(3000, { memory: { totalBytes: 16 * GB, availableBytes: 6 * GB } })), true, "memory moved");
  assert.equal(telemetryWorthRecording(base, sample(3000, { thermal: { state: "serious", cpuSpeedLimit: null } })), true, "thermal state");
  assert.equal(telemetryWorthRecording(base, sample(3000, { power: { source: "battery", batteryPercent: 80, charging: false, lowPowerMode: false } })), true, "unplugged");
  assert.equal(telemetryWorthRecording(base, sample(1000 + TELEMETRY_REFRESH_MS)), true, "refresh");
  assert.equal(telemetryWorthRecording({ junk: 1 }, base), true, "a previous value without a time");
});
