// What pipeline stages say to each other. Each link is one stream from a stage to the next (the last
// stage's link leads back to the head, stage 0, and carries sampled tokens). A link opens with a hello
// naming the instance and the sender's stage; every other frame is about one sequence. Hidden states
// travel as the frame payload in f32 (exact); headers are JSON and validated here.
import { z } from "zod";
import { IdSchema, InstanceIdSchema, TextSchema } from "../cluster/bounded.js";

export const PIPELINE_PROTOCOL = "/tessera/pipeline/1.0.0";

/** Largest context and batch a frame may describe; a 1M-token prompt is far beyond any model here. */
const MAX_POSITION = 1 << 20;
const MAX_CHUNK = 1 << 14;

export const SamplerOptionsSchema = z.strictObject({
  temperature: z.number().min(0).max(100),
  topK: z.number().int().min(0).max(1 << 20),
  topP: z.number().min(0).max(1),
  minP: z.number().min(0).max(1),
  repeatPenalty: z.number().min(0).max(100),
  repeatLastN: z.number().int().min(0).max(MAX_POSITION),
  seed: z.number().int().min(0).max(0xffffffff),
});

export const SequenceIdSchema = IdSchema;

/** Sent with a sequence's first step; only the last stage uses it (to sample), the others pass it on. */
export const SequenceOpenSchema = z.strictObject({
  /** Positions the sequence may reach: every stage sizes its KV cache to it. */
  capacity: z.number().int().min(1).max(MAX_POSITION),
  sampler: SamplerOptionsSchema,
  /** The prompt's token ids: the repetition penalty looks back over them. */
  history: z.array(z.number().int().min(0).max(0x7fffffff)).max(MAX_POSITION),
});
export type SequenceOpen = z.infer<typeof SequenceOpenSchema>;

export const HelloSchema = z.strictObject({ kind: z.literal("hello"), instanceId: InstanceIdSchema, stage: z.number().int().min(0).max(63) });

/** nTok hidden states at positions [pos, pos + nTok); payload: nTok × dim f32. */
export const StepSchema = z.strictObject({
  kind: z.literal("step"),
  seq: SequenceIdSchema,
  pos: z.number().int().min(0).max(MAX_POSITION),
  nTok: z.number().int().min(1).max(MAX_CHUNK),
  /** The last stage samples after this step (the end of the prompt, or a decode step). */
  sample: z.boolean(),
  open: SequenceOpenSchema.optional(),
});

/** The last stage's sampled token for position pos, on its way back to the head. */
export const TokenSchema = z.strictObject({ kind: z.literal("token"), seq: SequenceIdSchema, pos: z.number().int().min(0).max(MAX_POSITION), token: z.number().int().min(0).max(0x7fffffff) });
/** The sequence is over (finished or cancelled): every stage drops its cache. */
export const FreeSchema = z.strictObject({ kind: z.literal("free"), seq: SequenceIdSchema });
/** A stage could not process the sequence; passed along the ring to the head, which fails it. */
/** recoverable: the stage itself died (not the request's fault), so the request may resume on a replacement. */
export const StageErrorSchema = z.strictObject({ kind: z.literal("error"), seq: SequenceIdSchema, message: TextSchema, recoverable: z.boolean().optional() });

export const PipelineFrameSchema = z.discriminatedUnion("kind", [HelloSchema, StepSchema, TokenSchema, FreeSchema, StageErrorSchema]);
export type PipelineFrame = z.infer<typeof PipelineFrameSchema>;
export type StepFrame = z.infer<typeof StepSchema>;

export const PIPELINE_LIMITS = { maxHeaderBytes: 8 * 1024 * 1024, maxPayloadBytes: 256 * 1024 * 1024 } as const;
