// How a node asks an instance's head to generate: one stream per request. The requester sends one
// generate frame; the head answers with events (start, tokens, then done or error). Closing the
// stream early cancels the generation.
import { z } from "zod";
import { InstanceIdSchema } from "../cluster/bounded.js";
import { SamplerOptionsSchema } from "../shard/protocol.js";

export const INFER_PROTOCOL = "/tessera/infer/1.0.0";

const MAX_TEXT = 4 * 1024 * 1024;

export const ChatMessageSchema = z.strictObject({ role: z.string().min(1).max(64), content: z.string().max(MAX_TEXT) });

export const PromptSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("text"), text: z.string().max(MAX_TEXT) }),
  z.strictObject({ kind: z.literal("chat"), messages: z.array(ChatMessageSchema).min(1).max(1024) }),
]);

export const GenerateRequestSchema = z.strictObject({
  prompt: PromptSchema,
  maxTokens: z.number().int().min(0).max(1 << 20),
  sampler: SamplerOptionsSchema,
  resume: z.array(z.number().int().min(0).max(0x7fffffff)).max(1 << 20).optional(),
});

export const InferRequestSchema = z.strictObject({ kind: z.literal("generate"), instanceId: InstanceIdSchema, request: GenerateRequestSchema });
export type InferRequest = z.infer<typeof InferRequestSchema>;

export const GenerateEventSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("start"), promptTokens: z.number().int().min(0) }),
  z.strictObject({ kind: z.literal("token"), token: z.number().int().min(0), text: z.string().max(MAX_TEXT) }),
  z.strictObject({ kind: z.literal("text"), text: z.string().max(MAX_TEXT) }),
  z.strictObject({ kind: z.literal("done"), finishReason: z.enum(["stop", "length"]), promptTokens: z.number().int().min(0), completionTokens: z.number().int().min(0) }),
  z.strictObject({ kind: z.literal("error"), message: z.string().max(4096), recoverable: z.boolean().optional() }),
]);

export const INFER_LIMITS = { maxHeaderBytes: 16 * 1024 * 1024, maxPayloadBytes: 0 } as const;
