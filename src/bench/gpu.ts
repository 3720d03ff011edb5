// `node dist/bench/gpu.js --model FILE [--gpu vulkan|cuda] [--decode 64] [--variants fused,unfused,every0]`:
// on a machine with a GPU, decode and prefill tok/s of our WebGPU backend against llama.cpp
// (node-llama-cpp's prebuilt GPU build, every layer offloaded) on the same model file and prompt, in one
// run. Variants of our backend (fused kernels or not, dispatches per submit) run one after another,
// each reporting its dispatches and submits per decoded token. Prints one JSON object.
import { parseArgs } from "node:util";
import { WebGpuBackend, type WebGpuBackendOptions } from "../engine/backends/webgpu/index.js";
import { generate, loadModel } from "../engine/generate.js";
import { GREEDY_SAMPLER } from "../engine/sampler.js";
import { LlamaCppReference, type ReferenceGpu } from "../reference/llama-cpp.js";

const PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman who";

const VARIANTS: Record<string, WebGpuBackendOptions> = {
  fused: {},
  unfused: { fuse: false },
  every0: { submitEvery: 0 },
  every8: { submitEvery: 8 },
  every32: { submitEvery: 32 },
  every64: { submitEvery: 64 },
};

interface OurRun {
  readonly prefill: number;
  readonly decode: number;
  readonly tokens: number[];
  readonly adapter: string;
  readonly dispatchesPerToken: number;
  readonly submitsPerToken: number;
}

async function ours(path: string, decode: number, options: WebGpuBackendOptions): Promise<OurRun> {
  const backend = await WebGpuBackend.create(options);
  try {
    const model = await loadModel(path, backend);
    const ids = model.tokenizer.encode(PROMPT, { addSpecial: true, parseSpecial: false });
    const run = async () => generate(model, ids, { maxTokens: decode + 1, sampler: GREEDY_SAMPLER, contextLength: 1024 });
    await run();
    const before = backend.counts;
    const r = await run();
    const after = backend.counts;
    // The timed run: one prefill and `decode` steps; a step's count is close to the average.
    const steps = decode + 1;
    return {
      prefill: r.timings.prefillTokS, decode: r.timings.decodeTokS, tokens: [...r.tokens], adapter: backend.description,
      dispatchesPerToken: (after.dispatches - before.dispatches) / steps, submitsPerToken: (after.submits - before.submits) / steps,
    };
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
  const { values } = parseArgs({
    options: { model: { type: "string" }, gpu: { type: "string", default: "vulkan" }, decode: { type: "string", default: "64" }, variants: { type: "string", default: "fused" } },
  });
  if (!values.model) throw new Error("--model FILE is required");
  const gpu = values.gpu === "cuda" ? "cuda" : "vulkan";
  const decode = Number(values.decode);
  const names = values.variants.split(",");
  for (const name of names) if (!VARIANTS[name]) throw new Error(`unknown variant ${name} (${Object.keys(VARIANTS).join(", ")})`);
  const runs: Record<string, OurRun> = {};
  for (const name of names) runs[name] = await ours(values.model, decode, VARIANTS[name]);
  const a = runs[names[0]];
  const b = await reference(values.model, gpu, decode).catch((e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }));
  const out: Record<string, unknown> = { bench: "gpu", model: values.model, adapter: a.adapter };
  for (const name of names) {
    const r = runs[name];
    out[`tessera_webgpu_${name}`] = { prefill_tok_s: r.prefill, decode_tok_s: r.decode, dispatches_per_token: r.dispatchesPerToken, submits_per_token: r.submitsPerToken };
  }
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
