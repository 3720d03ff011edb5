// `npm run bench:pipeline`: decode speed of a TinyLlama-shaped Q8_0 random model on 1, 2 and 3
// pipeline stages (real `tessera start` processes on 127.0.0.1, one matmul thread each) against the
// single-process engine on one thread in the same run, the per-hop overhead that implies, and the
// aggregate throughput of 1, 4 and 8 concurrent streams on 3 stages. Prints one JSON object.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CpuBackend } from "../engine/backends/cpu/index.js";
import { generate, loadModel } from "../engine/generate.js";
import { GREEDY_SAMPLER } from "../engine/sampler.js";
import { GgmlType } from "../gguf/types.js";
import { generateClusterKey } from "../net/index.js";
import { completeStreaming, createInstance, nodeIds, untilReady } from "../testing/api-client.js";
import { agreed, killAll, startNode, until, type RunningNode } from "../testing/cluster-procs.js";
import { tempDir } from "../testing/paths.js";
import { ensureModel } from "./bench-models.js";

const PROMPT = "the quick brown fox jumps over the lazy dog";

interface RunnerView {
  instance_id: string;
  stats: { decode_steps: number; decode_batches: number; largest_batch: number; decode_ms: number };
}

/** Every node's runner counters for one instance. */
async function counters(nodes: readonly RunningNode[], instance: string): Promise<RunnerView[]> {
  const all = await Promise.all(nodes.map(async (n) => ((await (await fetch(`http://127.0.0.1:${n.api}/runners`)).json()) as { runners: RunnerView[] }).runners));
  return all.flat().filter((r) => r.instance_id === instance);
}

/** Stage compute per decoded token (summed over stages) between two snapshots. */
function computePerToken(before: RunnerView[], after: RunnerView[]): number {
  const ms = after.reduce((s, r, i) => s + r.stats.decode_ms - before[i].stats.decode_ms, 0);
  const steps = after[0].stats.decode_steps - before[0].stats.decode_steps;
  return ms / steps;
}

/** Streams one greedy completion and times its tokens as they arrive at the client. */
async function timedStream(node: RunningNode, model: string, maxTokens: number, prompt = PROMPT): Promise<{ tokens: number; firstMs: number; decodeTokS: number; wallMs: number }> {
  const t0 = performance.now();
  const stamps: number[] = [];
  const r = await completeStreaming(node, "/v1/completions", { model, prompt, max_tokens: maxTokens, temperature: 0 }, () => stamps.push(performance.now()));
  if (r.error) throw new Error(`${model}: ${r.error}`);
  // The last chunk carries finish_reason only; token chunks come before it.
  const tokenStamps = stamps.slice(0, r.tokens.length);
  const decodeMs = tokenStamps.at(-1)! - tokenStamps[0];
  return { tokens: r.tokens.length, firstMs: tokenStamps[0] - t0, decodeTokS: (r.tokens.length - 1) / (decodeMs / 1000), wallMs: performance.now() - t0 };
}

/** The single-process engine on one thread, model loaded once; run() times one greedy generation. */
async function singleProcess(path: string): Promise<{ run: (maxTokens: number) => Promise<number>; close: () => Promise<void> }> {
  const backend = new CpuBackend({ threads: 1 });
  const model = await loadModel(path, backend);
  const ids = model.tokenizer.encode(PROMPT, { addSpecial: true });
  const sampler = GREEDY_SAMPLER;
  return {
    // Timed like the cluster runs: from the first token's text to the last's, sampling included.
    run: async (maxTokens) => {
      const stamps: number[] = [];
      const r = await generate(model, ids, { maxTokens, sampler, contextLength: ids.length + maxTokens }, () => stamps.push(performance.now()));
      if (r.tokens.length !== stamps.length) throw new Error("a token produced no text; timing by text callbacks would be off");
      return (stamps.length - 1) / ((stamps.at(-1)! - stamps[0]) / 1000);
    },
    close: async () => {
      await model.close();
      await backend.dispose();
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { decode: { type: "string", default: "32" }, rounds: { type: "string", default: "3" }, dir: { type: "string", default: "bench-out" } } });
  const maxTokens = Number(values.decode);
  const rounds = Number(values.rounds);
  mkdirSync(values.dir, { recursive: true });
  const path = await ensureModel(values.dir, "tinyllama", GgmlType.Q8_0);

  const tmp = tempDir("tessera-bench-pipeline-");
  const key = generateClusterKey();
  try {
    const first = await startNode(join(tmp.dir, "n0"), ["--join", key, "--threads", "1"]);
    const nodes = [first];
    for (let i = 1; i < 3; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), ["--join", key, "--threads", "1", "--peer", `127.0.0.1:${first.port}`]));
    await until(nodes, agreed(3));
    const ids = await nodeIds(nodes);
    // TinyLlama's 22 layers; the first stage also embeds and the last runs the 32000-wide head.
    const placements = {
      "1-stage": [{ node_id: ids[0], start: 0, end: 22 }],
      "2-stage": [{ node_id: ids[0], start: 0, end: 11 }, { node_id: ids[1], start: 11, end: 22 }],
      "3-stage": [{ node_id: ids[0], start: 0, end: 8 }, { node_id: ids[1], start: 8, end: 15 }, { node_id: ids[2], start: 15, end: 22 }],
    };
    for (const [name, placement] of Object.entries(placements)) await createInstance(first, path, placement, name);
    await untilReady(nodes, Object.keys(placements), 300_000);
    for (const name of Object.keys(placements)) await timedStream(first, name, 4); // warm-up
    // Rounds interleave every configuration with the single-process baseline, so that drift in the
    // machine's speed (it is shared) hits all of them alike; medians are reported.
    const engine = await singleProcess(path);
    const samples: Record<string, number[]> = { single: [] };
    const firstToken: Record<string, number[]> = {};
    // Wall time per token minus the stages' own compute per token: what the pipeline adds.
    const overhead: Record<string, number[]> = {};
    const efficiency: Record<string, number[]> = {};
    try {
      await engine.run(4);
      for (let r = 0; r < rounds; r++) {
        samples["single"].push(await engine.run(maxTokens));
        // The engine just held this thread for seconds; let pending socket closes be seen before the next
        // fetch, or it may reuse a keep-alive connection the server has already closed.
        await new Promise((r) => setTimeout(r, 100));
        for (const name of Object.keys(placements)) {
          const before = await counters(nodes, name);
          const t = await timedStream(first, name, maxTokens);
          const compute = computePerToken(before, await counters(nodes, name));
          const wall = 1000 / t.decodeTokS;
          (samples[name] ??= []).push(t.decodeTokS);
          (firstToken[name] ??= []).push(t.firstMs);
          (overhead[name] ??= []).push(wall - compute);
          (efficiency[name] ??= []).push(compute / wall);
        }
      }
    } finally {
      await engine.close();
    }
    const single = median(samples["single"]);
    const stages: Record<string, object> = {};
    for (const name of Object.keys(placements)) {
      const v = median(samples[name]);
      stages[name] = {
        decode_tok_s: v,
        ratio_to_single_process: v / single,
        overhead_ms_per_token: median(overhead[name]),
        compute_share_of_wall: median(efficiency[name]),
        first_token_ms: median(firstToken[name]),
        samples: samples[name],
      };
    }
    // The ring of k stages has k network hops per token (the last one back to the head); one stage has none.
    const perHopMs = (median(overhead["3-stage"]) - median(overhead["1-stage"])) / 3;
    const concurrency: Record<string, object> = {};
    const aggregate: Record<string, number> = {};
    for (const c of [1, 4, 8]) {
      const before = await counters(nodes, "3-stage");
      const t0 = performance.now();
      const runs = await Promise.all(Array.from({ length: c }, (_, i) => timedStream(nodes[i % 3], "3-stage", maxTokens, `${PROMPT} ${i}`)));
      const wall = performance.now() - t0;
      const tokens = runs.reduce((s, r) => s + r.tokens, 0);
      const after = await counters(nodes, "3-stage");
      const batches = after.map((r, i) => {
        const steps = r.stats.decode_steps - before[i].stats.decode_steps;
        return { mean_batch: steps / (r.stats.decode_batches - before[i].stats.decode_batches), largest_batch_so_far: r.stats.largest_batch };
      });
      aggregate[`c${c}`] = tokens / (wall / 1000);
      concurrency[`c${c}`] = { streams: c, tokens, wall_ms: wall, aggregate_tok_s: aggregate[`c${c}`], stage_batches: batches };
    }
    const result = {
      bench: "pipeline",
      node: process.version,
      model: "tinyllama-Q8_0 (random weights)",
      threads_per_stage: 1,
      decode_tokens: maxTokens,
      rounds,
      single_process_decode_tok_s: single,
      single_process_samples: samples["single"],
      stages,
      per_hop_overhead_ms: perHopMs,
      concurrency,
      concurrency_8_over_1: aggregate["c8"] / aggregate["c1"],
    };
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  } finally {
    await killAll();
    tmp.cleanup();
  }
}

main().catch(async (e) => {
  process.stderr.write(`bench:pipeline: ${e instanceof Error ? e.stack : String(e)}\n`);
  await killAll();
  process.exitCode = 1;
});
