// Decode speed of a real model at several matmul thread counts (the CPU backend's `threads`).
// Run: npm run build && node dist/engine/backends/cpu/bench-threads.js [MODEL.gguf] [THREADS ...]
// Default: bench-out/tinyllama-q8_0.gguf at 1 and 2 threads. Not a test: the figures depend on the
// machine and its load; each is the best of two generations of 8 greedy tokens after a 16-token prompt.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { generate, loadModel } from "../../generate.js";
import { CpuBackend } from "./index.js";
import { GREEDY_SAMPLER } from "../../sampler.js";

const DEFAULT_MODEL = fileURLToPath(new URL("../../../../bench-out/tinyllama-q8_0.gguf", import.meta.url));
const GREEDY = GREEDY_SAMPLER;
const PROMPT = "Once upon a time, in a small village at the edge of a great forest, there lived an old clockmaker who";

async function main(): Promise<void> {
  const [pathArg, ...threadArgs] = process.argv.slice(2);
  const path = pathArg ?? DEFAULT_MODEL;
  const counts = threadArgs.length ? threadArgs.map(Number) : [1, 2];
  if (!existsSync(path)) {
    console.log(`skipped: ${path} not found`);
    return;
  }
  for (const threads of counts) {
    const backend = new CpuBackend({ threads });
    const model = await loadModel(path, backend);
    try {
      const prompt = model.tokenizer.encode(PROMPT).slice(0, 16);
      let decode = 0, prefill = 0, tokens: readonly number[] = [];
      for (let run = 0; run < 2; run++) {
        const r = await generate(model, prompt, { maxTokens: 8, sampler: GREEDY, contextLength: 64 });
        decode = Math.max(decode, r.timings.decodeTokS);
        prefill = Math.max(prefill, r.timings.prefillTokS);
        tokens = r.tokens;
      }
      console.log(`threads ${threads}: decode ${decode.toFixed(2)} tok/s, prefill ${prefill.toFixed(1)} tok/s (${prompt.length}-token prompt; tokens ${tokens.join(" ")})`);
    } finally {
      await model.close();
      await backend.dispose();
    }
  }
}

await main();
