// stories260K on the WebGPU backend: the greedy text of ../shared/models/SOURCE.md token for token,
// through the API and through `tessera generate --backend webgpu`, and logits close to the CPU backend's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { STORIES_260K, stories260KExpectedText, TESSERA_BIN } from "../../../testing/paths.js";
import { generate, loadModel } from "../../generate.js";
import { openWebGpu } from "./test-support.js";
import { GREEDY_SAMPLER } from "../../sampler.js";

const GREEDY = GREEDY_SAMPLER;

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test("stories260K on WebGPU: greedy 40 tokens are SOURCE.md's text and the CPU backend's tokens", async () => {
  const backend = await openWebGpu();
  const onGpu = await loadModel(STORIES_260K, backend);
  const onCpu = await loadModel(STORIES_260K);
  try {
    const prompt = onGpu.tokenizer.encode("Once upon a time");
    const ours = await generate(onGpu, prompt, { maxTokens: 40, sampler: GREEDY });
    const cpu = await generate(onCpu, prompt, { maxTokens: 40, sampler: GREEDY });
    assert.equal(ours.tokens.length, 40);
    assert.deepEqual(ours.tokens, cpu.tokens);
    assert.equal("Once upon a time" + ours.text, stories260KExpectedText());

    // Prompt logits: within 1e-2 of the CPU backend's, whose attention keeps its value sums in f16 as
    // llama.cpp's CPU flash attention does (this kernel sums in f32); these logits span about -10 to 18.
    const a = await onGpu.transformer.forward(prompt, prompt.length, onGpu.transformer.newSequence(64));
    const b = await onCpu.transformer.forward(prompt, prompt.length, onCpu.transformer.newSequence(64));
    assert.ok(maxAbsDiff(a, b) < 1e-2, `max logit difference ${maxAbsDiff(a, b)}`);
  } finally {
    await onCpu.close();
    await onGpu.close();
    await backend.dispose();
  }
});

test("stories260K on WebGPU: chunked prefill, token-by-token decode and a batched step agree", async () => {
  const backend = await openWebGpu();
  const model = await loadModel(STORIES_260K, backend);
  try {
    const t = model.transformer;
    const ids = model.tokenizer.encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.");
    const chunked = await t.forward(ids, ids.length, t.newSequence(128));
    const single = t.newSequence(128);
    let last: Float32Array = new Float32Array(0);
    for (const id of ids) last = await t.forward([id], 1, single);
    assert.ok(maxAbsDiff(last, chunked) < 1e-3, `chunked vs single: ${maxAbsDiff(last, chunked)}`);

    // Two sequences stepped together give each one's own logits (per-row attention on the device cache).
    const other = t.newSequence(128);
    await t.forward(ids.slice(0, 5), 5, other);
    const [x, y] = await t.forwardBatch([{ input: 300, seq: single }, { input: 301, seq: other }]);
    const aloneSingle = t.newSequence(128);
    await t.forward(ids, ids.length, aloneSingle);
    const alone = await t.forward([300], 1, aloneSingle);
    const otherAlone = t.newSequence(128);
    await t.forward(ids.slice(0, 5), 5, otherAlone);
    const alone2 = await t.forward([301], 1, otherAlone);
    assert.ok(maxAbsDiff(x, alone) < 1e-3, `batched row 0: ${maxAbsDiff(x, alone)}`);
    assert.ok(maxAbsDiff(y, alone2) < 1e-5, `batched row 1: ${maxAbsDiff(y, alone2)}`);
  } finally {
    await model.close();
    await backend.dispose();
  }
});

test("`tessera generate --backend webgpu` prints SOURCE.md's greedy text and exits", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [TESSERA_BIN, "generate", "--backend", "webgpu", "--model", STORIES_260K, "--prompt", "Once upon a time", "--max-tokens", "40", "--temperature", "0"],
    { timeout: 120_000 },
  );
  assert.equal(stdout.trim(), stories260KExpectedText());
});
