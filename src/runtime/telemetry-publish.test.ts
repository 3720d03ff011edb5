// What the publisher proposes: sample events and the profile record, checked against the schemas.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventSchema } from "../cluster/index.js";
import { collectProfile } from "../devices/profile.js";
import type { CachedBenchmark } from "../devices/profile-cache.js";
import type { TelemetrySample } from "../devices/telemetry.js";
import { profileRecord, sampleEvents } from "./telemetry.js";

const SAMPLE: TelemetrySample = {
  at: 1_800_000_000_000,
  memory: { totalBytes: 8e9, availableBytes: 4e9 },
  cpu: { utilisation: 0.3, load1: 0.2, logicalCores: 2 },
  power: { source: null, batteryPercent: null, charging: null, lowPowerMode: null, cpuPowerW: null },
  thermal: { state: null, temperatureC: null, cpuSpeedLimit: null, cpuFrequencyFraction: null },
  gpus: [],
};
const GPU = { index: 0, vendor: "amd" as const, name: "RX 7900 XTX", utilisation: 0.1, memoryTotalBytes: 24e9, memoryFreeBytes: 20e9, temperatureC: 50, powerDrawW: 80, powerLimitW: 300 };

test("a sample is telemetry, plus GPU state while there are GPUs and once more when they are gone", () => {
  assert.deepEqual(sampleEvents("n", SAMPLE, false).map((e) => e.type), ["NodeTelemetryUpdated"]);
  const withGpu = sampleEvents("n", { ...SAMPLE, gpus: [GPU] }, false);
  assert.deepEqual(withGpu.map((e) => e.type), ["DeviceGPUStateUpdated", "NodeTelemetryUpdated"]);
  const gone = sampleEvents("n", SAMPLE, true);
  assert.deepEqual(gone[0], { type: "DeviceGPUStateUpdated", nodeId: "n", gpus: [] });
  for (const e of [...withGpu, ...gone]) assert.ok(EventSchema.safeParse(e).success, e.type);
  const many = sampleEvents("n", { ...SAMPLE, gpus: Array.from({ length: 70 }, (_, index) => ({ ...GPU, index })) }, false);
  assert.ok(EventSchema.safeParse(many[0]).success, "more GPUs than a list may hold are cut to the limit");
});

test("this machine's profile with a benchmark is a valid NodeProfileUpdated, with the solver's view", async () => {
  const profile = await collectProfile();
  const cpu: CachedBenchmark = {
    benchmark: { backend: "cpu-wasm", backendVersion: "v", threads: 1, workingSetBytes: 1 << 26, lastLevelCacheBytes: null, memoryReadGBs: 9, q8_0GBs: 5, q4_KGBs: 2.5, measuredAt: "2026-01-01T00:00:00Z" },
    fromCache: true,
    cachePath: "/tmp/x",
  };
  const r = profileRecord("node-1", "studio", profile, cpu)!;
  assert.ok(EventSchema.safeParse({ type: "NodeProfileUpdated", nodeId: "node-1", profile: r }).success);
  assert.equal(r["collectedAt"], profile.collectedAt);
  assert.deepEqual(r["benchmark"], { ...cpu.benchmark, fromCache: true });
  const placement = r["placement"] as { id: string; backends: { weightBytesPerSec: number }[] };
  assert.equal(placement.id, "node-1");
  assert.equal(placement.backends[0].weightBytesPerSec, 2.5e9);
  const without = profileRecord("node-1", "studio", profile, null, "kernels.wasm missing")!;
  assert.equal(without["benchmark"], null);
  assert.ok((without["notes"] as string[]).includes("benchmark: kernels.wasm missing"));
});
