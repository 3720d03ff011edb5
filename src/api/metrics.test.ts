// GET /metrics' text: parseable Prometheus exposition with a line per node, per GPU and per link, from
// a private registry that leaves prom-client's global one alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "prom-client";
import { applyAll, initialState, type Event } from "../cluster/index.js";
import { gpuRecord, telemetryRecord } from "../devices/telemetry.js";
import { ClusterMetrics } from "./metrics.js";
import { parsePrometheusText as parsePrometheus } from "./prometheus-text.js";

const NOW = 1_800_000_000_000;

const sample = (at: number, available: number, util: number, temp: number | null, source: "battery" | "mains" | null) =>
  telemetryRecord({
    at,
    memory: { totalBytes: 16e9, availableBytes: available },
    cpu: { utilisation: util, load1: 1, logicalCores: 4 },
    power: { source, batteryPercent: source === "battery" ? 55 : null, charging: false, lowPowerMode: false, cpuPowerW: 20 },
    thermal: { state: "nominal", temperatureC: temp, cpuSpeedLimit: 1, cpuFrequencyFraction: 0.5 },
    gpus: [],
  });

const events: Event[] = [
  { type: "NodeJoined", nodeId: "a", name: 'studio "main"', addresses: [], at: 1 },
  { type: "NodeJoined", nodeId: "b", name: "laptop", addresses: [], at: 1 },
  { type: "NodeJoined", nodeId: "c", name: "old", addresses: [], at: 1 },
  { type: "NodeLeft", nodeId: "c", at: 2 },
  { type: "NodeTelemetryUpdated", nodeId: "a", telemetry: sample(NOW - 500, 10e9, 0.25, 60, "mains") },
  { type: "NodeTelemetryUpdated", nodeId: "b", telemetry: sample(NOW - 1500, 4e9, 0.75, 80, "battery") },
  { type: "DeviceGPUStateUpdated", nodeId: "a", gpus: [gpuRecord({ index: 0, vendor: "nvidia", name: "g", utilisation: 0.5, memoryTotalBytes: 8e9, memoryFreeBytes: 2e9, temperatureC: 70, powerDrawW: 150, powerLimitW: 200 })] },
  { type: "TopologyEdgeCreated", from: "a", to: "b", latencyMs: 2, throughputBps: 1e8 },
];
const state = applyAll(initialState(), events.map((event, index) => ({ index, term: 1, event, origin: "a" })));

test("per-node, per-GPU, per-link and cluster lines, all parseable", async () => {
  const m = new ClusterMetrics();
  const text = await m.render(state, NOW, 10_000);
  assert.match(m.contentType, /^text\/plain/);
  const p = parsePrometheus(text);
  const value = (name: string, labels: Record<string, string> = {}) =>
    p.get(name)?.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  assert.equal(value("tessera_node_memory_total_bytes", { node: "a" }), 16e9);
  assert.equal(value("tessera_node_memory_available_bytes", { node: "b" }), 4e9);
  assert.equal(value("tessera_node_memory_used_bytes", { node: "b" }), 12e9);
  assert.equal(value("tessera_node_cpu_utilisation_ratio", { node: "b" }), 0.75);
  assert.equal(value("tessera_node_temperature_celsius", { node: "a" }), 60);
  assert.equal(value("tessera_node_cpu_power_watts", { node: "a" }), 20);
  assert.equal(value("tessera_node_battery_percent", { node: "b" }), 55);
  assert.equal(value("tessera_node_on_battery", { node: "b" }), 1);
  assert.equal(value("tessera_node_on_battery", { node: "a" }), 0);
  assert.equal(value("tessera_node_thermal_state", { node: "a" }), 0);
  assert.equal(value("tessera_node_telemetry_age_seconds", { node: "b" }), 1.5);
  assert.equal(value("tessera_node_info", { node: "a", name: 'studio "main"', status: "alive" }), 1, "label values are escaped and read back");
  assert.equal(value("tessera_node_info", { node: "c", status: "left" }), 1);
  assert.equal(value("tessera_node_memory_total_bytes", { node: "c" }), undefined, "a node that left reports nothing");
  assert.equal(value("tessera_gpu_utilisation_ratio", { node: "a", gpu: "nvidia0" }), 0.5);
  assert.equal(value("tessera_gpu_power_watts", { node: "a", gpu: "nvidia0" }), 150);
  assert.equal(value("tessera_link_latency_seconds", { from: "a", to: "b" }), 0.002);
  assert.equal(value("tessera_link_throughput_bytes_per_second", { from: "a", to: "b" }), 1e8);
  assert.equal(value("tessera_cluster_memory_total_bytes"), 32e9);
  assert.equal(value("tessera_cluster_memory_available_bytes"), 14e9);
  assert.equal(value("tessera_cluster_cpu_utilisation_mean_ratio"), 0.5);
  assert.equal(value("tessera_cluster_cpu_utilisation_max_ratio"), 0.75);
  assert.equal(value("tessera_cluster_hottest_celsius", { node: "b", device: "cpu" }), 80);
  assert.equal(value("tessera_cluster_nodes_on_battery"), 1);
  assert.equal(value("tessera_cluster_nodes", { status: "alive" }), 2);
  assert.equal(value("tessera_cluster_nodes", { status: "left" }), 1);
  assert.equal(value("tessera_cluster_reporting_nodes"), 2);
});

test("the exposition reader refuses what is not a sample line", () => {
  assert.throws(() => parsePrometheus("tessera_x{node=\"a\" 1\n"), /not a sample line/);
  assert.throws(() => parsePrometheus("tessera_x{node=a} 1\n"), /malformed labels/);
  assert.deepEqual(parsePrometheus("# HELP x y\nx 1\n"), new Map([["x", [{ labels: {}, value: 1 }]]]));
});

test("each scrape starts afresh; two registries do not share series; the global registry stays empty", async () => {
  const one = new ClusterMetrics();
  const two = new ClusterMetrics();
  await one.render(state, NOW, 10_000);
  const later = applyAll(state, [{ index: state.lastEventIndex + 1, term: 1, event: { type: "NodeLeft", nodeId: "b", at: 3 }, origin: "a" }]);
  const p = parsePrometheus(await one.render(later, NOW, 10_000));
  assert.equal(p.get("tessera_node_memory_total_bytes")?.length, 1, "b's series are gone after it left");
  assert.equal(p.get("tessera_link_latency_seconds"), undefined, "its link went with it");
  const fresh = parsePrometheus(await two.render(initialState(), NOW, 10_000));
  assert.equal(fresh.get("tessera_node_memory_total_bytes"), undefined);
  assert.equal(register.getMetricsAsArray().filter((x) => x.name.startsWith("tessera_")).length, 0);
});
