// What a /join page and the node serving it say over their WebSocket, validated with zod on both ends
// (the node trusts nothing a page sends: a hostile page must not be able to crash it). Hidden states
// travel as the frame payload (frame-codec.ts); headers only say how many values each output holds.
import { z } from "zod";
import { IdSchema, InstanceIdSchema, TextSchema } from "../cluster/bounded.js";
import { SequenceIdSchema, SequenceOpenSchema } from "../shard/protocol.js";

export const JOIN_SOCKET_PATH = "/join/socket";
/**
 * The close code (application range 4000–4999) a node sends a page whose device connected again on
 * another socket (a second tab with the same stored secret): that page stops instead of reconnecting.
 */
export const REPLACED_CLOSE_CODE = 4001;
/** Header bytes a page may send in one frame; step headers and profiles are far smaller. */
export const MAX_PAGE_HEADER_BYTES = 256 * 1024;
/** Largest frame a page may send: a prompt chunk's hidden states at most (16k tokens × 4k dim × 4 bytes). */
export const MAX_PAGE_FRAME_BYTES = 256 * 1024 * 1024;

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Rate = z.number().finite().min(0).max(1e15);

/** The page's GPU as WebGPU describes it (the browser decides how much it reveals). */
export const PageAdapterSchema = z.strictObject({
  vendor: TextSchema,
  architecture: TextSchema,
  device: TextSchema,
  description: TextSchema,
  isFallbackAdapter: z.boolean(),
  kind: z.enum(["discrete", "integrated", "cpu"]),
  limits: z.strictObject({
    maxStorageBufferBindingSize: Count,
    maxBufferSize: Count,
    maxComputeWorkgroupStorageSize: Count,
    maxComputeInvocationsPerWorkgroup: Count,
    maxComputeWorkgroupsPerDimension: Count,
  }),
  features: z.strictObject({ shaderF16: z.boolean(), subgroups: z.boolean() }),
});

export const BatterySchema = z.strictObject({ percent: z.number().min(0).max(100), charging: z.boolean() });

export const PageProfileSchema = z.strictObject({
  adapter: PageAdapterSchema,
  /** Measured Q8_0 matvec rate on the page's WebGPU, weight bytes per second. */
  q8_0BytesPerSec: Rate.positive(),
  /** navigator.deviceMemory (GiB, rounded by the browser) when it says. */
  deviceMemoryGiB: z.number().min(0).max(1 << 20).optional(),
  battery: BatterySchema.optional(),
  userAgent: TextSchema,
});
export type PageProfile = z.infer<typeof PageProfileSchema>;

/** A step for the page's stage; `input` is token ids on a first stage, else the payload's hidden states. */
export const PageStepSchema = z.strictObject({
  seq: SequenceIdSchema,
  pos: z.number().int().min(0).max(1 << 20),
  nTok: z.number().int().min(1).max(1 << 14),
  sample: z.boolean(),
  open: SequenceOpenSchema.optional(),
  tokens: z.array(z.number().int().min(0).max(0x7fffffff)).max(1 << 14).optional(),
});

export const PageOutputSchema = z.discriminatedUnion("kind", [
  z.strictObject({ seq: SequenceIdSchema, kind: z.literal("hidden"), values: z.number().int().min(0).max(1 << 28) }),
  z.strictObject({ seq: SequenceIdSchema, kind: z.literal("token"), token: z.number().int().min(0).max(0x7fffffff), pos: z.number().int().min(0).max(1 << 20) }),
  z.strictObject({ seq: SequenceIdSchema, kind: z.literal("none") }),
  z.strictObject({ seq: SequenceIdSchema, kind: z.literal("error"), message: z.string().max(1024) }),
]);
export type PageOutput = z.infer<typeof PageOutputSchema>;

/** Page → node. */
export const PageMessageSchema = z.discriminatedUnion("kind", [
  /** First message: the cluster key from the join link and the page's own secret (its id derives from it). */
  z.strictObject({ kind: z.literal("hello"), key: z.string().max(512), secret: z.string().regex(/^[0-9a-f]{32,128}$/), name: TextSchema.min(1), profile: PageProfileSchema }),
  z.strictObject({ kind: z.literal("heartbeat"), battery: BatterySchema.optional() }),
  z.strictObject({ kind: z.literal("loaded"), instanceId: InstanceIdSchema, weightBytes: Count }),
  z.strictObject({ kind: z.literal("load-failed"), instanceId: InstanceIdSchema, message: z.string().max(1024) }),
  z.strictObject({ kind: z.literal("ran"), instanceId: InstanceIdSchema, id: Count, outputs: z.array(PageOutputSchema).max(1024) }),
  z.strictObject({ kind: z.literal("leave") }),
]);
export type PageMessage = z.infer<typeof PageMessageSchema>;

/** Node → page. */
export const NodeMessageSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("welcome"), deviceId: IdSchema, nodeId: IdSchema, heartbeatMs: z.number().int().min(10).max(60_000) }),
  z.strictObject({ kind: z.literal("load"), instanceId: InstanceIdSchema, model: TextSchema, start: z.number().int().min(0), end: z.number().int().min(1) }),
  z.strictObject({ kind: z.literal("unload"), instanceId: InstanceIdSchema }),
  z.strictObject({ kind: z.literal("run"), instanceId: InstanceIdSchema, id: Count, steps: z.array(PageStepSchema).min(1).max(1024) }),
  z.strictObject({ kind: z.literal("free"), instanceId: InstanceIdSchema, seq: SequenceIdSchema }),
  z.strictObject({ kind: z.literal("refused"), message: z.string().max(1024) }),
  /** Every heartbeat period while the node vouches for the page: lets a page notice a node gone without a TCP close. */
  z.strictObject({ kind: z.literal("beat") }),
]);
export type NodeMessage = z.infer<typeof NodeMessageSchema>;
