// `npm run bench:placement`: the solver's predicted decode rate against the measured one, for the
// placements it chooses on local clusters (real `tessera start` processes on 127.0.0.1, profiles and
// links measured by the nodes themselves). TinyLlama-shaped Q8_0 random model.
//   - equal devices: two nodes, one matmul thread each; the best plan on one node, then on two;
//   - unequal devices: one node with two matmul threads and one with one, each offering at most
//     --max-memory 1GiB, so the model needs both and the solver must split it by their rates.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { GgmlType } from "../gguf/types.js";
import { generateClusterKey } from "../net/index.js";
import { completeStreaming, post, untilReady } from "../testing/api-client.js";
import { agreed, killAll, startNode, until, type RunningNode, type StateView } from "../testing/cluster-procs.js";
import { tempDir } from "../testing/paths.js";
import { ensureModel } from "./bench-models.js";

interface Preview {
  placement: { node_id: string; start: number; end: number }[];
  predicted: { tok_per_sec: number };
}

interface Row {
  cluster: string;
  placement: string;
  stages: string;
  predicted_tok_s: number;
  measured_tok_s: number;
  error: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(node: RunningNode, model: string, tokens: number): Promise<number> {
  const stamps: number[] = [];
  const r = await completeStreaming(node, "/v1/completions", { model, prompt: "the quick brown fox jumps over the lazy dog", max_tokens: tokens, temperature: 0 }, () => stamps.push(performance.now()));
  if (r.error) throw new Error(r.error);
  const n = r.tokens.length;
  return (n - 1) / ((stamps[n - 1] - stamps[0]) / 1000);
}

type Full = { nodes: Record<string, { device?: { placement?: unknown } }>; edges: Record<string, { measuredAt?: number }> };
const profiled = (count: number) => (states: StateView[]) =>
  states.every((s) => Object.values((s as unknown as Full).nodes).filter((n) => n.device?.placement).length >= count);
const linked = (count: number) => (states: StateView[]) =>
  states.every((s) => Object.values((s as unknown as Full).edges).filter((e) => e.measuredAt).length >= count);

/**
 * Starts nodes one at a time, each after the previous one published its profile, so that no two
 * benchmarks share the two cores (a node's rate is measured once, at its start).
 */
async function startCluster(dir: string, perNode: string[][]): Promise<RunningNode[]> {
  const key = generateClusterKey();
  const nodes: RunningNode[] = [];
  for (const [i, extra] of perNode.entries()) {
    const peer = nodes.length > 0 ? ["--peer", `127.0.0.1:${nodes[0].port}`] : [];
    nodes.push(await startNode(join(dir, `n${i}`), ["--join", key, "--probe-ms", "5000", ...extra, ...peer]));
    await until(nodes, agreed(nodes.length));
    await until(nodes, profiled(nodes.length), 120_000);
  }
  await until(nodes, linked(nodes.length * (nodes.length - 1)), 120_000);
  // A few seconds for start-up load to leave the logged telemetry.
  await sleep(5000);
  return nodes;
}

async function run(nodes: RunningNode[], cluster: string, path: string, plans: readonly (readonly [string, string, Record<string, number>])[], tokens: number): Promise<Row[]> {
  const first = nodes[0];
  const ids = await Promise.all(nodes.map(async (n) => ((await (await fetch(`http://127.0.0.1:${n.api}/node_id`)).json()) as { node_id: string }).node_id));
  const rows: Row[] = [];
  for (const [name, query, constraints] of plans) {
    // Let the previous measurement's load leave the logged telemetry (a change of 0.15 is logged at once).
    await sleep(5000);
    const res = await fetch(`http://127.0.0.1:${first.api}/instance/previews?model=${encodeURIComponent(path)}&context=512${query ? `&${query}` : ""}`);
    const body = (await res.json()) as { previews?: Preview[]; failure?: unknown };
    const preview = body.previews?.[0];
    if (!preview) throw new Error(`no placement for ${cluster} / ${name}: ${JSON.stringify(body.failure)}`);
    const created = await post(first, "/instance", { model: path, instance_id: `${cluster}-${name}`.replace(/ /g, "-"), context_length: 512, constraints });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    const id = created.body["instance_id"] as string;
    await untilReady(nodes, [id], 300_000);
    await measure(first, id, 4);
    const measured = await measure(first, id, tokens);
    rows.push({
      cluster,
      placement: name,
      stages: preview.placement.map((s) => `n${ids.indexOf(s.node_id)}:[${s.start},${s.end})`).join(" "),
      predicted_tok_s: preview.predicted.tok_per_sec,
      measured_tok_s: measured,
      error: preview.predicted.tok_per_sec / measured - 1,
    });
    await fetch(`http://127.0.0.1:${first.api}/instance/${id}`, { method: "DELETE" });
  }
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { decode: { type: "string", default: "24" }, dir: { type: "string", default: "bench-out" } } });
  mkdirSync(values.dir, { recursive: true });
  const path = await ensureModel(values.dir, "tinyllama", GgmlType.Q8_0);
  const tokens = Number(values.decode);
  const tmp = tempDir("tessera-bench-placement-");
  const rows: Row[] = [];
  try {
    const equal = await startCluster(join(tmp.dir, "equal"), [["--threads", "1"], ["--threads", "1"]]);
    rows.push(...(await run(equal, "equal", path, [["one node", "max_nodes=1", { max_nodes: 1 }], ["two nodes", "min_nodes=2", { min_nodes: 2 }]], tokens)));
    await killAll();
    const unequal = await startCluster(join(tmp.dir, "unequal"), [["--threads", "2", "--max-memory", "1GiB"], ["--threads", "1", "--max-memory", "1GiB"]]);
    rows.push(...(await run(unequal, "unequal", path, [["best plan", "", {}]], tokens)));
    process.stdout.write(JSON.stringify({ bench: "placement-accuracy", node: process.version, model: "tinyllama-Q8_0 (random weights)", rows }, null, 2) + "\n");
  } finally {
    await killAll();
    tmp.cleanup();
  }
}

main().catch(async (e) => {
  process.stderr.write(`bench:placement: ${e instanceof Error ? e.stack : String(e)}\n`);
  await killAll();
  process.exitCode = 1;
});
