// The head of a pipeline (stage 0's node) owns each sequence: it turns the request into prompt tokens,
// feeds the prompt in chunks, receives every sampled token back from the last stage, decides when to
// stop, streams text to the requester and frees the sequence along the ring. Because the tokens so far
// live here, a sequence could be replayed on a new placement (recovery is a later issue).
import { randomUUID } from "node:crypto";
import { PREFILL_CHUNK } from "../engine/generate.js";
import type { SamplerOptions } from "../engine/sampler.js";
import type { ModelHeader } from "../shard/shard.js";
import type { SequenceOpen } from "../shard/protocol.js";
import { renderChat, type ChatMessage } from "../tokenizer/chat.js";
import { StreamDecoder } from "../tokenizer/stream.js";

export type PromptInput = { readonly kind: "text"; readonly text: string } | { readonly kind: "chat"; readonly messages: readonly ChatMessage[] };

export interface GenerateRequest {
  readonly prompt: PromptInput;
  /** Tokens to generate in all, counting any `resume` tokens. */
  readonly maxTokens: number;
  readonly sampler: SamplerOptions;
  /**
   * Tokens this request already generated on an instance that lost a stage: they are fed back after the
   * prompt and generation continues from there (greedy output continues exactly; see REPLAY_CHUNK).
   */
  readonly resume?: readonly number[];
}

export type FinishReason = "stop" | "length";

export type GenerateEvent =
  | { readonly kind: "start"; readonly promptTokens: number }
  | { readonly kind: "token"; readonly token: number; readonly text: string }
  /** Text held back for an incomplete character, released at the end. */
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "done"; readonly finishReason: FinishReason; readonly promptTokens: number; readonly completionTokens: number }
  /** recoverable: a stage was lost, and the request may resume on a replacement instance. */
  | { readonly kind: "error"; readonly message: string; readonly recoverable?: boolean };

export type GenerateSink = (event: GenerateEvent) => void;

/** What the head needs from its runner: its own stage's queue and the ring's free message. */
export interface HeadPipeline {
  header(): ModelHeader;
  /** Queues prompt or decode tokens for stage 0. */
  enqueueTokens(seq: string, pos: number, tokens: readonly number[], sample: boolean, open?: SequenceOpen): void;
  /** Frees the sequence on every stage. */
  free(seq: string): void;
}

interface HeadSequence {
  readonly id: string;
  readonly promptTokens: number;
  readonly capacity: number;
  readonly maxTokens: number;
  readonly tokens: number[];
  readonly decoder: StreamDecoder;
  readonly sink: GenerateSink;
  watchdog?: NodeJS.Timeout;
}

/**
 * Resumed tokens are fed in chunks smaller than the 64 rows from which attention switches to its tiled
 * path: every row then rounds exactly as it did when it was decoded, so greedy output carries on
 * exactly where it stopped.
 */
export const REPLAY_CHUNK = 32;

export class GenerationError extends Error {
  override readonly name = "GenerationError";
}

export class Head {
  private readonly sequences = new Map<string, HeadSequence>();

  constructor(
    private readonly pipeline: HeadPipeline,
    /** Longest wait for the next token before the sequence fails (a stage hung or a link is stuck). */
    private readonly stepTimeoutMs: number,
  ) {}

  get active(): number {
    return this.sequences.size;
  }

  /** Prompt token ids for a request, as `tessera generate` makes them. Throws GenerationError. */
  promptIds(prompt: PromptInput): number[] {
    const { tokenizer, chatTemplate } = this.pipeline.header();
    let text: string;
    let parseSpecial = false;
    if (prompt.kind === "chat") {
      const bos = tokenizer.bos !== undefined ? tokenizer.tokenText(tokenizer.bos) : "";
      const eos = tokenizer.eos !== undefined ? tokenizer.tokenText(tokenizer.eos) : "";
      text = renderChat(chatTemplate, prompt.messages, { bosToken: bos, eosToken: eos, addGenerationPrompt: true });
      parseSpecial = true;
    } else {
      text = prompt.text;
    }
    const ids = tokenizer.encode(text, { addSpecial: true, parseSpecial });
    if (ids.length === 0) throw new GenerationError("the prompt encodes to no tokens");
    return ids;
  }

  /** Starts a sequence; events go to sink until a done or error. Returns the sequence id (for cancel). */
  start(request: GenerateRequest, sink: GenerateSink): string {
    const promptIds = this.promptIds(request.prompt);
    const resume = request.resume ?? [];
    const ids = [...promptIds, ...resume];
    const context = this.pipeline.header().config.contextLength;
    if (ids.length >= context) throw new GenerationError(`the prompt's ${ids.length} tokens do not fit the ${context}-token context`);
    const remaining = Math.max(0, request.maxTokens - resume.length);
    // Every stage sizes its KV cache to what this request can reach, not to the whole context.
    const capacity = Math.min(context, ids.length + remaining);
    const id = randomUUID();
    const decoder = new StreamDecoder(this.pipeline.header().tokenizer);
    // Text of resumed tokens went out before; the decoder only needs their bytes (a character may be split).
    for (const t of resume) decoder.push(t);
    const seq: HeadSequence = { id, promptTokens: ids.length, capacity, maxTokens: remaining, tokens: [], decoder, sink };
    this.sequences.set(id, seq);
    sink({ kind: "start", promptTokens: promptIds.length });
    if (remaining === 0) {
      this.finish(seq, "length");
      return id;
    }
    const open: SequenceOpen = { capacity, sampler: request.sampler, history: ids };
    // The prompt goes in chunks as in one process; chunks go out back to back, so stage 2 works on the
    // first while stage 1 computes the second. Resumed tokens follow in REPLAY_CHUNKs.
    const chunks: number[][] = [];
    for (let i = 0; i < promptIds.length; i += PREFILL_CHUNK) chunks.push(promptIds.slice(i, i + PREFILL_CHUNK));
    for (let i = 0; i < resume.length; i += REPLAY_CHUNK) chunks.push(resume.slice(i, i + REPLAY_CHUNK));
    let pos = 0;
    chunks.forEach((chunk, k) => {
      this.pipeline.enqueueTokens(id, pos, chunk, k === chunks.length - 1, k === 0 ? open : undefined);
      pos += chunk.length;
    });
    this.arm(seq);
    return id;
  }

  /** A sampled token for position pos arrived from the last stage. */
  onToken(seqId: string, pos: number, token: number): void {
    const seq = this.sequences.get(seqId);
    if (!seq) return; // finished or cancelled while the token was in flight
    if (pos !== seq.promptTokens + seq.tokens.length) {
      this.fail(seqId, `the last stage sent a token for position ${pos}, expected ${seq.promptTokens + seq.tokens.length}`);
      return;
    }
    const { tokenizer } = this.pipeline.header();
    if (tokenizer.isEog(token)) return this.finish(seq, "stop");
    if (token >= tokenizer.vocabSize) {
      this.fail(seqId, `the last stage sent token ${token}, outside the ${tokenizer.vocabSize}-token vocabulary`);
      return;
    }
    seq.tokens.push(token);
    seq.sink({ kind: "token", token, text: seq.decoder.push(token) });
    if (seq.tokens.length >= seq.maxTokens || pos + 1 >= seq.capacity) return this.finish(seq, "length");
    this.pipeline.enqueueTokens(seqId, pos, [token], true);
    this.arm(seq);
  }

  /** Ends a sequence with an error (a stage failed, a link was lost, or the watchdog fired). */
  fail(seqId: string, message: string, recoverable = false): void {
    const seq = this.sequences.get(seqId);
    if (!seq) return;
    this.end(seq);
    seq.sink(recoverable ? { kind: "error", message, recoverable } : { kind: "error", message });
  }

  failAll(message: string, recoverable = false): void {
    for (const id of [...this.sequences.keys()]) this.fail(id, message, recoverable);
  }

  /** The requester went away: stop generating and free the pipeline. */
  cancel(seqId: string): void {
    const seq = this.sequences.get(seqId);
    if (seq) this.end(seq);
  }

  private finish(seq: HeadSequence, reason: FinishReason): void {
    const tail = seq.decoder.flush();
    if (tail) seq.sink({ kind: "text", text: tail });
    this.end(seq);
    seq.sink({ kind: "done", finishReason: reason, promptTokens: seq.promptTokens, completionTokens: seq.tokens.length });
  }

  private end(seq: HeadSequence): void {
    clearTimeout(seq.watchdog);
    this.sequences.delete(seq.id);
    this.pipeline.free(seq.id);
  }

  private arm(seq: HeadSequence): void {
    clearTimeout(seq.watchdog);
    seq.watchdog = setTimeout(() => this.fail(seq.id, `no token from the pipeline within ${this.stepTimeoutMs} ms: a stage is stuck or unreachable`), this.stepTimeoutMs);
    seq.watchdog.unref();
  }
}
