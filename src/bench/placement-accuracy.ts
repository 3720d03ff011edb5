// `npm run bench:placement`: the solver's predicted decode rate against the measured one, for the
// placements it chooses on a local cluster (real `tessera start` processes on 127.0.0.1, one matmul
// thread each, profiles and links measured by the nodes themselves). TinyLlama-shaped Q8_0 random model.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { GgmlType } from "../gguf/types.js";
import { generateClusterKey } from "../net/index.js";
import { completeStreaming, post, untilReady } from "../testing/api-client.js";
import { agreed, killAll, startNode, until, type RunningNode } from "../testing/cluster-procs.js";
import { tempDir } from "../testing/paths.js";
import { ensureModel } from "./bench-models.js";

interface Preview {
  placement: { node_id: string; start: number; end: number }[];
  predicted: { tok_per_sec: number };
}

async function measure(node: RunningNode, model: string, tokens: number): Promise<number> {
  const stamps: number[] = [];
  const r = await completeStreaming(node, "/v1/completions", { model, prompt: "the quick brown fox jumps over the lazy dog", max_tokens: tokens, temperature: 0 }, () => stamps.push(performance.now()));
  if (r.error) throw new Error(r.error);
  const n = r.tokens.length;
  return (n - 1) / ((stamps[n - 1] - stamps[0]) / 1000);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { decode: { type: "string", default: "24" }, dir: { type: "string", default: "bench-out" } } });
  mkdirSync(values.dir, { recursive: true });
  const path = await ensureModel(values.dir, "tinyllama", GgmlType.Q8_0);
  const tmp = tempDir("tessera-bench-placement-");
  const key = generateClusterKey();
  try {
    const args = ["--join", key, "--threads", "1", "--probe-ms", "5000"];
    const first = await startNode(join(tmp.dir, "n0"), args);
    const nodes = [first, await startNode(join(tmp.dir, "n1"), [...args, "--peer", `127.0.0.1:${first.port}`])];
    await until(nodes, agreed(2));
    // Profiles and both links measured, then a few seconds for start-up load to leave the telemetry.
    await until(nodes, (states) => states.every((s) => {
      const full = s as unknown as { nodes: Record<string, { device?: { placement?: unknown } }>; edges: Record<string, { measuredAt?: number }> };
      return Object.values(full.nodes).every((n) => n.device?.placement) && Object.values(full.edges).filter((e) => e.measuredAt).length === 2;
    }), 120_000);
    await new Promise((r) => setTimeout(r, 5000));
    const rows = [];
    for (const [name, query, constraints] of [["one node", "max_nodes=1", { max_nodes: 1 }], ["two nodes", "min_nodes=2", { min_nodes: 2 }]] as const) {
      // Let the previous measurement's load leave the logged telemetry (a change of 0.15 is logged at once).
      await new Promise((r) => setTimeout(r, 5000));
      const res = await fetch(`http://127.0.0.1:${first.api}/instance/previews?model=${encodeURIComponent(path)}&context=512&${query}`);
      const preview = ((await res.json()) as { previews: Preview[] }).previews[0];
      const created = await post(first, "/instance", { model: path, instance_id: name.replace(" ", "-"), context_length: 512, constraints });
      if (created.status !== 201) throw new Error(JSON.stringify(created.body));
      const id = created.body["instance_id"] as string;
      await untilReady(nodes, [id], 300_000);
      await measure(first, id, 4);
      const measured = await measure(first, id, Number(values.decode));
      rows.push({
        placement: name,
        stages: preview.placement.map((s) => `[${s.start},${s.end})`).join(" "),
        predicted_tok_s: preview.predicted.tok_per_sec,
        measured_tok_s: measured,
        error: preview.predicted.tok_per_sec / measured - 1,
      });
      await fetch(`http://127.0.0.1:${first.api}/instance/${id}`, { method: "DELETE" });
    }
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
