import { test } from "node:test";
import assert from "node:assert/strict";
import { CommandSchema, parseCommand } from "./commands.js";
import { InvalidMessage } from "./errors.js";
import { EventSchema, IndexedEventSchema, parseEvent, parseIndexedEvent, type Event } from "./events.js";
import { randomEvent, seeded } from "./test-support.js";

const GOOD: Event[] = [
  { type: "NodeJoined", nodeId: "12D3KooWAbc", name: "studio", addresses: ["/ip4/10.0.0.2/tcp/4001"], at: 1_700_000_000_000 },
  { type: "NodeJoined", nodeId: "a", name: "", addresses: [], at: 0 },
  { type: "NodeTimedOut", nodeId: "a", at: 5 },
  { type: "NodeLeft", nodeId: "a", at: 5 },
  { type: "NodeSeen", nodeId: "a", at: 5 },
  { type: "TopologyEdgeCreated", from: "a", to: "b" },
  { type: "TopologyEdgeCreated", from: "a", to: "b", latencyMs: 0.4, throughputBps: 1.25e9 },
  { type: "TopologyEdgeDeleted", from: "a", to: "b" },
  { type: "MasterElected", nodeId: "a", term: 0 },
  { type: "DeviceGPUStateUpdated", nodeId: "a", gpus: [] },
  { type: "DeviceGPUStateUpdated", nodeId: "a", gpus: [{ name: "RTX 5070", vramBytes: 12e9, busy: false, tags: ["x", null] }] },
  { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { cpu: 0.5, mem: { used: 1, total: 2 }, temps: [40, 41] } },
  { type: "GPUBandwidthMeasured", from: "a", to: "b", latencyMs: 1, throughputBps: 1e9, at: 3 },
  { type: "NodeModelsUpdated", nodeId: "a", models: [{ name: "owner/repo:m.gguf", sizeBytes: 10, sha256: "0".repeat(64), tensorManifest: "1".repeat(64), partialBytes: 4 }] },
  { type: "NodeDownloadProgress", nodeId: "a", model: "owner/repo:m.gguf", source: "hub", bytesDone: 1, bytesTotal: 10, status: "failed", error: "disk full", at: 4 },
  { type: "NodeProfileUpdated", nodeId: "a", profile: { identity: { os: "linux", hostname: "h" }, gpus: [{ name: "RTX 5070" }], benchmark: { q8_0GBs: 5 } } },
  { type: "InstanceCreated", instanceId: "i-1", model: "stories260K", placement: [{ nodeId: "a", start: 0, end: 5 }] },
  { type: "InstanceDeleted", instanceId: "i-1" },
  { type: "RunnerStatusUpdated", instanceId: "i-1", nodeId: "a", status: "ready" },
];

test("every event type has a valid example that parses to itself", () => {
  const types = new Set(GOOD.map((e) => e.type));
  assert.equal(types.size, EventSchema.options.length);
  for (const e of GOOD) assert.deepEqual(parseEvent(e), e);
});

test("the random event generator only produces valid events", () => {
  const rand = seeded(7);
  for (let i = 0; i < 500; i++) {
    const e = randomEvent(rand, 5);
    assert.ok(EventSchema.safeParse(e).success, JSON.stringify(e));
  }
});

const deep = (levels: number): unknown => (levels === 0 ? 1 : { k: deep(levels - 1) });
const wide = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
const joined = { type: "NodeJoined", nodeId: "a", name: "n", addresses: [], at: 1 };

const BAD: [string, unknown][] = [
  ["null", null],
  ["a string", "NodeJoined"],
  ["an array", [joined]],
  ["no type", { nodeId: "a", at: 1 }],
  ["unknown type", { type: "NodeExploded", nodeId: "a", at: 1 }],
  ["type in lower case", { ...joined, type: "nodejoined" }],
  ["extra field", { ...joined, admin: true }],
  ["missing field", { type: "NodeJoined", nodeId: "a", name: "n", at: 1 }],
  ["empty id", { ...joined, nodeId: "" }],
  ["id of 129 chars", { ...joined, nodeId: "x".repeat(129) }],
  ["id with a space", { ...joined, nodeId: "a b" }],
  ["id with '>'", { ...joined, nodeId: "a->b" }],
  ["id with '#'", { ...joined, nodeId: "a#b" }],
  ["id as a number", { ...joined, nodeId: 7 }],
  ["name of 257 chars", { ...joined, name: "n".repeat(257) }],
  ["name with a control char", { ...joined, name: "a\u0000b" }],
  ["65 addresses", { ...joined, addresses: Array(65).fill("/ip4/1.2.3.4") }],
  ["an empty address", { ...joined, addresses: [""] }],
  ["negative time", { ...joined, at: -1 }],
  ["fractional time", { ...joined, at: 1.5 }],
  ["NaN time", { ...joined, at: NaN }],
  ["infinite time", { ...joined, at: Infinity }],
  ["time beyond Date", { ...joined, at: 8.64e15 + 1 }],
  ["time as a string", { ...joined, at: "1" }],
  ["self edge", { type: "TopologyEdgeCreated", from: "a", to: "a" }],
  ["self edge deletion", { type: "TopologyEdgeDeleted", from: "a", to: "a" }],
  ["negative latency", { type: "TopologyEdgeCreated", from: "a", to: "b", latencyMs: -1 }],
  ["huge latency", { type: "TopologyEdgeCreated", from: "a", to: "b", latencyMs: 3_600_001 }],
  ["infinite throughput", { type: "GPUBandwidthMeasured", from: "a", to: "b", latencyMs: 1, throughputBps: Infinity, at: 1 }],
  ["negative term", { type: "MasterElected", nodeId: "a", term: -1 }],
  ["fractional term", { type: "MasterElected", nodeId: "a", term: 1.5 }],
  ["unsafe term", { type: "MasterElected", nodeId: "a", term: 2 ** 53 }],
  ["gpus not an array", { type: "DeviceGPUStateUpdated", nodeId: "a", gpus: {} }],
  ["65 gpus", { type: "DeviceGPUStateUpdated", nodeId: "a", gpus: Array(65).fill({}) }],
  ["gpu as a number", { type: "DeviceGPUStateUpdated", nodeId: "a", gpus: [1] }],
  ["gpu string of 257 chars", { type: "DeviceGPUStateUpdated", nodeId: "a", gpus: [{ name: "g".repeat(257) }] }],
  ["gpu NaN", { type: "DeviceGPUStateUpdated", nodeId: "a", gpus: [{ mem: NaN }] }],
  ["telemetry array of 65", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { t: Array(65).fill(1) } }],
  ["telemetry with 65 keys", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: wide(65) }],
  ["telemetry nested too deep", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: deep(5) }],
  ["telemetry over the value budget", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { a: Array(64).fill(Array(64).fill(1)) } }],
  ["telemetry key constructor", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { constructor: 1 } }],
  ["telemetry key prototype", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { prototype: 1 } }],
  ["telemetry key of 129 chars", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { ["k".repeat(129)]: 1 } }],
  ["telemetry an array", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: [1] }],
  ["telemetry with a function", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { f: () => 1 } }],
  ["telemetry with undefined", { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { u: undefined } }],
  ["empty placement", { type: "InstanceCreated", instanceId: "i", model: "m", placement: [] }],
  ["slice start = end", { type: "InstanceCreated", instanceId: "i", model: "m", placement: [{ nodeId: "a", start: 3, end: 3 }] }],
  ["slice with extra field", { type: "InstanceCreated", instanceId: "i", model: "m", placement: [{ nodeId: "a", start: 0, end: 1, x: 1 }] }],
  ["empty model", { type: "InstanceCreated", instanceId: "i", model: "", placement: [{ nodeId: "a", start: 0, end: 1 }] }],
  ["unknown runner status", { type: "RunnerStatusUpdated", instanceId: "i", nodeId: "a", status: "sleepy" }],
  ["placement not starting at 0", { type: "InstanceCreated", instanceId: "i", model: "m", placement: [{ nodeId: "a", start: 1, end: 4 }] }],
  ["placement with a gap", { type: "InstanceCreated", instanceId: "i", model: "m", placement: [{ nodeId: "a", start: 0, end: 2 }, { nodeId: "b", start: 3, end: 4 }] }],
  ["placement with an overlap", { type: "InstanceCreated", instanceId: "i", model: "m", placement: [{ nodeId: "a", start: 0, end: 3 }, { nodeId: "b", start: 2, end: 4 }] }],
  ["placement of non-objects", { type: "InstanceCreated", instanceId: "i", model: "m", placement: [null, 5] }],
  ["placement with a half-formed slice", { type: "InstanceCreated", instanceId: "i", model: "m", placement: [{ nodeId: "a", start: 0, end: 2 }, { nodeId: "b" }] }],
  ["a node holding two slices", { type: "InstanceCreated", instanceId: "i", model: "m", placement: [{ nodeId: "a", start: 0, end: 2 }, { nodeId: "a", start: 2, end: 4 }] }],
  ["profile without a node", { type: "NodeProfileUpdated", profile: {} }],
  ["profile an array", { type: "NodeProfileUpdated", nodeId: "a", profile: [1] }],
  ["profile nested too deep", { type: "NodeProfileUpdated", nodeId: "a", profile: deep(5) }],
  ["profile with 65 keys", { type: "NodeProfileUpdated", nodeId: "a", profile: wide(65) }],
  ["profile string of 257 chars", { type: "NodeProfileUpdated", nodeId: "a", profile: { model: "m".repeat(257) } }],
  ["profile with an extra field", { type: "NodeProfileUpdated", nodeId: "a", profile: {}, extra: 1 }],
  ["runner error with a control character", { type: "RunnerStatusUpdated", instanceId: "i", nodeId: "a", status: "failed", error: "bad\u0007" }],
];

test("malformed, oversized and unknown events are rejected", () => {
  for (const [why, value] of BAD) {
    assert.equal(EventSchema.safeParse(value).success, false, why);
    assert.throws(() => parseEvent(value), InvalidMessage, why);
  }
});

test("a __proto__ key in telemetry is dropped and never reaches a prototype", () => {
  const wire = JSON.parse('{"type":"NodeTelemetryUpdated","nodeId":"a","telemetry":{"__proto__":{"x":1},"y":2}}');
  const e = parseEvent(wire);
  assert.ok(e.type === "NodeTelemetryUpdated");
  assert.deepEqual(Object.keys(e.telemetry), ["y"]);
  assert.equal(Object.getPrototypeOf(e.telemetry), Object.prototype);
  assert.equal((e.telemetry as Record<string, unknown>)["x"], undefined);
});

test("telemetry at the limits is accepted", () => {
  const atLimit = { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: { ...wide(62), deep: deep(3), s: "s".repeat(256) } };
  assert.equal(EventSchema.safeParse(atLimit).success, true);
});

test("indexed events: valid, and malformed wrappers rejected", () => {
  const good = { index: 0, term: 0, event: GOOD[0], origin: "a" };
  assert.deepEqual(parseIndexedEvent(good), good);
  const bad: unknown[] = [
    { ...good, index: -1 },
    { ...good, index: 0.5 },
    { ...good, term: -1 },
    { ...good, origin: "" },
    { ...good, event: { type: "Nope" } },
    { ...good, extra: 1 },
    { index: 0, term: 0, origin: "a" },
  ];
  for (const b of bad) assert.equal(IndexedEventSchema.safeParse(b).success, false, JSON.stringify(b));
  assert.throws(() => parseIndexedEvent(bad[0]), (e: unknown) => e instanceof InvalidMessage && e.name === "InvalidMessage");
});

const NEEDS = {
  name: "m", layers: 2, layerBytes: [100, 100], layerFlopsPerToken: [400, 400], embeddingBytes: 50, outputBytes: 50, outputFlopsPerToken: 100,
  tiedHeadBytes: 0, sharedBytes: 0, kvBytesPerTokenPerLayer: 16, hiddenBytesPerToken: 256, contextLength: 512, sequences: 1,
};

test("commands: valid ones parse, bad ones are rejected", () => {
  const good = [
    { type: "PlaceInstance", instanceId: "i-3", model: "stories260K", needs: NEEDS },
    { type: "PlaceInstance", instanceId: "i-3", model: "stories260K", needs: NEEDS, constraints: { minNodes: 2, excluded: ["a"], minBatteryPercent: 30 } },
    { type: "DeleteInstance", instanceId: "i-1" },
    { type: "CreateInstance", instanceId: "i-2", model: "m.gguf", placement: [{ nodeId: "a", start: 0, end: 3 }, { nodeId: "b", start: 3, end: 8 }] },
    { type: "RequestEventLog", since: 0, requester: "a" },
    { type: "RequestEventLog", since: 10, until: 20, requester: "a" },
  ];
  for (const c of good) assert.deepEqual(parseCommand(c), c);
  const bad = [
    { type: "Reboot" },
    { type: "PlaceInstance" },
    { type: "PlaceInstance", instanceId: "i", model: "m", needs: NEEDS, constraints: { minNodes: 0 } },
    { type: "PlaceInstance", instanceId: "i", model: "m", needs: { ...NEEDS, layers: 3 } },
    { type: "PlaceInstance", instanceId: "i", model: "m", needs: { ...NEEDS, layerBytes: [1, -2] } },
    { type: "DeleteInstance", instanceId: "" },
    { type: "CreateInstance", instanceId: "i", model: "m", placement: [{ nodeId: "a", start: 0, end: 2 }, { nodeId: "b", start: 1, end: 4 }] },
    { type: "CreateInstance", model: "m", placement: [{ nodeId: "a", start: 0, end: 2 }] },
    { type: "RequestEventLog", since: -1, requester: "a" },
    { type: "RequestEventLog", since: 5, until: 5, requester: "a" },
    { type: "RequestEventLog", since: 0, requester: "a", extra: 1 },
    { type: "RequestEventLog", since: 0 },
  ];
  for (const c of bad) {
    assert.equal(CommandSchema.safeParse(c).success, false, JSON.stringify(c));
    assert.throws(() => parseCommand(c), InvalidMessage);
  }
});
