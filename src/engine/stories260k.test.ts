// stories260K, a real trained tiny Llama: our greedy output must be llama.cpp's, token for token, and
// the text recorded in ../shared/models/SOURCE.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import { STORIES_260K, stories260KExpectedText } from "../testing/paths.js";
import { LlamaCppReference } from "../reference/llama-cpp.js";
import { generate, loadModel } from "./generate.js";
import { GREEDY_SAMPLER } from "./sampler.js";

const GREEDY = GREEDY_SAMPLER;

test("stories260K: greedy 40 tokens match SOURCE.md and llama.cpp's token ids", async () => {
  const model = await loadModel(STORIES_260K);
  const ref = await LlamaCppReference.open(STORIES_260K, { threads: 1, contextSize: 128 });
  try {
    const prompt = model.tokenizer.encode("Once upon a time");
    assert.deepEqual(prompt, [1, 403, 407, 261, 378]);
    assert.deepEqual(prompt, ref.tokenize("Once upon a time", true));

    const ours = await generate(model, prompt, { maxTokens: 40, sampler: GREEDY });
    const theirs = await ref.greedy(prompt, 40);
    assert.equal(ours.tokens.length, 40);
    assert.deepEqual(ours.tokens, theirs.tokens);
    assert.equal("Once upon a time" + ours.text, stories260KExpectedText());
  } finally {
    await ref.close();
    await model.close();
  }
});

test("stories260K: prefill in chunks gives the same logits as token by token", async () => {
  const model = await loadModel(STORIES_260K);
  try {
    const ids = model.tokenizer.encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.");
    const whole = model.transformer.newSequence(256);
    const chunked = await model.transformer.forward(ids, ids.length, whole);
    const single = model.transformer.newSequence(256);
    let last: Float32Array = new Float32Array(0);
    for (const id of ids) last = await model.transformer.forward([id], 1, single);
    let maxDiff = 0;
    for (let i = 0; i < last.length; i++) maxDiff = Math.max(maxDiff, Math.abs(last[i] - chunked[i]));
    assert.ok(maxDiff < 1e-3, `max logit difference ${maxDiff}`);
  } finally {
    await model.close();
  }
});

test("stories260K: a seeded sampled generation is reproducible", async () => {
  const model = await loadModel(STORIES_260K);
  try {
    const prompt = model.tokenizer.encode("Once upon a time");
    const sampler = { temperature: 0.9, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1, repeatLastN: 64, seed: 1234 };
    const a = await generate(model, prompt, { maxTokens: 30, sampler });
    const b = await generate(model, prompt, { maxTokens: 30, sampler });
    assert.deepEqual(a.tokens, b.tokens);
    assert.ok(a.text.length > 0);
  } finally {
    await model.close();
  }
});

test("stories260K: a prompt of over 64 tokens (llama.cpp's tiled attention) still matches llama.cpp", async () => {
  const model = await loadModel(STORIES_260K);
  const ref = await LlamaCppReference.open(STORIES_260K, { threads: 1, contextSize: 256 });
  try {
    const text = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " +
      "One day, she saw a big, red ball. She wanted to play with it, but it was too high. Lily asked her mom to help her. " +
      "Her mom said, \"Let's go to the park and play with the ball.\"";
    const prompt = model.tokenizer.encode(text);
    assert.ok(prompt.length >= 64, `prompt has ${prompt.length} tokens`);
    assert.deepEqual(prompt, ref.tokenize(text, true));
    const ours = await generate(model, prompt, { maxTokens: 40, sampler: GREEDY, contextLength: 256 });
    const theirs = await ref.greedy(prompt, 40);
    assert.deepEqual(ours.tokens, theirs.tokens.slice(0, ours.tokens.length));
    assert.ok(ours.tokens.length > 0);
  } finally {
    await ref.close();
    await model.close();
  }
});
