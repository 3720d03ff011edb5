// `npm run bench:stages`: what one pipeline stage costs on this machine, in one process. (1) A decode
// step on stage threads holding layers 0–8, 8–15 and 15–22 of a TinyLlama-shaped Q8_0 model, against
// one thread holding all 22: the pipeline's stages should add up to the whole. (2) One pass of a
// batch of n decode steps (layers 8–15) against n = 1: what batching saves. Prints one JSON object.
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { CpuBackend } from "../engine/backends/cpu/index.js";
import { GgmlType } from "../gguf/types.js";
import { loadShard } from "../shard/shard.js";
import { StageThread } from "../shard/stage-thread.js";
import type { StageStep } from "../shard/stage.js";
import { ensureModel, SHAPES } from "./bench-models.js";

const GREEDY = { temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 0, seed: 0 };
const DIM = SHAPES.tinyllama.dim;

/** Mean ms of one decode step on a stage thread holding [start, end). */
async function stepMs(path: string, start: number, end: number, steps: number): Promise<number> {
  const t = await StageThread.start({ modelPath: path, range: { start, end }, threads: 1 });
  try {
    const input = (n: number, i: number): number[] | Float32Array =>
      start === 0 ? Array.from({ length: n }, (_, k) => 500 + k + i) : new Float32Array(n * DIM).fill(0.01 * (i + 1));
    const first: StageStep = { seq: "s", pos: 0, nTok: 5, input: input(5, 0), sample: false, open: { capacity: 64, sampler: GREEDY, history: [1] } };
    await t.run([first]);
    let pos = 5;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await t.run([{ seq: "s", pos: pos++, nTok: 1, input: input(1, i), sample: false }]);
    return (performance.now() - t0) / steps;
  } finally {
    await t.close();
  }
}

/** Mean ms of one forwardBatch pass of n sequences over layers [start, end). */
async function batchMs(path: string, start: number, end: number, sizes: readonly number[], passes: number): Promise<Record<string, number>> {
  const shard = await loadShard({ modelPath: path, range: { start, end } }, new CpuBackend({ threads: 1 }));
  try {
    const T = shard.transformer;
    const seqs = Array.from({ length: Math.max(...sizes) }, () => T.newSequence(64));
    for (const q of seqs) await T.forward(new Float32Array(4 * DIM).fill(0.01), 4, q);
    const out: Record<string, number> = {};
    for (const n of sizes) {
      const t0 = performance.now();
      for (let r = 0; r < passes; r++) await T.forwardBatch(seqs.slice(0, n).map((seq) => ({ input: new Float32Array(DIM).fill(0.02), seq })));
      out[`n${n}`] = (performance.now() - t0) / passes;
    }
    return out;
  } finally {
    await shard.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { steps: { type: "string", default: "10" }, dir: { type: "string", default: "bench-out" } } });
  const steps = Number(values.steps);
  mkdirSync(values.dir, { recursive: true });
  const path = await ensureModel(values.dir, "tinyllama", GgmlType.Q8_0);
  const whole = await stepMs(path, 0, 22, steps);
  const parts = [await stepMs(path, 0, 8, steps), await stepMs(path, 8, 15, steps), await stepMs(path, 15, 22, steps)];
  const batch = await batchMs(path, 8, 15, [1, 2, 4, 8], 4);
  const relative = Object.fromEntries(Object.entries(batch).map(([k, v]) => [k, v / batch["n1"]]));
  process.stdout.write(JSON.stringify({
    bench: "stages",
    node: process.version,
    model: "tinyllama-Q8_0 (random weights), one thread",
    decode_step_ms: { whole_0_22: whole, stage_0_8: parts[0], stage_8_15: parts[1], stage_15_22: parts[2], stages_sum: parts[0] + parts[1] + parts[2] },
    batch_pass_ms_layers_8_15: batch,
    batch_pass_relative_to_one: relative,
  }, null, 2) + "\n");
}

main().catch((e) => {
  process.stderr.write(`bench:stages: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
