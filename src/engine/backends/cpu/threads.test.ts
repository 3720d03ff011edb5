// Multi-threaded matmuls give the same bits as one thread: the row split (pure), every wasm kernel
// at 1, 2 and 3 threads on odd row counts and sub-ranges, whole-model generation at 1 and 2 threads,
// dispose, and a process that never disposes still exiting.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { quantizeRow } from "../../../gguf/quants/quantize.js";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import { GgmlType, typeLayout, typeName } from "../../../gguf/types.js";
import { writeGguf } from "../../../gguf/writer.js";
import { randomModelSpec } from "../../../models/random-model.js";
import { STORIES_260K, tempDir } from "../../../testing/paths.js";
import { buildSyntheticVocab } from "../../../tokenizer/synth.js";
import { generate, loadModel } from "../../generate.js";
import { CpuBackend } from "./index.js";
import { prepareActivations } from "./kernels/prepared-activations.js";
import { ROW_ALIGN, chunkRows } from "./matmul-pool.js";
import { WasmKernels } from "./wasm-kernels.js";
import { GREEDY_SAMPLER } from "../../sampler.js";

const TYPES = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];
const GREEDY = GREEDY_SAMPLER;

test("chunks are aligned, about four per thread, and never empty", () => {
  for (const [r0, r1] of [[0, 13], [0, 37], [3, 35], [0, 2048], [0, 1], [0, 32000]]) {
    for (const threads of [1, 2, 3, 4, 7]) {
      const chunk = chunkRows(r0, r1, threads);
      assert.equal(chunk % ROW_ALIGN, 0, `[${r0}, ${r1}) on ${threads}: chunk ${chunk} is not aligned`);
      assert.ok(chunk >= ROW_ALIGN);
      const chunks = Math.ceil((r1 - r0) / chunk);
      assert.ok(chunks <= 4 * threads, `[${r0}, ${r1}) on ${threads}: ${chunks} chunks`);
    }
  }
  assert.equal(chunkRows(0, 2048, 2), 256);
  assert.equal(chunkRows(0, 37, 3), 8);
});

test("wasm matmuls at 2 and 3 threads equal 1 thread bit for bit", async () => {
  // minParallelWork 0: every call is split, however small.
  const pools = [1, 2, 3].map((threads) => WasmKernels.load({ threads, minParallelWork: 0 }));
  try {
    assert.deepEqual(pools.map((k) => k.threads), [1, 2, 3]);
    const rand = seededRandom(42);
    for (const type of TYPES) {
      const cols = 2 * typeLayout(type).blockSize;
      for (const rows of [13, 37]) {
        const w = quantizeRow(type, randomNormals(rand, rows * cols, 0.1));
        const ptrs = pools.map((k) => k.upload(type, w, rows, cols));
        for (const nTok of [1, 7]) {
          const act = prepareActivations(type, randomNormals(rand, nTok * cols), nTok, cols);
          for (const [r0, r1] of [[0, rows], [3, rows - 2]]) {
            const outs = pools.map((k, i) => {
              const y = new Float32Array(nTok * rows).fill(-1);
              k.matmul(type, ptrs[i], rows, cols, act, y, r0, r1);
              return y;
            });
            const what = `${typeName(type)} ${rows}x${cols} nTok=${nTok} rows [${r0}, ${r1})`;
            assert.ok(outs[0].some((v, i) => v !== -1 && v !== 0 && i % rows >= r0), `${what}: one thread wrote nothing`);
            assert.deepEqual(outs[1], outs[0], `${what}: 2 threads differ from 1`);
            assert.deepEqual(outs[2], outs[0], `${what}: 3 threads differ from 1`);
          }
        }
      }
    }
  } finally {
    await Promise.all(pools.map((k) => k.dispose()));
  }
});

test("after dispose, matmuls run on the calling thread with the same results", async () => {
  const k = WasmKernels.load({ threads: 2, minParallelWork: 0 });
  const rand = seededRandom(5);
  const rows = 37, cols = 256;
  const ptr = k.upload(GgmlType.Q4_K, quantizeRow(GgmlType.Q4_K, randomNormals(rand, rows * cols, 0.1)), rows, cols);
  const act = prepareActivations(GgmlType.Q4_K, randomNormals(rand, cols), 1, cols);
  const before = new Float32Array(rows);
  k.matmul(GgmlType.Q4_K, ptr, rows, cols, act, before);
  await k.dispose();
  await k.dispose();
  assert.equal(k.threads, 1);
  const after = new Float32Array(rows);
  k.matmul(GgmlType.Q4_K, ptr, rows, cols, act, after);
  assert.deepEqual(after, before);
});

/** Greedy tokens and the prompt's logits of the model at `path` on a backend with `threads` threads. */
async function run(path: string, threads: number, prompt: string): Promise<{ tokens: readonly number[]; logits: Float32Array }> {
  const backend = new CpuBackend({ threads, minParallelWork: 0 });
  const model = await loadModel(path, backend);
  try {
    const ids = model.tokenizer.encode(prompt);
    const seq = model.transformer.newSequence(128);
    const logits = await model.transformer.forward(ids, ids.length, seq);
    const { tokens } = await generate(model, ids, { maxTokens: 16, sampler: GREEDY, contextLength: 128 });
    return { tokens, logits };
  } finally {
    await model.close();
    await backend.dispose();
  }
}

const tmp = tempDir();
test.after(() => tmp.cleanup());

test("stories260K generates the same tokens at 1 and 2 threads", async () => {
  const one = await run(STORIES_260K, 1, "Once upon a time");
  const two = await run(STORIES_260K, 2, "Once upon a time");
  assert.equal(one.tokens.length, 16);
  assert.deepEqual(two.tokens, one.tokens);
  assert.deepEqual(two.logits, one.logits);
});

for (const type of [GgmlType.Q8_0, GgmlType.Q4_K]) {
  test(`a random ${typeName(type)} model generates the same tokens and logits at 1 and 2 threads`, async () => {
    const path = join(tmp.dir, `llama-${typeName(type)}.gguf`);
    const vocab = buildSyntheticVocab("spm", { size: 768, seed: 11 });
    await writeGguf(path, randomModelSpec({
      arch: "llama", type, dim: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, contextLength: 256, seed: 77, tokenizer: vocab,
    }));
    const prompt = "The quick brown fox jumps over the lazy dog.";
    const one = await run(path, 1, prompt);
    const two = await run(path, 2, prompt);
    assert.equal(one.tokens.length, 16);
    assert.deepEqual(two.tokens, one.tokens);
    assert.deepEqual(two.logits, one.logits);
  });
}

test("a process that never disposes a threaded backend still exits, with or without flags workers refuse", () => {
  const module = fileURLToPath(new URL("./wasm-kernels.js", import.meta.url));
  const types = fileURLToPath(new URL("../../../gguf/types.js", import.meta.url));
  const prep = fileURLToPath(new URL("./kernels/prepared-activations.js", import.meta.url));
  const script = `
    const { WasmKernels } = await import(${JSON.stringify(module)});
    const { GgmlType } = await import(${JSON.stringify(types)});
    const { prepareActivations } = await import(${JSON.stringify(prep)});
    const k = WasmKernels.load({ threads: 2, minParallelWork: 0 });
    const ptr = k.upload(GgmlType.Q8_0, new Uint8Array(34 * 16), 16, 32);
    const y = new Float32Array(16);
    k.matmul(GgmlType.Q8_0, ptr, 16, 32, prepareActivations(GgmlType.Q8_0, new Float32Array(32).fill(1), 1, 32), y);
    console.log("matmul done", y[15]);
  `;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
  assert.equal(result.signal, null, `the process was killed after 30 s: workers kept it alive (${result.stderr})`);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /matmul done 0/);
  // A node flag that workers refuse (--trace-gc is per process) must not break the threads.
  const traced = spawnSync(process.execPath, ["--trace-gc", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
  assert.equal(traced.status, 0, traced.stderr);
  assert.match(traced.stdout, /matmul done 0/);
});
