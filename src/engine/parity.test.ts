// Parity with llama.cpp on seeded random-weight models: every architecture × every weight type.
// For each model: tokenisation of varied prompts (non-ASCII and emoji included) must be identical to
// node-llama-cpp's, and so should 32 greedy tokens, with the same thread count (1) on both sides.
//
// Where the greedy tokens differ, it must be a legitimate arithmetic difference (a near-tie on these
// random weights), not a wrong model: testing/llama-parity.ts replays llama.cpp's tokens through our
// model and bounds how far each is below our top-1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeGguf } from "../gguf/writer.js";
import { GgmlType, typeName } from "../gguf/types.js";
import { randomModelSpec } from "../models/random-model.js";
import { buildSyntheticVocab } from "../tokenizer/synth.js";
import { LlamaCppReference } from "../reference/llama-cpp.js";
import { agreementWithLlamaCpp, TOP1_TOLERANCE } from "../testing/llama-parity.js";
import { tempDir } from "../testing/paths.js";
import type { Architecture } from "./config.js";
import { generate, loadModel } from "./generate.js";
import { GREEDY_SAMPLER } from "./sampler.js";


const GREEDY = GREEDY_SAMPLER;

const PROMPTS = [
  "Hello world",
  "The quick brown fox jumps over the lazy dog.",
  "café naïve façade — déjà vu",
  "日本語のテキストです",
  "Привет, мир!",
  "emoji 🙂👍🏽🚀 and flags 🇫🇷",
  "  leading spaces,\nnew lines\t\ttabs  ",
  "numbers 12345 67.89 and it's John's",
];

/** Over 64 tokens in every vocabulary here, so llama.cpp runs its tiled flash-attention path. */
const LONG_PROMPT = Array.from({ length: 4 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog, again and again.`).join("\n");

const TYPES = [
  GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1,
  GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
];

interface ArchShape {
  readonly arch: Architecture;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim?: number;
  readonly ropeFreqs?: boolean;
  readonly tied?: boolean;
  readonly ropeScaleLinear?: number;
}

// dim 256 and ffn 512 keep every row a whole number of 256-element K-quant blocks.
const ARCHS: readonly ArchShape[] = [
  { arch: "llama", heads: 4, kvHeads: 2, ropeFreqs: true },
  { arch: "mistral", heads: 8, kvHeads: 2, ropeScaleLinear: 4 },
  { arch: "qwen2", heads: 4, kvHeads: 4, tied: true },
  { arch: "qwen3", heads: 4, kvHeads: 2, headDim: 128 },
];

const tmp = tempDir();
test.after(() => tmp.cleanup());

for (const shape of ARCHS) {
  const vocab = buildSyntheticVocab(shape.arch.startsWith("qwen") ? "gpt2" : "spm", { size: 768, seed: 11 });
  for (const type of TYPES) {
    test(`${shape.arch} ${typeName(type)}: tokens and 32 greedy tokens equal llama.cpp's`, async (t) => {
      const path = join(tmp.dir, `${shape.arch}-${typeName(type)}.gguf`);
      await writeGguf(path, randomModelSpec({
        arch: shape.arch, type, dim: 256, layers: 2, heads: shape.heads, kvHeads: shape.kvHeads, ffn: 512,
        headDim: shape.headDim, contextLength: 512, seed: 1000 + type, tokenizer: vocab,
        ropeFreqs: shape.ropeFreqs, tiedEmbeddings: shape.tied, ropeScaleLinear: shape.ropeScaleLinear,
      }));
      const model = await loadModel(path);
      const ref = await LlamaCppReference.open(path, { threads: 1, contextSize: 256 });
      try {
        for (const text of PROMPTS) {
          assert.deepEqual(model.tokenizer.encode(text), ref.tokenize(text, model.tokenizer.addBos), `tokens of ${JSON.stringify(text)}`);
        }
        for (const text of [...PROMPTS.slice(0, 3), LONG_PROMPT]) {
          const prompt = model.tokenizer.encode(text);
          if (text === LONG_PROMPT) assert.ok(prompt.length >= 64, `long prompt has ${prompt.length} tokens`);
          const ours = await generate(model, prompt, { maxTokens: 32, sampler: GREEDY, contextLength: 256 });
          const theirs = await ref.greedy(prompt, 32);
          // llama.cpp's low-level evaluate does not stop at end-of-generation tokens; our loop does.
          const eog = theirs.tokens.findIndex((id) => model.tokenizer.isEog(id));
          const expected = eog >= 0 ? theirs.tokens.slice(0, eog) : theirs.tokens;
          const { same, worst, gaps } = await agreementWithLlamaCpp(model, prompt, ours.tokens, expected);
          if (same) continue;
          t.diagnostic(`greedy tokens differ after ${JSON.stringify(text)}; llama.cpp's path is within ${worst.toFixed(4)} logits of our top-1`);
          assert.ok(worst <= TOP1_TOLERANCE, `llama.cpp's token is ${worst.toFixed(4)} logits below our top-1 (gaps ${gaps.map((g) => g.toFixed(3)).join(" ")})`);
        }
      } finally {
        await ref.close();
        await model.close();
      }
    });
  }
}
