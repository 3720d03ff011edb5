// The cluster at a glance, from states built by the reducer out of ordinary events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyAll, initialState, type Event, type LooseRecord } from "../cluster/index.js";
import { gpuRecord, telemetryRecord, type GpuTelemetry, type TelemetrySample } from "../devices/telemetry.js";
import { aggregateCluster, throttleReasons } from "./telemetry-aggregate.js";

const GiB = 1024 ** 3;
const NOW = 1_800_000_000_000;

function sample(over: { at?: number; total?: number; available?: number; cpu?: number | null; temp?: number | null; source?: "battery" | "mains" | null; battery?: number | null; thermal?: TelemetrySample["thermal"]["state"]; limit?: number | null; lowPower?: boolean | null }): LooseRecord {
  return telemetryRecord({
    at: over.at ?? NOW - 1000,
    memory: { totalBytes: over.total ?? 16 * GiB, availableBytes: over.available ?? 8 * GiB },
    cpu: { utilisation: over.cpu === undefined ? 0.5 : over.cpu, load1: null, logicalCores: 8 },
    power: { source: over.source ?? null, batteryPercent: over.battery ?? null, charging: null, lowPowerMode: over.lowPower ?? null, cpuPowerW: null },
    thermal: { state: over.thermal ?? null, temperatureC: over.temp ?? null, cpuSpeedLimit: over.limit ?? null, cpuFrequencyFraction: null },
    gpus: [],
  });
}

const gpu = (index: number, util: number | null, temp: number | null, total: number, free: number): LooseRecord =>
  gpuRecord({ index, vendor: "nvidia", name: "g", utilisation: util, temperatureC: temp, memoryTotalBytes: total, memoryFreeBytes: free, powerDrawW: null, powerLimitW: null } satisfies GpuTelemetry);

function state(events: Event[]) {
  return applyAll(initialState(), events.map((event, index) => ({ index, term: 1, event, origin: "m" })));
}

const join = (nodeId: string): Event => ({ type: "NodeJoined", nodeId, name: nodeId, addresses: [], at: 1 });
const tele = (nodeId: string, telemetry: LooseRecord): Event => ({ type: "NodeTelemetryUpdated", nodeId, telemetry });

test("totals, means, maxima, the hottest device, battery and throttling across alive nodes", () => {
  const s = state([
    join("laptop"), join("desktop"), join("pi"), join("gone"), join("silent"),
    tele("laptop", sample({ total: 16 * GiB, available: 4 * GiB, cpu: 0.9, temp: 88, source: "battery", battery: 41, thermal: "serious" })),
    tele("desktop", sample({ total: 64 * GiB, available: 60 * GiB, cpu: 0.1, temp: 50, source: "mains", limit: 0.6 })),
    { type: "DeviceGPUStateUpdated", nodeId: "desktop", gpus: [gpu(0, 0.5, 91, 24 * GiB, 20 * GiB), gpu(1, null, 40, 8 * GiB, 8 * GiB)] },
    tele("pi", sample({ total: 8 * GiB, available: 6 * GiB, cpu: null, temp: null, lowPower: true, at: NOW - 60_000 })),
    tele("gone", sample({ total: 1024 * GiB, cpu: 1, temp: 150 })),
    { type: "NodeTimedOut", nodeId: "gone", at: 2 },
  ]);
  const c = aggregateCluster(s, NOW, 10_000);
  assert.deepEqual(c.nodes, { alive: 4, reporting: 3, stale: ["pi"] });
  assert.deepEqual(c.memory, { totalBytes: 88 * GiB, availableBytes: 70 * GiB, usedBytes: 18 * GiB });
  assert.equal(c.cpu.meanUtilisation, 0.5);
  assert.equal(c.cpu.maxUtilisation, 0.9);
  assert.equal(c.cpu.busiestNode, "laptop");
  assert.deepEqual(c.gpus, { count: 2, memoryTotalBytes: 32 * GiB, memoryFreeBytes: 28 * GiB, meanUtilisation: 0.5, maxUtilisation: 0.5 });
  assert.deepEqual(c.hottest, { nodeId: "desktop", device: "gpu:nvidia0", temperatureC: 91 });
  assert.deepEqual(c.onBattery, [{ nodeId: "laptop", batteryPercent: 41 }]);
  assert.deepEqual(c.throttling, [
    { nodeId: "desktop", reasons: ["CPU held to 60% of its top speed"] },
    { nodeId: "laptop", reasons: ["thermal state serious"] },
    { nodeId: "pi", reasons: ["low power mode"] },
  ]);
});

test("an empty or silent cluster aggregates to zeros and unknowns", () => {
  const c = aggregateCluster(state([join("a")]), NOW, 10_000);
  assert.deepEqual(c, {
    nodes: { alive: 1, reporting: 0, stale: [] },
    memory: { totalBytes: 0, availableBytes: 0, usedBytes: 0 },
    cpu: { meanUtilisation: null, maxUtilisation: null, busiestNode: null },
    gpus: { count: 0, memoryTotalBytes: 0, memoryFreeBytes: 0, meanUtilisation: null, maxUtilisation: null },
    hottest: null,
    onBattery: [],
    throttling: [],
  });
});

test("throttling reasons: thermal state, a CPU speed cap, low power mode", () => {
  const read = (r: LooseRecord) => throttleReasons({ ...(JSON.parse(JSON.stringify(r)) as Omit<TelemetrySample, "gpus">) });
  assert.deepEqual(read(sample({ thermal: "nominal", limit: 1 })), []);
  assert.deepEqual(read(sample({ thermal: "fair", limit: 0.9 })), [], "0.9 of top speed is not yet held back");
  assert.deepEqual(read(sample({ thermal: "critical", limit: 0.28, lowPower: true })), ["thermal state critical", "CPU held to 28% of its top speed", "low power mode"]);
});
