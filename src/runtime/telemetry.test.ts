// Telemetry end to end, with three real `tessera start` processes on 127.0.0.1: every node's profile
// and samples reach every node's /state, links get measured edges, /metrics and /telemetry answer.
// The delay from a sample being taken to it being applied elsewhere is reported, not asserted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateClusterKey } from "../net/index.js";
import { TESSERA_BIN, tempDir } from "../testing/paths.js";
import { agreed, killAll, startNode, state, until, type RunningNode, type StateView } from "../testing/cluster-procs.js";
import { parsePrometheusText } from "../api/prometheus-text.js";

interface NodeView {
  status: string;
  device?: { collectedAt?: string; benchmark?: { q8_0GBs?: number } | null; placement?: { id?: string } | null };
  telemetry?: { at?: number; memory?: { totalBytes?: number; availableBytes?: number } };
}
interface EdgeView {
  from: string;
  to: string;
  latencyMs?: number;
  throughputBps?: number;
  measuredAt?: number;
}
type FullState = StateView & { nodes: Record<string, NodeView>; edges: Record<string, EdgeView> };

interface Point {
  at: number;
  received_at: number;
  telemetry: { memory: { totalBytes: number } } | null;
}

const PERIOD_MS = 500;

async function get(node: RunningNode, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${node.api}${path}`);
  return { status: res.status, text: await res.text() };
}

function complete(states: StateView[]): boolean {
  return states.every((raw) => {
    const s = raw as FullState;
    const ids = Object.keys(s.nodes);
    return (
      ids.length === 3 &&
      Object.values(s.nodes).every((n) => n.status === "alive" && n.telemetry?.at !== undefined && n.device?.benchmark) &&
      // Every node measured its links to both others.
      ids.every((from) => ids.every((to) => from === to || s.edges[`${from}->${to}`]?.measuredAt !== undefined))
    );
  });
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

test("three nodes: profiles, telemetry and measured links reach every node; /metrics and /telemetry answer", { timeout: 180_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  const flags = ["--join", key, "--telemetry-ms", String(PERIOD_MS), "--probe-ms", "5000"];
  try {
    const first = await startNode(join(tmp.dir, "n0"), ["--name", "n0", ...flags]);
    const nodes = [first];
    for (let i = 1; i < 3; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), ["--name", `n${i}`, ...flags, "--peer", `127.0.0.1:${first.port}`]));
    await until(nodes, agreed(3), 60_000);
    const states = (await until(nodes, complete, 90_000)) as FullState[];
    // Samples from before now may have reached a node by catch-up when it joined: not propagation.
    const settledAt = Date.now();
    const ids = Object.keys(states[0].nodes).sort();

    for (const s of states) {
      for (const id of ids) {
        const n = s.nodes[id];
        assert.ok(n.telemetry!.memory!.totalBytes! > 0 && n.telemetry!.memory!.availableBytes! <= n.telemetry!.memory!.totalBytes!);
        assert.ok(n.device!.benchmark!.q8_0GBs! > 0, "the profile carries the measured CPU backend rate");
        assert.equal(n.device!.placement!.id, id, "and the solver's view of the node");
      }
      for (const e of Object.values(s.edges)) {
        assert.ok(e.latencyMs! > 0 && e.latencyMs! < 1000, `latency ${e.latencyMs} ms on loopback`);
        assert.ok(e.throughputBps! > 0, `throughput ${e.throughputBps}`);
      }
    }
    const links = (s: FullState) => Object.values(s.edges).sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1));
    const describe = (s: FullState) => `RTT ${links(s).map((e) => e.latencyMs!.toFixed(2)).join(", ")} ms; ${links(s).map((e) => (e.throughputBps! / 1e6).toFixed(0)).join(", ")} MB/s`;
    t.diagnostic(`links on loopback, first probes (during start-up): ${describe(states[0])}`);
    // Probes repeat (every 5 s here): each edge gets a newer measurement.
    const firstAt = new Map(links(states[0]).map((e) => [`${e.from}->${e.to}`, e.measuredAt!]));
    const again = (await until([first], (ss) => links(ss[0] as FullState).length === 6 && links(ss[0] as FullState).every((e) => e.measuredAt! > firstAt.get(`${e.from}->${e.to}`)!), 60_000))[0] as FullState;
    for (const e of links(again)) assert.ok(e.latencyMs! > 0 && e.latencyMs! < 1000 && e.throughputBps! > 0);
    t.diagnostic(`links on loopback, probed again: ${describe(again)}`);

    // Let each node publish a few more samples, then read every node's history of every other node.
    await new Promise((r) => setTimeout(r, 10 * PERIOD_MS));
    const delays: number[] = [];
    for (const n of nodes) {
      const self = (await state(n)).node_id;
      for (const id of ids) {
        const res = await get(n, `/telemetry/${id}?window=60`);
        assert.equal(res.status, 200);
        const body = JSON.parse(res.text) as { node_id: string; points: Point[] };
        assert.equal(body.node_id, id);
        assert.ok(body.points.length >= 5, `${body.points.length} samples of ${id} at ${self}`);
        for (let i = 1; i < body.points.length; i++) assert.ok(body.points[i].at > body.points[i - 1].at, "in time order");
        for (const p of body.points) {
          assert.ok(p.telemetry!.memory.totalBytes > 0);
          if (id !== self && p.at >= settledAt) delays.push(p.received_at - p.at);
        }
      }
      assert.equal((await get(n, `/telemetry/${ids[0]}?window=0`)).status, 400);
      assert.equal((await get(n, `/telemetry/${ids[0]}?window=abc`)).status, 400);
      assert.equal((await get(n, "/telemetry/nobody")).status, 404);
      assert.equal((await get(n, "/telemetry/%E0%A4%A")).status, 400);
    }
    t.diagnostic(`sample taken → heard by another node (its /state live_telemetry, /telemetry and /metrics): p50 ${percentile(delays, 0.5)} ms, p90 ${percentile(delays, 0.9)} ms, max ${Math.max(...delays)} ms over ${delays.length} (period ${PERIOD_MS} ms, 3 nodes on 2 cores)`);
    assert.ok(delays.every((d) => d >= 0), "nothing is heard before it was taken (one clock)");
    // /state shows the newest sample of every node beside the replicated state, whose own copy is coalesced.
    for (const n of nodes) {
      const live = (JSON.parse((await get(n, "/state")).text) as { live_telemetry: Record<string, { at: number }> }).live_telemetry;
      assert.deepEqual(Object.keys(live).sort(), ids);
    }

    for (const n of nodes) {
      const res = await get(n, "/metrics");
      assert.equal(res.status, 200);
      const p = parsePrometheusText(res.text);
      const perNode = (name: string) => new Set(p.get(name)?.map((s) => s.labels["node"]));
      for (const name of ["tessera_node_memory_total_bytes", "tessera_node_memory_available_bytes", "tessera_node_cpu_utilisation_ratio", "tessera_node_telemetry_age_seconds"]) {
        assert.deepEqual([...perNode(name)].sort(), ids, name);
      }
      assert.equal(p.get("tessera_link_latency_seconds")?.length, 6);
      const total = p.get("tessera_cluster_memory_total_bytes")![0].value;
      const sum = p.get("tessera_node_memory_total_bytes")!.reduce((a, s) => a + s.value, 0);
      assert.equal(total, sum, "the cluster total is the sum of the nodes'");

      const summary = JSON.parse((await get(n, "/telemetry")).text) as { cluster: { nodes: { alive: number; reporting: number }; memory: { totalBytes: number } } };
      assert.deepEqual(summary.cluster.nodes.alive, 3);
      assert.deepEqual(summary.cluster.nodes.reporting, 3);
      assert.ok(summary.cluster.memory.totalBytes > 0);
    }

    // `tessera list` shows each node's latest sample.
    const { stdout } = await promisify(execFile)(process.execPath, [TESSERA_BIN, "list", "--api", `http://127.0.0.1:${first.api}`]);
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 3);
    for (const line of lines) assert.match(line, /\d+\.\d\/\d+\.\d GiB free/);
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
