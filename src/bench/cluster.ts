// `npm run bench:cluster`: time from an event proposed to that event applied on every node (p50, p99),
// for local clusters of real `tessera start` processes on 127.0.0.1. Applied-ness is observed through
// each node's /events stream.
import { join } from "node:path";
import { generateClusterKey } from "../net/index.js";
import { ClusterClient } from "../testing/cluster-client.js";
import { agreed, killAll, startNode, until, type RunningNode, QUIET } from "../testing/cluster-procs.js";
import { tempDir } from "../testing/paths.js";

/** Resolves `onIndex(i)` whenever node `n` reports event index i over SSE. */
async function watch(node: RunningNode, since: number, onIndex: (index: number) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${node.api}/events?since=${since}`, { signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const id = /^id: (\d+)$/m.exec(block);
        if (id) onIndex(Number(id[1]));
      }
    }
  } catch {
    // aborted at the end of the run
  }
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function run(nodesCount: number, samples: number): Promise<{ nodes: number; samples: number; p50_ms: number; p99_ms: number }> {
  const tmp = tempDir();
  const key = generateClusterKey();
  const abort = new AbortController();
  let client: ClusterClient | undefined;
  try {
    const first = await startNode(join(tmp.dir, "n0"), [...QUIET, "--name", "n0", "--join", key]);
    const peer = `127.0.0.1:${first.port}`;
    const nodes = [first];
    for (let i = 1; i < nodesCount; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), [...QUIET, "--name", `n${i}`, "--join", key, "--peer", peer]));
    const states = await until(nodes, agreed(nodesCount), 60_000);
    const memberId = states[0].node_id;
    client = await ClusterClient.connect(join(tmp.dir, "client"), key, peer);

    const seen = new Map<number, number>(); // index → how many nodes applied it
    let waiting: { index: number; resolve: () => void } | undefined;
    const start = states[0].last_event_index + 1;
    for (const n of nodes) {
      void watch(n, start, (index) => {
        const count = (seen.get(index) ?? 0) + 1;
        seen.set(index, count);
        if (waiting && index === waiting.index && count === nodesCount) waiting.resolve();
      }, abort.signal);
    }
    await new Promise((r) => setTimeout(r, 500));
    const latencies: number[] = [];
    let next = start;
    for (let i = 0; i < samples; i++) {
      const done = new Promise<void>((resolve) => (waiting = { index: next, resolve }));
      const t0 = performance.now();
      await client.propose([{ type: "NodeSeen", nodeId: memberId, at: 1_700_000_000_000 + i }]);
      await done;
      latencies.push(performance.now() - t0);
      next++;
    }
    return { nodes: nodesCount, samples, p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99) };
  } finally {
    abort.abort();
    await client?.stop();
    await killAll();
    tmp.cleanup();
  }
}

async function main(): Promise<void> {
  const results = [];
  for (const n of [3, 8]) results.push(await run(n, 200));
  process.stdout.write(JSON.stringify({ bench: "cluster-event-latency", node: process.version, results }, null, 2) + "\n");
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`bench:cluster: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
