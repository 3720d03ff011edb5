// What a model needs from the devices that run it, read from a GGUF header (real files) or built from a
// shape (simulated models we cannot download). Per-layer bytes are summed tensor by tensor because
// llama.cpp's mixed quantisations (Q4_K_M) give some layers larger types than others.
import { GgufError, metaOptStringArray, type GgufHeader, type TensorInfo } from "../gguf/format.js";
import { GgmlType, bytesFor, typeName } from "../gguf/types.js";
import { configFromMetadata } from "../engine/config.js";
import type { ModelNeeds } from "./types.js";

export interface NeedsOptions {
  /** Tokens of KV cache reserved per sequence. */
  readonly contextLength: number;
  /** Sequences decoded together (default 1). */
  readonly sequences?: number;
}

/** An f16 KV cache: 2 bytes per element. */
const KV_ELEMENT_BYTES = 2;
/** Activations travel between stages as f32. */
const HIDDEN_ELEMENT_BYTES = 4;

function checkOptions(o: NeedsOptions): { contextLength: number; sequences: number } {
  const sequences = o.sequences ?? 1;
  if (!Number.isInteger(o.contextLength) || o.contextLength < 1) throw new RangeError(`contextLength ${o.contextLength} must be a positive integer`);
  if (!Number.isInteger(sequences) || sequences < 1) throw new RangeError(`sequences ${sequences} must be a positive integer`);
  return { contextLength: o.contextLength, sequences };
}

/** 2 flops per weight of a matrix (one multiply-add); vectors (norms, biases) are negligible. */
function matmulFlops(t: TensorInfo): number {
  return t.dims.length >= 2 ? 2 * t.elements : 0;
}

export function modelNeeds(header: GgufHeader, opts: NeedsOptions): ModelNeeds {
  const { contextLength, sequences } = checkOptions(opts);
  const md = header.metadata;
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const embd = byName.get("token_embd.weight");
  if (!embd) throw new GgufError("model has no token_embd.weight");
  const vocab = metaOptStringArray(md, "tokenizer.ggml.tokens")?.length ?? embd.dims[1] ?? 0;
  const cfg = configFromMetadata(md, vocab);

  const layerBytes = new Array<number>(cfg.layers).fill(0);
  const layerFlops = new Array<number>(cfg.layers).fill(0);
  let sharedBytes = 0;
  const bytesByType = new Map<string, number>();
  for (const t of header.tensors) {
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (m) {
      const l = Number(m[1]);
      if (l >= cfg.layers) throw new GgufError(`tensor ${t.name} names layer ${l} of a ${cfg.layers}-layer model`);
      layerBytes[l]! += t.byteSize;
      bytesByType.set(typeName(t.type), (bytesByType.get(typeName(t.type)) ?? 0) + t.byteSize);
      layerFlops[l]! += matmulFlops(t);
    } else if (t.name !== "token_embd.weight" && t.name !== "output.weight" && t.name !== "output_norm.weight") {
      sharedBytes += t.byteSize;
    }
  }
  const head = byName.get("output.weight") ?? embd;
  const norm = byName.get("output_norm.weight")?.byteSize ?? 0;
  return {
    name: typeof md.get("general.name")?.value === "string" ? (md.get("general.name")!.value as string) : cfg.arch,
    layers: cfg.layers,
    layerBytes,
    layerFlopsPerToken: layerFlops,
    embeddingBytes: embd.byteSize,
    outputBytes: head.byteSize + norm,
    outputFlopsPerToken: matmulFlops(head),
    tiedHeadBytes: head === embd ? embd.byteSize : 0,
    sharedBytes,
    kvBytesPerTokenPerLayer: 2 * cfg.kvHeads * cfg.headDim * KV_ELEMENT_BYTES,
    hiddenBytesPerToken: cfg.dim * HIDDEN_ELEMENT_BYTES,
    contextLength,
    sequences,
    weightType: [...bytesByType].sort((a, b) => b[1] - a[1])[0]?.[0],
  };
}

/** A llama-family shape with the quant type of each weight matrix chosen per layer. */
export interface ModelShape {
  readonly name: string;
  readonly layers: number;
  readonly dim: number;
  readonly ffn: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  readonly tiedEmbeddings: boolean;
  readonly embeddingType: GgmlType;
  readonly outputType: GgmlType;
  /** Type of tensor `name` (attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down) in `layer`. */
  readonly layerType: (name: string, layer: number, layers: number) => GgmlType;
}

const LAYER_MATRICES = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"] as const;

export function needsFromShape(s: ModelShape, opts: NeedsOptions): ModelNeeds {
  const { contextLength, sequences } = checkOptions(opts);
  const headDim = s.dim / s.heads;
  const kvDim = s.kvHeads * headDim;
  // ggml dims: [row length, rows]
  const shapes: Record<(typeof LAYER_MATRICES)[number], number> = {
    attn_q: s.dim * s.dim,
    attn_k: s.dim * kvDim,
    attn_v: s.dim * kvDim,
    attn_output: s.dim * s.dim,
    ffn_gate: s.dim * s.ffn,
    ffn_up: s.dim * s.ffn,
    ffn_down: s.ffn * s.dim,
  };
  const layerBytes: number[] = [];
  const layerFlops: number[] = [];
  for (let l = 0; l < s.layers; l++) {
    let bytes = 2 * bytesFor(GgmlType.F32, s.dim); // attn_norm, ffn_norm
    let flops = 0;
    for (const name of LAYER_MATRICES) {
      bytes += bytesFor(s.layerType(name, l, s.layers), shapes[name]);
      flops += 2 * shapes[name];
    }
    layerBytes.push(bytes);
    layerFlops.push(flops);
  }
  const embeddingBytes = bytesFor(s.embeddingType, s.dim * s.vocab);
  const headBytes = s.tiedEmbeddings ? embeddingBytes : bytesFor(s.outputType, s.dim * s.vocab);
  return {
    name: s.name,
    layers: s.layers,
    layerBytes,
    layerFlopsPerToken: layerFlops,
    embeddingBytes,
    outputBytes: headBytes + bytesFor(GgmlType.F32, s.dim),
    outputFlopsPerToken: 2 * s.dim * s.vocab,
    tiedHeadBytes: s.tiedEmbeddings ? embeddingBytes : 0,
    sharedBytes: 0,
    kvBytesPerTokenPerLayer: 2 * kvDim * KV_ELEMENT_BYTES,
    hiddenBytesPerToken: s.dim * HIDDEN_ELEMENT_BYTES,
    contextLength,
    sequences,
  };
}

/**
 * llama.cpp's Q4_K_M recipe for llama models, as its quantizer decides it: Q4_K everywhere except
 * attn_v and ffn_down in the "more bits" layers (the first and last eighth, and every third layer
 * between), which get Q6_K; the output head is Q6_K (a tied head's embedding too).
 */
export function q4kmLayerType(name: string, layer: number, layers: number): GgmlType {
  const eighth = Math.floor(layers / 8);
  const moreBits = layer < eighth || layer >= Math.floor((7 * layers) / 8) || (layer - eighth) % 3 === 2;
  return (name === "attn_v" || name === "ffn_down") && moreBits ? GgmlType.Q6_K : GgmlType.Q4_K;
}

const LLAMA3_VOCAB = 128256;

/** Llama 3.2 3B: 28 layers, dim 3072, 24 heads / 8 KV heads, FFN 8192, tied embeddings. */
export const LLAMA_3_2_3B_Q4_K_M: ModelShape = {
  name: "Llama 3.2 3B Q4_K_M",
  layers: 28,
  dim: 3072,
  ffn: 8192,
  heads: 24,
  kvHeads: 8,
  vocab: LLAMA3_VOCAB,
  tiedEmbeddings: true,
  embeddingType: GgmlType.Q6_K,
  outputType: GgmlType.Q6_K,
  layerType: q4kmLayerType,
};

/** Llama 3 8B: 32 layers, dim 4096, 32 heads / 8 KV heads, FFN 14336. */
export const LLAMA_3_8B_Q4_K_M: ModelShape = {
  name: "Llama 3 8B Q4_K_M",
  layers: 32,
  dim: 4096,
  ffn: 14336,
  heads: 32,
  kvHeads: 8,
  vocab: LLAMA3_VOCAB,
  tiedEmbeddings: false,
  embeddingType: GgmlType.Q4_K,
  outputType: GgmlType.Q6_K,
  layerType: q4kmLayerType,
};

/** Llama 3 70B: 80 layers, dim 8192, 64 heads / 8 KV heads, FFN 28672. */
export const LLAMA_3_70B_Q4_K_M: ModelShape = {
  name: "Llama 3 70B Q4_K_M",
  layers: 80,
  dim: 8192,
  ffn: 28672,
  heads: 64,
  kvHeads: 8,
  vocab: LLAMA3_VOCAB,
  tiedEmbeddings: false,
  embeddingType: GgmlType.Q4_K,
  outputType: GgmlType.Q6_K,
  layerType: q4kmLayerType,
};

/** Every byte the model needs held somewhere: each tensor once, plus the KV cache of every layer. */
export function totalNeededBytes(n: ModelNeeds): number {
  const layers = n.layerBytes.reduce((a, b) => a + b, 0);
  const kv = n.kvBytesPerTokenPerLayer * n.layers * n.contextLength * n.sequences;
  return layers + kv + n.embeddingBytes + n.outputBytes - n.tiedHeadBytes + n.sharedBytes;
}
