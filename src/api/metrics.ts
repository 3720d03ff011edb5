// GET /metrics: the cluster's telemetry in Prometheus text format, from this node's replicated state,
// so any node can be scraped for the whole cluster. Each API server owns a private prom-client
// Registry (never the process-wide default one, which would mix several nodes in one process, as tests
// run them); every scrape resets the gauges and refills them, so a node that left loses its series.
import { Gauge, Registry } from "prom-client";
import type { ClusterState } from "../cluster/state.js";
import { THERMAL_STATES } from "../devices/telemetry.js";
import { aggregateCluster, nodeReadings, throttleReasons } from "../runtime/telemetry-aggregate.js";

type Labels<T extends string> = Partial<Record<T, string | number>>;

export class ClusterMetrics {
  readonly registry = new Registry();
  private readonly gauges: Gauge[] = [];

  private gauge<T extends string>(name: string, help: string, labelNames: readonly T[]): Gauge<T> {
    const g = new Gauge<T>({ name, help, labelNames, registers: [this.registry] });
    this.gauges.push(g as unknown as Gauge);
    return g;
  }

  private readonly nodeInfo = this.gauge("tessera_node_info", "1 for every node in the state; its name and status as labels", ["node", "name", "status"]);
  private readonly memTotal = this.gauge("tessera_node_memory_total_bytes", "Memory of the node", ["node"]);
  private readonly memAvail = this.gauge("tessera_node_memory_available_bytes", "Memory a new process could take without swapping", ["node"]);
  private readonly memUsed = this.gauge("tessera_node_memory_used_bytes", "Memory total less available", ["node"]);
  private readonly cpuUtil = this.gauge("tessera_node_cpu_utilisation_ratio", "Busy fraction of all CPUs between the node's last two samples", ["node"]);
  private readonly temp = this.gauge("tessera_node_temperature_celsius", "Hottest CPU temperature", ["node"]);
  private readonly cpuPower = this.gauge("tessera_node_cpu_power_watts", "CPU package power (RAPL)", ["node"]);
  private readonly battery = this.gauge("tessera_node_battery_percent", "Battery charge", ["node"]);
  private readonly onBattery = this.gauge("tessera_node_on_battery", "1 while the node runs on battery", ["node"]);
  private readonly thermal = this.gauge("tessera_node_thermal_state", "0 nominal, 1 fair, 2 serious, 3 critical", ["node"]);
  private readonly throttled = this.gauge("tessera_node_throttling", "1 while the node is thermally or power limited", ["node"]);
  private readonly age = this.gauge("tessera_node_telemetry_age_seconds", "Time since the node's latest sample was taken", ["node"]);
  private readonly gpuUtil = this.gauge("tessera_gpu_utilisation_ratio", "Busy fraction of a GPU", ["node", "gpu"]);
  private readonly gpuMemTotal = this.gauge("tessera_gpu_memory_total_bytes", "Memory of a GPU", ["node", "gpu"]);
  private readonly gpuMemFree = this.gauge("tessera_gpu_memory_free_bytes", "Free memory of a GPU", ["node", "gpu"]);
  private readonly gpuTemp = this.gauge("tessera_gpu_temperature_celsius", "Temperature of a GPU", ["node", "gpu"]);
  private readonly gpuPower = this.gauge("tessera_gpu_power_watts", "Power draw of a GPU", ["node", "gpu"]);
  private readonly linkLatency = this.gauge("tessera_link_latency_seconds", "Round-trip time of a link, as its sender measured it", ["from", "to"]);
  private readonly linkThroughput = this.gauge("tessera_link_throughput_bytes_per_second", "Throughput of a link in a short timed transfer", ["from", "to"]);
  private readonly clusterNodes = this.gauge("tessera_cluster_nodes", "Nodes in the state by status", ["status"]);
  private readonly clusterReporting = this.gauge("tessera_cluster_reporting_nodes", "Alive nodes with telemetry", []);
  private readonly clusterMemTotal = this.gauge("tessera_cluster_memory_total_bytes", "Memory of the reporting alive nodes", []);
  private readonly clusterMemAvail = this.gauge("tessera_cluster_memory_available_bytes", "Available memory of the reporting alive nodes", []);
  private readonly clusterCpuMean = this.gauge("tessera_cluster_cpu_utilisation_mean_ratio", "Mean CPU utilisation of the reporting alive nodes", []);
  private readonly clusterCpuMax = this.gauge("tessera_cluster_cpu_utilisation_max_ratio", "Highest CPU utilisation of the reporting alive nodes", []);
  private readonly clusterGpus = this.gauge("tessera_cluster_gpus", "GPUs of the reporting alive nodes", []);
  private readonly clusterHottest = this.gauge("tessera_cluster_hottest_celsius", "Hottest device temperature", ["node", "device"]);
  private readonly clusterOnBattery = this.gauge("tessera_cluster_nodes_on_battery", "Alive nodes on battery", []);
  private readonly clusterThrottling = this.gauge("tessera_cluster_nodes_throttling", "Alive nodes thermally or power limited", []);

  private turn: Promise<unknown> = Promise.resolve();

  /** Fills every gauge from `state` and returns the text exposition (scrapes take turns: they share the gauges). */
  render(state: ClusterState, now: number, staleMs: number): Promise<string> {
    const result = this.turn.then(() => this.fill(state, now, staleMs));
    this.turn = result.catch(() => undefined);
    return result;
  }

  private async fill(state: ClusterState, now: number, staleMs: number): Promise<string> {
    for (const g of this.gauges) g.reset();
    const set = <T extends string>(g: Gauge<T>, labels: Labels<T>, v: number | null) => {
      if (v !== null && Number.isFinite(v)) g.set(labels, v);
    };
    const statuses: Record<string, number> = { alive: 0, timed_out: 0, left: 0 };
    for (const n of Object.values(state.nodes)) {
      statuses[n.status] = (statuses[n.status] ?? 0) + 1;
      this.nodeInfo.set({ node: n.id, name: n.name, status: n.status }, 1);
    }
    for (const [status, count] of Object.entries(statuses)) this.clusterNodes.set({ status }, count);
    for (const r of nodeReadings(state)) {
      const s = r.sample;
      const node = { node: r.nodeId };
      set(this.memTotal, node, s.memory.totalBytes);
      set(this.memAvail, node, s.memory.availableBytes);
      set(this.memUsed, node, Math.max(0, s.memory.totalBytes - s.memory.availableBytes));
      set(this.cpuUtil, node, s.cpu.utilisation);
      set(this.temp, node, s.thermal.temperatureC);
      set(this.cpuPower, node, s.power.cpuPowerW);
      set(this.battery, node, s.power.batteryPercent);
      set(this.onBattery, node, s.power.source === null ? null : s.power.source === "battery" ? 1 : 0);
      set(this.thermal, node, s.thermal.state === null ? null : THERMAL_STATES.indexOf(s.thermal.state));
      set(this.throttled, node, throttleReasons(s).length > 0 ? 1 : 0);
      set(this.age, node, Math.max(0, (now - s.at) / 1000));
      for (const g of r.gpus) {
        const gpu = { node: r.nodeId, gpu: `${g.vendor}${g.index}` };
        set(this.gpuUtil, gpu, g.utilisation);
        set(this.gpuMemTotal, gpu, g.memoryTotalBytes);
        set(this.gpuMemFree, gpu, g.memoryFreeBytes);
        set(this.gpuTemp, gpu, g.temperatureC);
        set(this.gpuPower, gpu, g.powerDrawW);
      }
    }
    for (const e of Object.values(state.edges)) {
      const link = { from: e.from, to: e.to };
      set(this.linkLatency, link, e.latencyMs === undefined ? null : e.latencyMs / 1000);
      set(this.linkThroughput, link, e.throughputBps ?? null);
    }
    const c = aggregateCluster(state, now, staleMs);
    this.clusterReporting.set(c.nodes.reporting);
    this.clusterMemTotal.set(c.memory.totalBytes);
    this.clusterMemAvail.set(c.memory.availableBytes);
    set(this.clusterCpuMean, {}, c.cpu.meanUtilisation);
    set(this.clusterCpuMax, {}, c.cpu.maxUtilisation);
    this.clusterGpus.set(c.gpus.count);
    if (c.hottest) this.clusterHottest.set({ node: c.hottest.nodeId, device: c.hottest.device }, c.hottest.temperatureC);
    this.clusterOnBattery.set(c.onBattery.length);
    this.clusterThrottling.set(c.throttling.length);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
