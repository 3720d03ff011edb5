// Loads the tensors of one layer range from a GGUF file onto a backend, reading each by offset.
import type { GgufFile } from "../gguf/reader.js";
import { GgufError, type TensorInfo } from "../gguf/format.js";
import { dequantizeRow } from "../gguf/quants/index.js";
import type { Backend, Weight } from "./backend.js";
import type { ModelConfig } from "./config.js";
import { Transformer, type LayerRange, type LayerWeights, type ShardWeights } from "./model.js";

export interface LoadOptions {
  /** Layers to load; all of them by default. */
  readonly range?: LayerRange;
}

function checkDims(info: TensorInfo, expected: readonly number[]): void {
  const same = info.dims.length === expected.length && info.dims.every((d, i) => d === expected[i]);
  if (!same) throw new GgufError(`tensor ${info.name} has shape [${info.dims.join(", ")}], expected [${expected.join(", ")}]`);
}

export async function loadTransformer(file: GgufFile, config: ModelConfig, backend: Backend, options: LoadOptions = {}): Promise<Transformer> {
  const range = options.range ?? { start: 0, end: config.layers };
  if (!(range.start >= 0 && range.start < range.end && range.end <= config.layers)) {
    throw new RangeError(`layer range [${range.start}, ${range.end}) is outside the model's ${config.layers} layers`);
  }
  const { dim, heads, kvHeads, headDim, ffn, vocab } = config;

  async function weight(name: string, dims: readonly number[]): Promise<Weight> {
    const info = file.tensor(name);
    if (!info) throw new GgufError(`model is missing tensor ${name}`);
    checkDims(info, dims);
    const wi = { name, type: info.type, dims: info.dims };
    if (backend.uploadWeightFrom) return backend.uploadWeightFrom(wi, info.byteSize, (dst, offset) => file.readTensorInto(info, offset, dst));
    return backend.uploadWeight(wi, await file.readTensor(info));
  }
  async function optional(name: string, dims: readonly number[]): Promise<Weight | undefined> {
    return file.tensor(name) ? weight(name, dims) : undefined;
  }

  const isFirst = range.start === 0;
  const isLast = range.end === config.layers;
  const layers: LayerWeights[] = [];
  for (let l = range.start; l < range.end; l++) {
    const p = `blk.${l}.`;
    layers.push({
      attnNorm: await weight(`${p}attn_norm.weight`, [dim]),
      wq: await weight(`${p}attn_q.weight`, [dim, heads * headDim]),
      wk: await weight(`${p}attn_k.weight`, [dim, kvHeads * headDim]),
      wv: await weight(`${p}attn_v.weight`, [dim, kvHeads * headDim]),
      wo: await weight(`${p}attn_output.weight`, [heads * headDim, dim]),
      bq: config.qkvBias ? await weight(`${p}attn_q.bias`, [heads * headDim]) : undefined,
      bk: config.qkvBias ? await weight(`${p}attn_k.bias`, [kvHeads * headDim]) : undefined,
      bv: config.qkvBias ? await weight(`${p}attn_v.bias`, [kvHeads * headDim]) : undefined,
      qNorm: config.qkNorm ? await weight(`${p}attn_q_norm.weight`, [headDim]) : undefined,
      kNorm: config.qkNorm ? await weight(`${p}attn_k_norm.weight`, [headDim]) : undefined,
      ffnNorm: await weight(`${p}ffn_norm.weight`, [dim]),
      gate: await weight(`${p}ffn_gate.weight`, [dim, ffn]),
      up: await weight(`${p}ffn_up.weight`, [dim, ffn]),
      down: await weight(`${p}ffn_down.weight`, [ffn, dim]),
    });
  }

  let embedding: Weight | undefined;
  if (isFirst) embedding = await weight("token_embd.weight", [dim, vocab]);
  let outputNorm: Weight | undefined;
  let output: Weight | undefined;
  if (isLast) {
    outputNorm = await weight("output_norm.weight", [dim]);
    // Tied embeddings: the output head reuses the token embedding matrix.
    output = (await optional("output.weight", [dim, vocab])) ?? embedding ?? (await weight("token_embd.weight", [dim, vocab]));
  }

  let ropeFreqFactors: Float32Array | undefined;
  const freqs = file.tensor("rope_freqs.weight");
  if (freqs) {
    checkDims(freqs, [config.rope.dims / 2]);
    ropeFreqFactors = new Float32Array(freqs.elements);
    dequantizeRow(freqs.type, await file.readTensor(freqs), freqs.elements, ropeFreqFactors);
  }

  const weights: ShardWeights = { embedding, outputNorm, output, layers, ropeFreqFactors };
  return new Transformer(config, backend, weights, range);
}
