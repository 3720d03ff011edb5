import { test } from "node:test";
import assert from "node:assert/strict";
import { GgufError } from "../gguf/format.js";
import { parseGgufHeader } from "../gguf/reader.js";
import { encodeGguf } from "../gguf/writer.js";
import { GgmlType } from "../gguf/types.js";
import { configFromMetadata } from "../engine/config.js";
import { Rng } from "../engine/sampler.js";
import { buildSyntheticVocab } from "../tokenizer/synth.js";
import { tokenizerFromGguf } from "../tokenizer/index.js";
import { TokenizerError } from "../tokenizer/errors.js";
import { gaussianRange, randomModelSpec } from "./random-model.js";
import { randomModelSpecParallel } from "./random-model-parallel.js";
import { mulberry32 } from "../random/mulberry32.js";

const vocab = buildSyntheticVocab("gpt2", { size: 400, seed: 3 });
const spec = (seed: number) =>
  randomModelSpec({ arch: "qwen2", type: GgmlType.Q8_0, dim: 64, layers: 1, heads: 2, kvHeads: 1, ffn: 128, contextLength: 64, seed, tokenizer: vocab });

test("the same seed writes the same bytes; another seed other weights", () => {
  const a = encodeGguf(spec(5));
  assert.deepEqual(a, encodeGguf(spec(5)));
  assert.notDeepEqual(a, encodeGguf(spec(6)));
});

test("any range of the Gaussian stream, odd starts included, equals the same values drawn in order", () => {
  // Box–Muller in order, as the generator has always drawn: pair j from uniform draws 2j and 2j+1.
  const rng = mulberry32(42);
  const inOrder = new Float32Array(1001);
  for (let i = 0; i < inOrder.length; i += 2) {
    const u = 1 - rng();
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    inOrder[i] = 1 + r * Math.cos(2 * Math.PI * v) * 0.5;
    if (i + 1 < inOrder.length) inOrder[i + 1] = 1 + r * Math.sin(2 * Math.PI * v) * 0.5;
  }
  const all = gaussianRange(42, 0, 1001, 0.5, 1);
  assert.deepEqual(all, inOrder);
  for (const [start, count] of [[0, 1], [1, 1], [1, 10], [7, 100], [500, 501], [999, 2]]) {
    assert.deepEqual(gaussianRange(42, start, count, 0.5, 1), all.subarray(start, start + count), `range ${start}+${count}`);
  }
});

test("worker threads make the same model bytes as one thread", async () => {
  // FFN and embedding matrices above the size that goes to workers, with norms, biases and head norms between them.
  const o = { arch: "qwen3" as const, type: GgmlType.Q8_0, dim: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, headDim: 64, contextLength: 64, seed: 11, tokenizer: vocab, ropeFreqs: true };
  assert.deepEqual(encodeGguf(await randomModelSpecParallel(o, 2)), encodeGguf(randomModelSpec(o)));
});

test("shape errors are clear", () => {
  assert.throws(() => randomModelSpec({ ...baseOptions(), type: GgmlType.Q4_K }), /multiple of 256/);
  assert.throws(() => randomModelSpec({ ...baseOptions(), heads: 3 }), /not divisible by 3 heads/);
  assert.throws(() => randomModelSpec({ ...baseOptions(), kvHeads: 3, heads: 4 }), /not a multiple of 3 kv heads/);
});

function baseOptions() {
  return { arch: "llama" as const, type: GgmlType.F32, dim: 64, layers: 1, heads: 2, kvHeads: 1, ffn: 128, contextLength: 64, seed: 1, tokenizer: buildSyntheticVocab("spm", { size: 400, seed: 1 }) };
}

test("mutated generated models: the reader, tokenizer and config fail only with their own errors", () => {
  const file = encodeGguf(spec(9));
  const header = parseGgufHeader(file, file.length);
  const rng = new Rng(2024);
  let parsed = 0;
  for (let i = 0; i < 2000; i++) {
    const bytes = file.slice();
    const count = 1 + Math.floor(rng.next() * 6);
    for (let m = 0; m < count; m++) bytes[Math.floor(rng.next() * header.dataOffset)] = Math.floor(rng.next() * 256);
    try {
      const h = parseGgufHeader(bytes, file.length);
      parsed++;
      const tok = tokenizerFromGguf(h.metadata);
      configFromMetadata(h.metadata, tok.vocabSize);
    } catch (e) {
      assert.ok(e instanceof GgufError || e instanceof TokenizerError, `mutation ${i} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
  }
  assert.ok(parsed > 0, "some mutations leave a readable header");
});
