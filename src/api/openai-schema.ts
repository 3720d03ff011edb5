// The request bodies of POST /v1/chat/completions and /v1/completions, as OpenAI defines them (the
// fields Tessera acts on; others that clients send, such as `user` or `presence_penalty`, are accepted
// and ignored), plus llama.cpp-style sampling extensions: top_k, min_p, repeat_penalty.
import { z } from "zod";
import type { SamplerOptions } from "../engine/sampler.js";
import type { ChatMessage } from "../tokenizer/chat.js";

const TextPart = z.object({ type: z.literal("text"), text: z.string() });

const Message = z.object({
  role: z.enum(["system", "user", "assistant", "developer", "tool"]),
  content: z.union([z.string(), z.array(TextPart), z.null()]),
});

/** OpenAI allows one stop string or up to four. */
const Stop = z.union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).max(4)]);

const Common = {
  model: z.string().min(1).max(1024),
  max_tokens: z.number().int().min(0).max(1 << 20).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).max(1 << 20).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repeat_penalty: z.number().min(0).max(100).nullish(),
  // Clients send any 64-bit integer; the sampler's generator takes 32 bits (see samplerOf).
  seed: z.number().int().nullish(),
  stop: Stop.nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.literal(1, { message: "only n = 1 is supported" }).nullish(),
};

export const ChatCompletionBody = z.object({
  ...Common,
  max_completion_tokens: z.number().int().min(0).max(1 << 20).nullish(),
  messages: z.array(Message).min(1).max(1024),
});

/** A prompt is a string, or (as OpenAI also allows) a list holding exactly one string. */
export const CompletionBody = z.object({
  ...Common,
  prompt: z.union([z.string().max(4 * 1024 * 1024), z.array(z.string().max(4 * 1024 * 1024)).length(1)]),
});

export type ChatCompletionRequest = z.infer<typeof ChatCompletionBody>;
export type CompletionRequest = z.infer<typeof CompletionBody>;
type Sampling = Pick<CompletionRequest, "temperature" | "top_p" | "top_k" | "min_p" | "repeat_penalty" | "seed">;

/** OpenAI's defaults are temperature 1 and top_p 1; top_p 0 keeps only the likeliest token, i.e. greedy. */
export function samplerOf(b: Sampling): SamplerOptions {
  const topP = b.top_p ?? 1;
  return {
    temperature: topP === 0 ? 0 : (b.temperature ?? 1),
    topK: b.top_k ?? 0,
    topP: topP === 0 ? 1 : topP,
    minP: b.min_p ?? 0,
    repeatPenalty: b.repeat_penalty ?? 1,
    repeatLastN: 64,
    seed: b.seed === null || b.seed === undefined ? Math.floor(Math.random() * 0x100000000) : ((b.seed % 0x100000000) + 0x100000000) % 0x100000000,
  };
}

export function stopsOf(b: Pick<CompletionRequest, "stop">): string[] {
  if (b.stop === null || b.stop === undefined) return [];
  return typeof b.stop === "string" ? [b.stop] : [...b.stop];
}

/**
 * Messages as the chat template sees them: text parts joined, and `developer` (OpenAI's newer name
 * for the system role) passed as `system`, which is what the templates in GGUF files know.
 */
export function chatMessages(b: ChatCompletionRequest): ChatMessage[] {
  return b.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: m.content === null ? "" : typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join(""),
  }));
}
