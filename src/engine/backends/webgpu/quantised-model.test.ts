// Whole random quantised models on WebGPU. Decode steps take the fused kernels (q/k/v in one matvec,
// rope of q and k together, gate and up with silu, residual adds inside the output matvecs), so they
// are checked against the same backend with fusion off (equal bit for bit) and against the CPU backend.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeGguf } from "../../../gguf/writer.js";
import { GgmlType, typeName } from "../../../gguf/types.js";
import { randomModelSpec } from "../../../models/random-model.js";
import { buildSyntheticVocab } from "../../../tokenizer/synth.js";
import { tempDir } from "../../../testing/paths.js";
import { loadModel, type LoadedModel } from "../../generate.js";
import { argmax } from "../../sampler.js";
import { openWebGpu } from "./test-support.js";

const tmp = tempDir();
test.after(() => tmp.cleanup());

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** Logits of the prompt and of 12 decode steps fed the given tokens (or, without them, the model's own greedy picks). */
async function steps(model: LoadedModel, feed?: readonly number[]): Promise<Float32Array[]> {
  const prompt = model.tokenizer.encode("Once upon a time there was a cat");
  const seq = model.transformer.newSequence(64);
  const out = [await model.transformer.forward(prompt, prompt.length, seq)];
  for (let step = 0; step < 12; step++) out.push(await model.transformer.forward([feed?.[step] ?? argmax(out[step])], 1, seq));
  return out;
}

for (const type of [GgmlType.Q8_0, GgmlType.Q4_K]) {
  test(`random llama ${typeName(type)} (GQA 8 on 2 heads): fused decode equals unfused, and follows the CPU backend`, async () => {
    const path = join(tmp.dir, `llama-${typeName(type)}.gguf`);
    await writeGguf(path, randomModelSpec({
      arch: "llama", type, dim: 256, layers: 2, heads: 8, kvHeads: 2, ffn: 512, contextLength: 256, seed: 77 + type,
      tokenizer: buildSyntheticVocab("spm", { size: 512, seed: 3 }),
    }));
    const fusedBackend = await openWebGpu();
    const plainBackend = await openWebGpu({ fuse: false });
    const models = await Promise.all([loadModel(path), loadModel(path, fusedBackend), loadModel(path, plainBackend)]);
    try {
      const cpu = await steps(models[0]);
      // Both GPU runs are fed the CPU's greedy tokens, so one near-tie cannot send them down different paths.
      const feed = cpu.slice(0, -1).map((l) => argmax(l));
      const fused = await steps(models[1], feed);
      const plain = await steps(models[2], feed);
      fused.forEach((l, i) => assert.deepEqual(l, plain[i], `step ${i}: fused logits differ from unfused`));
      // The CPU backend rounds activations to 8-bit blocks before quantised matmuls, as ggml does; the GPU
      // keeps them in f32. On these models (logits spanning about ±20) that moves logits by about 0.2.
      const worst = Math.max(...fused.map((l, i) => maxAbsDiff(l, cpu[i])));
      assert.ok(worst < 0.5, `largest logit difference from the CPU backend: ${worst}`);
      const agreed = fused.filter((l, i) => argmax(l) === argmax(cpu[i])).length;
      assert.ok(agreed >= 11, `greedy tokens agreed with the CPU backend's on ${agreed} of 13 steps`);
    } finally {
      await Promise.all(models.map((m) => m.close()));
      await fusedBackend.dispose();
      await plainBackend.dispose();
    }
  });
}
