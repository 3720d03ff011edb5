// `node dist/bench/gpu.js --model FILE [--gpu vulkan|cuda] [--decode 64]`: on a machine with a GPU,
// decode and prefill tok/s of our WebGPU backend against llama.cpp (node-llama-cpp's prebuilt GPU build,
// every layer offloaded) on the same model file and prompt, in one run. Prints one JSON object.
import { parseArgs } from "node:util";
import { WebGpuBackend } from "../engine/backends/webgpu/index.js";
import { generate, loadModel } from "../engine/generate.js";
import { GREEDY_SAMPLER } from "../engine/sampler.js";
import { LlamaCppReference, type ReferenceGpu } from "../reference/llama-cpp.js";

const PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman who";

async function ours(path: string, decode: number): Promise<{ prefill: number; decode: number; tokens: number[]; adapter: string }> {
  const backend = await WebGpuBackend.create();
  try {
    const model = await loadModel(path, backend);
    const ids = model.tokenizer.encode(PROMPT, { addSpecial: true, parseSpecial: false });
    const run = async () => generate(model, ids, { maxTokens: decode + 1, sampler: GREEDY_SAMPLER, contextLength: 1024 });
    await run();
    const r = await run();
    return { prefill: r.timings.prefillTokS, decode: r.timings.decodeTokS, tokens: [...r.tokens], adapter: backend.description };
  } finally {
    await backend.dispose();
  }
}

async function reference(path: string, gpu: ReferenceGpu, decode: number): Promise<{ prefill: number; decode: number; tokens: number[] }> {
  const ref = await LlamaCppReference.open(path, { threads: 4, contextSize: 1024, gpu });
  try {
    const ids = ref.tokenize(PROMPT, true);
    await ref.greedy(ids, decode + 1);
    const r = await ref.greedy(ids, decode + 1);
    return { prefill: ids.length / (r.prefillMs / 1000), decode: decode / (r.decodeMs / 1000), tokens: r.tokens };
  } finally {
    await ref.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: "string" }, gpu: { type: "string", default: "vulkan" }, decode: { type: "string", default: "64" } } });
  if (!values.model) throw new Error("--model FILE is required");
  const gpu = values.gpu === "cuda" ? "cuda" : "vulkan";
  const decode = Number(values.decode);
  const a = await ours(values.model, decode);
  const b = await reference(values.model, gpu, decode).catch((e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }));
  const out: Record<string, unknown> = { bench: "gpu", model: values.model, adapter: a.adapter, tessera_webgpu: { prefill_tok_s: a.prefill, decode_tok_s: a.decode } };
  if ("error" in b) out["llama_cpp"] = { gpu, error: b.error };
  else {
    const agree = a.tokens.findIndex((t, i) => t !== b.tokens[i]);
    Object.assign(out, {
      llama_cpp: { gpu, prefill_tok_s: b.prefill, decode_tok_s: b.decode },
      decode_ratio: a.decode / b.decode,
      prefill_ratio: a.prefill / b.prefill,
      greedy_tokens_equal_until: agree < 0 ? null : agree,
    });
  }
  process.stdout.write(JSON.stringify(out, null, 2) + "\n");
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:gpu: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
