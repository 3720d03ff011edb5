// Model hyperparameters, read once from GGUF metadata into one plain struct (llama2.c's habit).
import { GgufError, metaNumber, metaOptNumber, metaOptString, metaString, type GgufMetadata } from "../gguf/format.js";

export const SUPPORTED_ARCHITECTURES = ["llama", "mistral", "qwen2", "qwen3"] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/** How rotary embeddings pair up dimensions: adjacent pairs (llama) or halves (NeoX: qwen). */
export type RopeStyle = "normal" | "neox";

export interface ModelConfig {
  readonly arch: Architecture;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  /** Per-head size of queries and keys; qwen3 sets it apart from dim / heads. */
  readonly headDim: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly contextLength: number;
  readonly rmsEps: number;
  readonly rope: {
    readonly style: RopeStyle;
    readonly base: number;
    /** Dimensions of each head that rotate; the rest pass through. */
    readonly dims: number;
    /** Linear position scaling (1 / rope.scaling.factor); 1 when unscaled. */
    readonly freqScale: number;
  };
  /** qwen2 adds biases to q, k and v. */
  readonly qkvBias: boolean;
  /** qwen3 normalises each query and key head before RoPE. */
  readonly qkNorm: boolean;
}

export function isArchitecture(a: string): a is Architecture {
  return (SUPPORTED_ARCHITECTURES as readonly string[]).includes(a);
}

export function configFromMetadata(md: GgufMetadata, vocabSize: number): ModelConfig {
  const arch = metaString(md, "general.architecture");
  if (!isArchitecture(arch)) {
    throw new GgufError(`unsupported architecture "${arch}" (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`);
  }
  const key = (k: string) => `${arch}.${k}`;
  const dim = metaNumber(md, key("embedding_length"));
  const heads = metaNumber(md, key("attention.head_count"));
  const kvHeads = metaOptNumber(md, key("attention.head_count_kv")) ?? heads;
  const headDim = metaOptNumber(md, key("attention.key_length")) ?? dim / heads;
  const layers = metaNumber(md, key("block_count"));
  const ffn = metaNumber(md, key("feed_forward_length"));
  const contextLength = metaOptNumber(md, key("context_length")) ?? 2048;
  const valueLength = metaOptNumber(md, key("attention.value_length")) ?? headDim;

  const positive = { dim, heads, kvHeads, headDim, layers, ffn, contextLength };
  for (const [name, v] of Object.entries(positive)) {
    if (!Number.isInteger(v) || v <= 0 || v > 1 << 24) throw new GgufError(`${arch}: ${name} = ${v} is not a sane positive integer`);
  }
  if (heads % kvHeads !== 0) throw new GgufError(`${arch}: ${heads} heads is not a multiple of ${kvHeads} kv heads`);
  if (valueLength !== headDim) throw new GgufError(`${arch}: value_length ${valueLength} differs from key_length ${headDim}`);

  const scalingType = metaOptString(md, key("rope.scaling.type")) ?? "none";
  const scalingFactor = metaOptNumber(md, key("rope.scaling.factor")) ?? 1;
  let freqScale = 1;
  if (scalingType === "linear" && scalingFactor > 0) freqScale = 1 / scalingFactor;
  else if (scalingType !== "none" && scalingType !== "linear" && scalingFactor !== 1) {
    throw new GgufError(`${arch}: rope scaling "${scalingType}" is not supported`);
  }
  const ropeDims = metaOptNumber(md, key("rope.dimension_count")) ?? headDim;
  if (ropeDims > headDim || ropeDims % 2 !== 0) throw new GgufError(`${arch}: rope dimension_count ${ropeDims} does not fit head size ${headDim}`);

  return {
    arch,
    dim,
    layers,
    heads,
    kvHeads,
    headDim,
    ffn,
    vocab: vocabSize,
    contextLength,
    rmsEps: metaOptNumber(md, key("attention.layer_norm_rms_epsilon")) ?? 1e-5,
    rope: {
      style: arch === "qwen2" || arch === "qwen3" ? "neox" : "normal",
      base: metaOptNumber(md, key("rope.freq_base")) ?? 10000,
      dims: ropeDims,
      freqScale,
    },
    qkvBias: arch === "qwen2",
    qkNorm: arch === "qwen3",
  };
}
