// `tessera list`'s telemetry column, from records as the publisher writes them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { telemetryRecord } from "../devices/telemetry.js";
import { telemetrySummary } from "./list.js";

test("the telemetry column says what is known and leaves out what is not", () => {
  const GiB = 1024 ** 3;
  const base = {
    at: 1,
    memory: { totalBytes: 16 * GiB, availableBytes: 4.1 * GiB },
    cpu: { utilisation: 0.254, load1: null, logicalCores: 8 },
    power: { source: "battery" as const, batteryPercent: 41, charging: false, lowPowerMode: null, cpuPowerW: null },
    thermal: { state: "serious" as const, temperatureC: 88.6, cpuSpeedLimit: null, cpuFrequencyFraction: null },
    gpus: [],
  };
  assert.equal(telemetrySummary(telemetryRecord(base)), "4.1/16.0 GiB free, CPU 25%, 89°C, thermal serious, battery 41%");
  const quiet = { ...base, cpu: { ...base.cpu, utilisation: null }, power: { ...base.power, source: null }, thermal: { ...base.thermal, state: "nominal" as const, temperatureC: null } };
  assert.equal(telemetrySummary(telemetryRecord(quiet)), "4.1/16.0 GiB free");
  assert.equal(telemetrySummary(undefined), "-");
  assert.equal(telemetrySummary({ cpu: 1 }), "-");
});
