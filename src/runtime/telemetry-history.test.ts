// The telemetry history: ordered by sample time, bounded by age and count, replay-proof.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Event, IndexedEvent } from "../cluster/index.js";
import { TelemetryHistory } from "./telemetry-history.js";

let index = 0;
const log = (...events: Event[]): IndexedEvent[] => events.map((event) => ({ index: index++, term: 1, event, origin: "m" }));
const sample = (nodeId: string, at: number, cpu = 0.5): Event => ({ type: "NodeTelemetryUpdated", nodeId, telemetry: { at, cpu } });

test("samples are kept per node in time order; a window returns the recent ones", () => {
  const h = new TelemetryHistory();
  const now = 1_000_000;
  h.observe(log(sample("a", now - 5000), sample("b", now - 4000), sample("a", now - 3000), sample("a", now - 1000)), now);
  assert.deepEqual(h.window("a", 60, now).map((p) => p.at), [now - 5000, now - 3000, now - 1000]);
  assert.deepEqual(h.window("a", 2, now).map((p) => p.at), [now - 1000]);
  assert.deepEqual(h.window("b", 60, now).map((p) => p.receivedAt), [now]);
  assert.deepEqual(h.window("nobody", 60, now), []);
});

test("a replayed or out-of-order sample adds nothing; a sample without a timestamp is not history", () => {
  const h = new TelemetryHistory();
  const now = 1_000_000;
  const events = log(sample("a", now - 3000), sample("a", now - 2000));
  h.observe(events, now);
  h.observe(events, now + 10); // the whole log again, as after a resync
  h.observe(log(sample("a", now - 2500)), now + 20);
  h.observe(log({ type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { cpu: 1 } }, { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { at: "soon" } }), now + 30);
  assert.deepEqual(h.window("a", 60, now + 30).map((p) => [p.at, p.receivedAt]), [[now - 3000, now], [now - 2000, now]]);
});

test("bounded by age and by count", () => {
  const h = new TelemetryHistory({ maxAgeMs: 10_000, maxPoints: 5 });
  const t0 = 5_000_000;
  for (let i = 0; i < 8; i++) h.observe(log(sample("a", t0 + i * 1000)), t0 + i * 1000);
  assert.deepEqual(h.window("a", 10, t0 + 7000).map((p) => p.at - t0), [3000, 4000, 5000, 6000, 7000], "the 5 newest");
  // A catch-up from an old log: samples older than the age limit never enter.
  h.observe(log(sample("b", t0 - 60_000)), t0 + 7000);
  assert.equal(h.has("b"), false);
  // Time passes without samples: old ones age out when asked for.
  assert.deepEqual(h.window("a", 10, t0 + 15_500).map((p) => p.at - t0), [6000, 7000]);
  assert.deepEqual(h.sizes(), new Map([["a", 2]]));
});

test("GPU state is attached to the samples that follow it; a node that leaves or is unknown has no history", () => {
  const h = new TelemetryHistory();
  const now = 2_000_000;
  const gpus = [{ index: 0, utilisation: 0.9 }];
  h.observe(log(sample("a", now - 2000), { type: "DeviceGPUStateUpdated", nodeId: "a", gpus }, sample("a", now - 1000)), now);
  assert.deepEqual(h.window("a", 60, now).map((p) => p.gpus), [undefined, gpus]);
  h.observe(log(sample("b", now - 500)), now);
  h.observe(log({ type: "NodeLeft", nodeId: "a", at: now }), now);
  assert.equal(h.has("a"), false);
  h.observe(log(sample("ghost", now - 500)), now);
  h.retain((id) => id === "b");
  assert.deepEqual([...h.sizes().keys()], ["b"]);
});
