// A model ready to generate on one device: file + config + tokenizer + forward pass, and the
// token loop that feeds prompt chunks in, samples, and streams text out.
import { openGguf, type GgufFile } from "../gguf/reader.js";
import { tokenizerFromGguf } from "../tokenizer/index.js";
import { StreamDecoder } from "../tokenizer/stream.js";
import type { Tokenizer } from "../tokenizer/types.js";
import type { Backend } from "./backend.js";
import { CpuBackend } from "./backends/cpu/index.js";
import { configFromMetadata, type ModelConfig } from "./config.js";
import { loadTransformer } from "./load.js";
import type { Sequence, Transformer } from "./model.js";
import { Sampler, type SamplerOptions } from "./sampler.js";

/**
 * Prompt tokens per forward pass during prefill: each weight is read once per chunk. 512 is
 * llama.cpp's default micro-batch, and its attention rounds differently for batches of 64 or more, so
 * the same chunking keeps outputs identical.
 */
export const PREFILL_CHUNK = 512;

export interface LoadedModel {
  readonly path: string;
  readonly file: GgufFile;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly transformer: Transformer;
  close(): Promise<void>;
}

/**
 * Opens a GGUF model and loads it onto `backend` (a CPU backend by default). close() releases the
 * file, and the backend too when loadModel created it.
 */
export async function loadModel(path: string, backend?: Backend): Promise<LoadedModel> {
  const target = backend ?? new CpuBackend();
  const release = async () => {
    if (!backend) await target.dispose?.();
  };
  const file = await openGguf(path);
  try {
    const md = file.header.metadata;
    const tokenizer = tokenizerFromGguf(md);
    const config = configFromMetadata(md, tokenizer.vocabSize);
    const transformer = await loadTransformer(file, config, target);
    return {
      path, file, config, tokenizer, transformer,
      close: async () => {
        await file.close();
        await release();
      },
    };
  } catch (e) {
    await file.close();
    await release();
    throw e;
  }
}

export interface GenerateOptions {
  readonly maxTokens: number;
  readonly sampler: SamplerOptions;
  /** Context window for this generation; the model's own by default. */
  readonly contextLength?: number;
  readonly signal?: AbortSignal;
}

export type StopReason = "length" | "eog" | "context" | "aborted";

export interface GenerationTimings {
  readonly prefillMs: number;
  readonly decodeMs: number;
  readonly prefillTokS: number;
  readonly decodeTokS: number;
}

export interface GenerationResult {
  readonly promptTokens: readonly number[];
  readonly tokens: readonly number[];
  readonly text: string;
  readonly stopReason: StopReason;
  readonly timings: GenerationTimings;
}

/** Feeds ids into the sequence in chunks and returns the logits after the last one. */
export async function prefill(transformer: Transformer, seq: Sequence, ids: readonly number[]): Promise<Float32Array> {
  if (ids.length === 0) throw new RangeError("cannot prefill an empty prompt");
  let logits: Float32Array = new Float32Array(0);
  for (let i = 0; i < ids.length; i += PREFILL_CHUNK) {
    const chunk = ids.slice(i, i + PREFILL_CHUNK);
    logits = await transformer.forward(chunk, chunk.length, seq);
  }
  return logits;
}

/**
 * Generates from prompt token ids, calling onText with newly completed text as tokens are sampled
 * (nothing while a multi-byte character is still incomplete).
 * Stops at maxTokens, an end-of-generation token (not emitted), a full context, or the signal.
 */
export async function generate(
  model: LoadedModel,
  promptIds: readonly number[],
  options: GenerateOptions,
  onText: (text: string) => void = () => {},
): Promise<GenerationResult> {
  const capacity = Math.min(options.contextLength ?? model.config.contextLength, model.config.contextLength);
  if (promptIds.length >= capacity) throw new RangeError(`prompt of ${promptIds.length} tokens does not fit the ${capacity}-token context`);
  const seq = model.transformer.newSequence(capacity);
  const sampler = new Sampler(options.sampler);
  const decoder = new StreamDecoder(model.tokenizer);
  const history = [...promptIds];
  const tokens: number[] = [];
  let text = "";

  const t0 = performance.now();
  let logits = await prefill(model.transformer, seq, promptIds);
  const prefillMs = performance.now() - t0;

  let stopReason: StopReason = "length";
  let decodeMs = 0;
  let decodeSteps = 0;
  while (tokens.length < options.maxTokens) {
    if (options.signal?.aborted) {
      stopReason = "aborted";
      break;
    }
    const id = sampler.sample(logits, history);
    if (model.tokenizer.isEog(id)) {
      stopReason = "eog";
      break;
    }
    tokens.push(id);
    history.push(id);
    const piece = decoder.push(id);
    if (piece) {
      text += piece;
      onText(piece);
    }
    if (tokens.length >= options.maxTokens) break;
    if (seq.length >= capacity) {
      stopReason = "context";
      break;
    }
    const t1 = performance.now();
    logits = await model.transformer.forward([id], 1, seq);
    decodeMs += performance.now() - t1;
    decodeSteps++;
  }
  const tail = decoder.flush();
  if (tail) {
    text += tail;
    onText(tail);
  }
  return {
    promptTokens: promptIds,
    tokens,
    text,
    stopReason,
    timings: {
      prefillMs,
      decodeMs,
      prefillTokS: promptIds.length / (prefillMs / 1000),
      decodeTokS: decodeSteps > 0 ? decodeSteps / (decodeMs / 1000) : 0,
    },
  };
}
