// One model file as the index describes it: what placement needs to know about a file a node holds.
// The schema is the contract for putting the index into the replicated node state, so anything read
// back from a peer is checked against it.
import { z } from "zod";
import { HubOriginSchema, SHA256_HEX } from "./sidecar.js";

export const ModelIndexEntrySchema = z.object({
  /** `owner/repo:file.gguf` for a pulled file, else the path relative to the models directory. */
  name: z.string().min(1).max(1400),
  /** The file's base name (`stories260K.gguf`). */
  file: z.string().min(1).max(255),
  /** Absolute path on the node that holds it. */
  path: z.string().min(1).max(4096),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(SHA256_HEX),
  /** `general.architecture`, or null when the header does not say. */
  architecture: z.string().max(64).nullable(),
  /** Distinct ggml tensor types, the one holding the most bytes first. */
  tensorTypes: z.array(z.string().max(32)).max(64),
  tensorCount: z.number().int().nonnegative(),
  /** `<arch>.block_count`, or null when the header does not say. */
  layers: z.number().int().nonnegative().nullable(),
  /** Where it was pulled from, when it came from the Hub. */
  hub: HubOriginSchema.optional(),
});
export type ModelIndexEntry = z.infer<typeof ModelIndexEntrySchema>;

export const ModelIndexSchema = z.array(ModelIndexEntrySchema).max(10_000);
