// `npm run bench:engine`: our prefill/decode speed against llama.cpp (node-llama-cpp) on the same
// file, same thread count, in the same run. Models are TinyLlama-1.1B-shaped random weights made by
// our own generator and cached under bench-out/. Prints one JSON object.
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { CpuBackend } from "../engine/backends/cpu/index.js";
import { loadModel, generate } from "../engine/generate.js";
import { GgmlType, typeName } from "../gguf/types.js";
import { LlamaCppReference } from "../reference/llama-cpp.js";
import { ensureModel, SHAPES } from "./bench-models.js";

interface Speed {
  prefill_tok_s: number;
  decode_tok_s: number;
}

function promptIds(vocab: number, bos: number | undefined, n: number): number[] {
  // A fixed pseudo-random prompt of ordinary tokens, identical for both engines.
  const ids: number[] = bos === undefined ? [] : [bos];
  let x = 12345;
  while (ids.length < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    ids.push(300 + (x % (vocab - 300)));
  }
  return ids;
}

async function ours(path: string, nPrompt: number, nDecode: number, threads: number): Promise<Speed & { tokens: number[]; prompt: number[] }> {
  const backend = new CpuBackend({ threads });
  const model = await loadModel(path, backend);
  try {
    const ids = promptIds(model.config.vocab, model.tokenizer.bos, nPrompt);
    const sampler = { temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 0, seed: 0 };
    const r = await generate(model, ids, { maxTokens: nDecode + 1, sampler, contextLength: nPrompt + nDecode + 8 });
    return { prefill_tok_s: r.timings.prefillTokS, decode_tok_s: r.timings.decodeTokS, tokens: [...r.tokens], prompt: ids };
  } finally {
    await model.close();
    await backend.dispose();
  }
}

async function llamaCpp(path: string, ids: number[], nDecode: number, threads: number): Promise<Speed & { tokens: number[] }> {
  const ref = await LlamaCppReference.open(path, { threads, contextSize: ids.length + nDecode + 8 });
  try {
    // One token more than we decode: the first comes from prefill, each later one is one decode step.
    const run = await ref.greedy(ids, nDecode + 1);
    return {
      prefill_tok_s: ids.length / (run.prefillMs / 1000),
      decode_tok_s: nDecode / (run.decodeMs / 1000),
      tokens: run.tokens,
    };
  } finally {
    await ref.close();
  }
}

/** Index of the first differing token, or null when the two runs agree throughout. */
function firstDifference(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? null : n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shape: { type: "string", default: "tinyllama" },
      types: { type: "string", default: "q8_0,q4_k" },
      // Both engines get the same count; comma-separated counts run one after the other.
      threads: { type: "string", default: "1" },
      prompt: { type: "string", default: "64" },
      decode: { type: "string", default: "16" },
      dir: { type: "string", default: "bench-out" },
    },
  });
  const shape = values.shape as keyof typeof SHAPES;
  if (!(shape in SHAPES)) throw new Error(`unknown shape ${shape}`);
  const threadCounts = values.threads.split(",").map(Number);
  if (threadCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`bad --threads ${values.threads}`);
  const nPrompt = Number(values.prompt);
  const nDecode = Number(values.decode);
  mkdirSync(values.dir, { recursive: true });
  const types = values.types.split(",").map((t) => ({ q8_0: GgmlType.Q8_0, q4_k: GgmlType.Q4_K, q4_0: GgmlType.Q4_0, q6_k: GgmlType.Q6_K, f16: GgmlType.F16 })[t]);
  const results = [];
  for (const type of types) {
    if (type === undefined) throw new Error(`unknown type in ${values.types}`);
    const path = await ensureModel(values.dir, shape, type);
    for (const threads of threadCounts) {
      const a = await ours(path, nPrompt, nDecode, threads);
      const b = await llamaCpp(path, a.prompt, nDecode, threads);
      results.push({
        model: `${shape}-${typeName(type)}`,
        threads,
        prompt_tokens: nPrompt,
        decode_tokens: nDecode,
        tessera: { prefill_tok_s: a.prefill_tok_s, decode_tok_s: a.decode_tok_s },
        llama_cpp: { prefill_tok_s: b.prefill_tok_s, decode_tok_s: b.decode_tok_s },
        ratio: { prefill: a.prefill_tok_s / b.prefill_tok_s, decode: a.decode_tok_s / b.decode_tok_s },
        // Random-weight models amplify last-bit arithmetic differences (see engine/parity.test.ts), so
        // greedy paths may part after a while; this says after how many tokens they did, if at all.
        greedy_tokens_equal_until: firstDifference(a.tokens, b.tokens.slice(0, a.tokens.length)),
      });
    }
  }
  process.stdout.write(JSON.stringify({ bench: "engine", node: process.version, results }, null, 2) + "\n");
}

main().catch((e) => {
  process.stderr.write(`bench:engine: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
