// `/tessera/model-range/1.0.0`: a peer that holds a complete model serves its tensor manifest and byte
// ranges of the file. A stream carries any number of requests, answered one after another:
//   → { kind: "manifest", id, model }             ← { kind: "manifest", id } + manifest bytes
//   → { kind: "ranges", id, model, ranges }       ← { kind: "data", id, offset } + ≤ 1 MiB, …, { kind: "end", id, bytes }
//   either may instead get                        ← { kind: "error", id, code, message }
// `model` is a manifest or whole-file sha256; requests are capped in range count and total bytes so one
// request cannot tie a holder up for long, and bytes are streamed in bounded frames.
import { z } from "zod";
import { Sha256Schema, MAX_MANIFEST_BYTES } from "./tensor-manifest.js";

export const MODEL_RANGE_PROTOCOL = "/tessera/model-range/1.0.0";

/** Ranges one request may name. */
export const MAX_RANGES_PER_REQUEST = 1024;
/** Bytes one request may ask for; a bigger tensor is fetched in pieces. */
export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;
/** Payload of one data frame. */
export const DATA_CHUNK_BYTES = 1024 * 1024;
/** Requests a stream may have waiting behind the one being served. */
export const MAX_QUEUED_REQUESTS = 8;

const MAX_OFFSET = Number.MAX_SAFE_INTEGER;
const RequestIdSchema = z.number().int().min(0).max(0xffffffff);

// Lengths are checked against the caps by the server, so an oversize ask gets "too-large", not "bad-request".
export const RangeSchema = z.tuple([z.number().int().min(0).max(MAX_OFFSET), z.number().int().min(1).max(MAX_OFFSET)]);

export const ManifestRequestSchema = z.strictObject({ kind: z.literal("manifest"), id: RequestIdSchema, model: Sha256Schema });
export const RangesRequestSchema = z.strictObject({
  kind: z.literal("ranges"),
  id: RequestIdSchema,
  model: Sha256Schema,
  /** [absolute file offset, length] pairs, served in this order. */
  ranges: z.array(RangeSchema).min(1).max(MAX_RANGES_PER_REQUEST),
});
export const RangeRequestSchema = z.discriminatedUnion("kind", [ManifestRequestSchema, RangesRequestSchema]);
export type RangeRequest = z.infer<typeof RangeRequestSchema>;

export const RangeErrorCodeSchema = z.enum(["bad-request", "unknown-model", "out-of-bounds", "too-large", "busy", "internal"]);
export type RangeErrorCode = z.infer<typeof RangeErrorCodeSchema>;

export const RangeResponseSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("manifest"), id: RequestIdSchema }),
  z.strictObject({ kind: z.literal("data"), id: RequestIdSchema, offset: z.number().int().min(0).max(MAX_OFFSET) }),
  z.strictObject({ kind: z.literal("end"), id: RequestIdSchema, bytes: z.number().int().min(0).max(MAX_OFFSET) }),
  /** id is absent when the request itself could not be read. */
  z.strictObject({ kind: z.literal("error"), id: RequestIdSchema.optional(), code: RangeErrorCodeSchema, message: z.string().max(4096) }),
]);
export type RangeResponse = z.infer<typeof RangeResponseSchema>;

/** What the holder accepts: a request header is small JSON and carries no payload. */
export const REQUEST_LIMITS = { maxHeaderBytes: 128 * 1024, maxPayloadBytes: 0 } as const;
/** What the fetcher accepts: data chunks and, in one frame, a whole manifest. */
export const RESPONSE_LIMITS = { maxHeaderBytes: 8 * 1024, maxPayloadBytes: Math.max(MAX_MANIFEST_BYTES, DATA_CHUNK_BYTES) } as const;
