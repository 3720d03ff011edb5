// The page's pure helpers, run in Node on crafted states: which telemetry counts as newest, when a
// device counts as throttled, how temperatures are coloured, how the two probed directions of a link
// become one edge, and how events read in the log. (The browser test covers them on a live cluster,
// where no device is hot or throttled.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { STATIC_ROOT } from "./serve.js";

interface Link { a: string; b: string; latencyMs: number | null; throughputBps: number | null }
interface ClusterView {
  telemetryOf(state: unknown, id: string): { at: number } | null;
  throttleReasons(t: unknown): string[];
  pairedLinks(state: unknown): Link[];
  gpusOf(state: unknown, id: string): unknown[];
}
interface Format {
  tempLevel(c: unknown): string;
  fillLevel(f: unknown): string;
  bytes(n: unknown): string;
  ms(n: unknown): string;
  rate(n: unknown): string;
}
interface EventLogModule { describe(state: unknown, e: unknown): string }

// The browser's modules, loaded as they are served (plain ES modules; the DOM is only used when drawing).
const load = async <T>(name: string): Promise<T> => (await import(pathToFileURL(join(STATIC_ROOT, name)).href)) as T;

test("cluster-view: newest telemetry, throttle reasons, links paired per node pair", async () => {
  const v = await load<ClusterView>("cluster-view.js");
  const state = {
    nodes: { a: { id: "a", name: "A", telemetry: { at: 5 }, gpus: [{ index: 0 }] }, b: { id: "b", name: "B", telemetry: { at: 9 } } },
    live_telemetry: { a: { at: 7 }, b: { at: 8 } },
    edges: {
      "a->b": { from: "a", to: "b", latencyMs: 2, throughputBps: 100 },
      "b->a": { from: "b", to: "a", latencyMs: 4, throughputBps: 50 },
      "a->gone": { from: "a", to: "gone", latencyMs: 1 },
    },
  };
  assert.equal(v.telemetryOf(state, "a")?.at, 7, "the live sample is newer than the logged one");
  assert.equal(v.telemetryOf(state, "b")?.at, 9, "the logged sample is newer than the live one");
  assert.equal(v.telemetryOf(state, "c"), null);
  assert.deepEqual(v.gpusOf(state, "a"), [{ index: 0 }]);
  assert.deepEqual(v.pairedLinks(state), [{ a: "a", b: "b", latencyMs: 3, throughputBps: 50 }]);

  const calm = { thermal: { state: "nominal", cpuSpeedLimit: 1 }, power: { lowPowerMode: false } };
  assert.deepEqual(v.throttleReasons(calm), []);
  assert.deepEqual(v.throttleReasons(null), []);
  assert.deepEqual(v.throttleReasons({ thermal: { state: "serious", cpuSpeedLimit: 0.5 }, power: { lowPowerMode: true } }),
    ["thermal state serious", "CPU held to 50% of its top speed", "low power mode"]);
});

test("format: temperature and fill thresholds, units", async () => {
  const f = await load<Format>("format.js");
  assert.deepEqual([null, 40, 69.9, 70, 84.9, 85, 100].map(f.tempLevel), ["unknown", "ok", "ok", "warn", "warn", "hot", "hot"]);
  assert.deepEqual([0.1, 0.8, 0.95].map(f.fillLevel), ["ok", "warn", "hot"]);
  assert.equal(f.bytes(25_325_268_992), "25.3 GB");
  assert.equal(f.bytes(512), "512 B");
  assert.equal(f.ms(0.664), "0.66 ms");
  assert.equal(f.ms(102.4), "102 ms");
  assert.equal(f.rate(31.84), "31.8 tok/s");
  assert.equal(f.rate(undefined), "—");
});

test("event log: events in words, with node names from the state", async () => {
  const log = await load<EventLogModule>("event-log.js");
  const state = { nodes: { n1: { id: "n1", name: "alpha" }, n2: { id: "n2", name: "beta" } } };
  assert.equal(log.describe(state, { type: "InstanceCreated", instanceId: "i", model: "/m/stories260K.gguf", placement: [{ nodeId: "n1", start: 0, end: 2 }, { nodeId: "n2", start: 2, end: 5 }] }),
    "instance i of stories260K.gguf: alpha [0, 2) → beta [2, 5)");
  assert.equal(log.describe(state, { type: "NodeTimedOut", nodeId: "n2", at: 1 }), "beta timed out");
  assert.equal(log.describe(state, { type: "RunnerStatusUpdated", instanceId: "i", nodeId: "12D3KooWxyzabc", status: "failed", error: "no file" }), "runner i on …xyzabc: failed (no file)");
  assert.equal(log.describe(state, { type: "InstanceDeleted", instanceId: "i" }), "instance i deleted");
});
