// `tessera generate`: one prompt, one device, text streamed to stdout.
import { CpuBackend } from "../engine/backends/cpu/index.js";
import { createBackend, isBackendChoice } from "../engine/backends/select.js";
import { loadModel, generate } from "../engine/generate.js";
import { DEFAULT_SAMPLER, type SamplerOptions } from "../engine/sampler.js";
import { renderChat, chatTemplateFromGguf } from "../tokenizer/chat.js";
import { defaultThreads } from "../devices/default-threads.js";
import { CliError, defaultModelPath, isNonNegativeInt, isPositiveInt, numberFlag, parseFlags, requireFile } from "./args.js";

export const GENERATE_USAGE = `tessera generate [--model FILE] [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-k K]
                 [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--threads N] [--ctx N] [--chat] [--json]
                 [--backend cpu|webgpu|auto] [--gpu N]`;

export async function generateCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    model: { type: "string" },
    prompt: { type: "string" },
    "max-tokens": { type: "string" },
    temperature: { type: "string" },
    "top-k": { type: "string" },
    "top-p": { type: "string" },
    "min-p": { type: "string" },
    "repeat-penalty": { type: "string" },
    seed: { type: "string" },
    threads: { type: "string" },
    ctx: { type: "string" },
    chat: { type: "boolean" },
    json: { type: "boolean" },
    backend: { type: "string" },
    gpu: { type: "string" },
  });
  const modelPath = requireFile(f.model ?? defaultModelPath(), "model");
  const prompt = f.prompt ?? "Once upon a time";
  const maxTokens = numberFlag(f["max-tokens"], "max-tokens", 128, isPositiveInt);
  const threads = numberFlag(f.threads, "threads", defaultThreads(), isPositiveInt);
  const sampler: SamplerOptions = {
    temperature: numberFlag(f.temperature, "temperature", DEFAULT_SAMPLER.temperature, (n) => n >= 0),
    topK: numberFlag(f["top-k"], "top-k", DEFAULT_SAMPLER.topK, isNonNegativeInt),
    topP: numberFlag(f["top-p"], "top-p", DEFAULT_SAMPLER.topP, (n) => n > 0 && n <= 1),
    minP: numberFlag(f["min-p"], "min-p", DEFAULT_SAMPLER.minP, (n) => n >= 0 && n <= 1),
    repeatPenalty: numberFlag(f["repeat-penalty"], "repeat-penalty", DEFAULT_SAMPLER.repeatPenalty, (n) => n > 0),
    repeatLastN: DEFAULT_SAMPLER.repeatLastN,
    seed: numberFlag(f.seed, "seed", Math.floor(Math.random() * 2 ** 32), (n) => isNonNegativeInt(n) && n < 2 ** 32),
  };

  const backendName = f.backend ?? "cpu";
  if (!isBackendChoice(backendName)) throw new CliError(`invalid value for --backend: ${JSON.stringify(backendName)} (cpu, webgpu or auto)`, 2);
  const gpu = f.gpu === undefined ? undefined : numberFlag(f.gpu, "gpu", 0, isNonNegativeInt);
  const backend = await createBackend({ backend: backendName, gpu, threads });
  let model;
  try {
    model = await loadModel(modelPath, backend);
  } catch (e) {
    await backend.dispose?.();
    throw e;
  }
  try {
    const contextLength = numberFlag(f.ctx, "ctx", Math.min(model.config.contextLength, 4096), isPositiveInt);
    let text = prompt;
    let parseSpecial = false;
    if (f.chat) {
      const template = chatTemplateFromGguf(model.file.header.metadata);
      const bos = model.tokenizer.bos !== undefined ? model.tokenizer.tokenText(model.tokenizer.bos) : "";
      const eos = model.tokenizer.eos !== undefined ? model.tokenizer.tokenText(model.tokenizer.eos) : "";
      text = renderChat(template, [{ role: "user", content: prompt }], { bosToken: bos, eosToken: eos, addGenerationPrompt: true });
      parseSpecial = true;
    }
    const promptIds = model.tokenizer.encode(text, { addSpecial: true, parseSpecial });
    if (promptIds.length === 0) throw new CliError("the prompt encodes to no tokens");
    const json = f.json === true;
    if (!json && !f.chat) process.stdout.write(prompt);
    const result = await generate(model, promptIds, { maxTokens, sampler, contextLength }, (piece) => {
      if (!json) process.stdout.write(piece);
    });
    if (json) {
      process.stdout.write(
        JSON.stringify({
          model: modelPath,
          prompt,
          prompt_tokens: result.promptTokens,
          tokens: result.tokens,
          text: result.text,
          stop_reason: result.stopReason,
          backend: backend.name,
          threads: backend instanceof CpuBackend ? backend.threads : undefined,
          timings: {
            prefill_ms: result.timings.prefillMs,
            decode_ms: result.timings.decodeMs,
            prefill_tok_s: result.timings.prefillTokS,
            decode_tok_s: result.timings.decodeTokS,
          },
        }) + "\n",
      );
    } else {
      process.stdout.write("\n");
      process.stderr.write(
        `[${result.promptTokens.length} prompt tokens at ${result.timings.prefillTokS.toFixed(1)} tok/s, ` +
          `${result.tokens.length} generated at ${result.timings.decodeTokS.toFixed(1)} tok/s, stop: ${result.stopReason}]\n`,
      );
    }
    return 0;
  } finally {
    await model.close();
    await backend.dispose?.();
  }
}
