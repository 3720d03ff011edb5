// Shards and stages in one process: a model split into shards gives exactly the single-shard logits;
// a shard holds only its range's weights; batched decode equals one-at-a-time decode bit for bit; a
// stage refuses bad steps without disturbing other sequences; the worker-thread stage matches.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { CpuBackend } from "../engine/backends/cpu/index.js";
import { generate, loadModel } from "../engine/generate.js";
import { openGguf } from "../gguf/reader.js";
import { GgmlType } from "../gguf/types.js";
import { writeGguf } from "../gguf/writer.js";
import { randomModelSpec } from "../models/random-model.js";
import { STORIES_260K, tempDir } from "../testing/paths.js";
import { buildSyntheticVocab } from "../tokenizer/synth.js";
import { loadShard, type LoadedShard } from "./shard.js";
import { Stage, type StageOutput, type StageStep } from "./stage.js";
import { StageThread } from "./stage-thread.js";
import { GREEDY_SAMPLER } from "../engine/sampler.js";

const GREEDY = GREEDY_SAMPLER;
const open = (history: number[], capacity = 256) => ({ capacity, sampler: GREEDY, history });

async function randomModel(dir: string, type: GgmlType, name: string): Promise<string> {
  const path = join(dir, `${name}.gguf`);
  await writeGguf(path, randomModelSpec({
    arch: "llama", type, dim: 256, layers: 4, heads: 4, kvHeads: 2, ffn: 512, contextLength: 256, seed: 9,
    tokenizer: buildSyntheticVocab("spm", { size: 400, seed: 3 }),
  }));
  return path;
}

/** Runs prompt + greedy decode through a chain of stages, the way the pipeline does. */
async function runChain(stages: readonly Stage[], prompt: number[], count: number): Promise<number[]> {
  const tokens: number[] = [];
  let input: readonly number[] | Float32Array = prompt;
  let pos = 0;
  let nTok = prompt.length;
  for (;;) {
    let out: StageOutput | undefined;
    for (const [i, stage] of stages.entries()) {
      [out] = await stage.run([{ seq: "s", pos, nTok, input, sample: true, open: pos === 0 ? open(prompt) : undefined }]);
      if (out.kind === "hidden") input = out.hidden;
      else assert.equal(i, stages.length - 1, `stage ${i} returned ${out.kind}`);
    }
    assert.ok(out?.kind === "token");
    tokens.push(out.token);
    if (tokens.length === count) return tokens;
    pos += nTok;
    nTok = 1;
    input = [out.token];
  }
}

test("a model split into 1, 2 and 3 shards decodes exactly like generate(); each shard holds only its range", async () => {
  const tmp = tempDir();
  const shards: LoadedShard[] = [];
  try {
    for (const path of [STORIES_260K, await randomModel(tmp.dir, GgmlType.Q8_0, "q8"), await randomModel(tmp.dir, GgmlType.Q4_K, "q4k")]) {
      const whole = await loadModel(path, new CpuBackend({ threads: 1 }));
      const layers = whole.config.layers;
      const prompt = whole.tokenizer.encode("the old tree and the river", { addSpecial: true });
      const want = (await generate(whole, prompt, { maxTokens: 20, sampler: GREEDY })).tokens;
      await whole.close();
      const file = await openGguf(path);
      const fileBytes = file.header.tensors.reduce((s, t) => s + t.byteSize, 0);
      await file.close();
      for (const bounds of [[0, layers], [0, 1, layers], [0, 2, 3, layers]]) {
        const chain = [];
        for (let i = 0; i + 1 < bounds.length; i++) {
          const shard = await loadShard({ modelPath: path, range: { start: bounds[i], end: bounds[i + 1] } }, new CpuBackend({ threads: 1 }));
          shards.push(shard);
          chain.push(new Stage(shard.transformer));
        }
        const got = await runChain(chain, prompt, want.length);
        assert.deepEqual(got, want, `${path} split at ${bounds.join(",")}`);
        if (bounds.length > 2) {
          const held = shards.slice(-chain.length).map((s) => s.weightBytes);
          for (const h of held) assert.ok(h < fileBytes, "no shard of a split holds the whole model");
        }
        for (const s of shards.splice(0)) await s.close();
      }
    }
  } finally {
    for (const s of shards) await s.close();
    tmp.cleanup();
  }
});

test("a batch of decode steps gives each sequence exactly what it gets alone (first, middle and last stages)", async () => {
  const tmp = tempDir();
  try {
    for (const type of [GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.F16, GgmlType.F32]) {
      const path = await randomModel(tmp.dir, type, `m${type}`);
      for (const range of [{ start: 0, end: 2 }, { start: 1, end: 3 }, { start: 2, end: 4 }]) {
        const solo = await loadShard({ modelPath: path, range }, new CpuBackend({ threads: 1 }));
        const batched = await loadShard({ modelPath: path, range }, new CpuBackend({ threads: 1 }));
        const dim = solo.config.dim;
        const first = range.start === 0;
        // Five sequences with prompts of different lengths, so their positions differ within a batch.
        const prompts = Array.from({ length: 5 }, (_, i) => Array.from({ length: 3 + 2 * i }, (_, j) => (7 * i + 13 * j) % 390 + 3));
        const inputOf = (i: number, n: number, salt: number): readonly number[] | Float32Array =>
          first ? prompts[i].slice(0, n).map((t) => (t + salt) % 390 + 3) : Float32Array.from({ length: n * dim }, (_, k) => Math.sin(k * 0.37 + i + salt));
        const soloSeqs = prompts.map(() => solo.transformer.newSequence(64));
        const batchSeqs = prompts.map(() => batched.transformer.newSequence(64));
        for (const [i, p] of prompts.entries()) {
          await solo.transformer.forward(inputOf(i, p.length, 0), p.length, soloSeqs[i]);
          await batched.transformer.forward(inputOf(i, p.length, 0), p.length, batchSeqs[i]);
        }
        for (let step = 1; step <= 3; step++) {
          const inputs = prompts.map((_, i) => inputOf(i, 1, step));
          const alone: Float32Array[] = [];
          for (const [i, x] of inputs.entries()) alone.push(await solo.transformer.forward(x, 1, soloSeqs[i]));
          const together = await batched.transformer.forwardBatch(inputs.map((x, i) => ({ input: x instanceof Float32Array ? x : x[0], seq: batchSeqs[i] })));
          assert.equal(together.length, alone.length);
          together.forEach((out, i) => assert.deepEqual(out, alone[i], `type ${type} range [${range.start},${range.end}) step ${step} seq ${i}`));
        }
        await solo.close();
        await batched.close();
      }
    }
  } finally {
    tmp.cleanup();
  }
});

test("a stage refuses bad steps with an error for that sequence only", async () => {
  const shard = await loadShard({ modelPath: STORIES_260K, range: { start: 1, end: 3 } }, new CpuBackend({ threads: 1 }));
  try {
    const stage = new Stage(shard.transformer);
    const dim = shard.config.dim;
    const hidden = (n: number, fill = 0.1) => new Float32Array(n * dim).fill(fill);
    const good: StageStep = { seq: "ok", pos: 0, nTok: 2, input: hidden(2), sample: false, open: open([1, 2]) };
    const nan = hidden(1);
    nan[5] = Number.NaN;
    const outs = await stage.run([
      good,
      { seq: "unknown", pos: 3, nTok: 1, input: hidden(1), sample: false },
      { seq: "late", pos: 4, nTok: 1, input: hidden(1), sample: false, open: open([1]) },
      { seq: "short", pos: 0, nTok: 2, input: hidden(1), sample: false, open: open([1]) },
      { seq: "nan", pos: 0, nTok: 1, input: nan, sample: false, open: open([1]) },
      { seq: "ids", pos: 0, nTok: 1, input: [5], sample: false, open: open([1]) },
      { seq: "long", pos: 0, nTok: 9, input: hidden(9), sample: false, open: open([1], 8) },
    ]);
    assert.equal(outs[0].kind, "hidden");
    const errors = outs.slice(1).map((o) => (o.kind === "error" ? o.message : `not an error: ${o.kind}`));
    assert.match(errors[0], /unknown to this stage/);
    assert.match(errors[1], /opens at position 4/);
    assert.match(errors[2], /expected 128 hidden values, got 64/);
    assert.match(errors[3], /non-finite value at 5/);
    assert.match(errors[4], /this stage takes hidden states/);
    assert.match(errors[5], /exceed its 8-token context/);
    // The good sequence goes on; a step at the wrong position is refused.
    const [next] = await stage.run([{ seq: "ok", pos: 2, nTok: 1, input: hidden(1), sample: false }]);
    assert.equal(next.kind, "hidden");
    const [wrong] = await stage.run([{ seq: "ok", pos: 2, nTok: 1, input: hidden(1), sample: false }]);
    assert.ok(wrong.kind === "error" && /position 2, but this stage holds 3/.test(wrong.message));
    stage.free("ok");
    assert.equal(stage.activeSequences, 0);
  } finally {
    await shard.close();
  }
});

test("the worker-thread stage gives the same tokens as the in-process one, and reports load errors", async () => {
  const thread = await StageThread.start({ modelPath: STORIES_260K, range: { start: 0, end: 5 }, threads: 1 });
  const shard = await loadShard({ modelPath: STORIES_260K, range: { start: 0, end: 5 } }, new CpuBackend({ threads: 1 }));
  try {
    assert.ok(thread.weightBytes > 0);
    const prompt = [1, 403, 407, 261, 378];
    const local = await runChain([new Stage(shard.transformer)], prompt, 12);
    const viaThread: number[] = [];
    let step: StageStep = { seq: "t", pos: 0, nTok: prompt.length, input: prompt, sample: true, open: open(prompt) };
    while (viaThread.length < 12) {
      const [out] = await thread.run([step]);
      assert.ok(out.kind === "token");
      viaThread.push(out.token);
      step = { seq: "t", pos: out.pos, nTok: 1, input: [out.token], sample: true };
    }
    assert.deepEqual(viaThread, local);
  } finally {
    await thread.close();
    await shard.close();
  }
  await assert.rejects(StageThread.start({ modelPath: STORIES_260K, range: { start: 2, end: 9 }, threads: 1 }), /outside the model's 5 layers/);
  await assert.rejects(StageThread.start({ modelPath: "/nonexistent/model.gguf", range: { start: 0, end: 1 }, threads: 1 }), /ENOENT|no such file/);
});
