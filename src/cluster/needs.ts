// What a model needs from devices (placement/types.ts ModelNeeds) and what a caller rules out, as
// they travel in commands and events: computed from the GGUF header by a node that has the file, so the
// master can place, and later re-place, a model it does not hold itself.
import { z } from "zod";
import { LIMITS, NodeIdSchema } from "./bounded.js";

/** Layers a placement request may describe; far beyond any model (Llama 3 405B has 126). */
export const MAX_PLACED_LAYERS = 1024;

const Bytes = z.number().finite().min(0).max(Number.MAX_SAFE_INTEGER);

export const ModelNeedsSchema = z
  .strictObject({
    name: z.string().max(LIMITS.textMaxChars),
    layers: z.number().int().min(1).max(MAX_PLACED_LAYERS),
    layerBytes: z.array(Bytes).min(1).max(MAX_PLACED_LAYERS),
    layerFlopsPerToken: z.array(Bytes).min(1).max(MAX_PLACED_LAYERS),
    embeddingBytes: Bytes,
    outputBytes: Bytes,
    outputFlopsPerToken: Bytes,
    tiedHeadBytes: Bytes,
    sharedBytes: Bytes,
    kvBytesPerTokenPerLayer: Bytes,
    hiddenBytesPerToken: Bytes,
    contextLength: z.number().int().min(1).max(1 << 24),
    sequences: z.number().int().min(1).max(1024),
    weightType: z.string().min(1).max(16).regex(/^[A-Za-z0-9_]+$/).optional(),
  })
  .refine((n) => n.layerBytes.length === n.layers && n.layerFlopsPerToken.length === n.layers, "one entry per layer in layerBytes and layerFlopsPerToken");

/** What the caller rules out; the solver's Constraints. */
export const PlacementConstraintsSchema = z.strictObject({
  excluded: z.array(NodeIdSchema).max(LIMITS.listMax).optional(),
  minBatteryPercent: z.number().min(0).max(100).optional(),
  minNodes: z.number().int().min(1).max(LIMITS.listMax).optional(),
  maxNodes: z.number().int().min(1).max(LIMITS.listMax).optional(),
  memorySafetyFraction: z.number().gt(0).max(1).optional(),
});

