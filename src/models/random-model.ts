// Seeded random-weight models in the real GGUF layout, for tests and benchmarks of shapes we cannot
// download here. Weight scales keep activations O(1) through the layers and make the output head's
// logits peaked (std ≈ 6), so that greedy decoding has clear winners and comparing engines means something.
import type { GgufMetaValue } from "../gguf/format.js";
import { GgufError } from "../gguf/format.js";
import { quantizeRow } from "../gguf/quants/index.js";
import type { GgufTensorSpec, GgufWriteSpec } from "../gguf/writer.js";
import { meta } from "../gguf/writer.js";
import { GgmlType, typeLayout, typeName } from "../gguf/types.js";
import type { Architecture } from "../engine/config.js";
import { mulberry32 } from "../random/mulberry32.js";

export interface RandomModelOptions {
  readonly arch: Architecture;
  /** Type of the 2-D weight matrices; norms and biases stay F32 as in llama.cpp's files. */
  readonly type: GgmlType;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  /** qwen3 only: per-head size, which may differ from dim / heads. */
  readonly headDim?: number;
  readonly contextLength: number;
  readonly seed: number;
  /** The tokenizer.* metadata entries (from another model, or a synthetic vocabulary). */
  readonly tokenizer: ReadonlyMap<string, GgufMetaValue>;
  /** Leave out output.weight so the head reuses the embedding. */
  readonly tiedEmbeddings?: boolean;
  /** Add a rope_freqs tensor (llama3-style per-frequency scaling). */
  readonly ropeFreqs?: boolean;
  /** Linear RoPE position scaling factor (rope.scaling.type = linear), for long-context variants. */
  readonly ropeScaleLinear?: number;
}

/**
 * Gaussian samples `start` .. `start + count - 1` of the model's one stream, times `std`, plus `mean`
 * when one is given.
 * Sample 2j is r·cos and 2j+1 is r·sin of Box–Muller pair j, built from uniform draws 2j and 2j+1
 * (u = 1 − draw, v = draw), so any range can be made on its own and equals the sequential stream.
 */
export function gaussianRange(seed: number, start: number, count: number, std: number, mean?: number): Float32Array {
  const out = new Float32Array(count);
  // Matrices take g·std, vectors mean + g·std even for mean 0 (which turns −0 into +0), as always.
  const value = mean === undefined ? (g: number) => g * std : (g: number) => mean + g * std;
  const rng = mulberry32(seed, 2 * Math.floor(start / 2));
  for (let i = 0, at = start; i < count; ) {
    const u = 1 - rng();
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    if (at % 2 === 0) {
      out[i++] = value(r * Math.cos(2 * Math.PI * v));
      at++;
      if (i === count) break;
    }
    out[i++] = value(r * Math.sin(2 * Math.PI * v));
    at++;
  }
  return out;
}

/** One tensor of a random model: where its values start in the seed's Gaussian stream, and their scale. */
export interface RandomTensorPlan {
  readonly name: string;
  readonly dims: readonly number[];
  /** Quantised matrices take the model's type; vectors (norms, biases) and fixed tables stay F32. */
  readonly type: GgmlType;
  readonly start: number;
  readonly std: number;
  /** Vectors only: their values are mean + g·std. */
  readonly mean?: number;
  /** Values that are not drawn (rope_freqs). */
  readonly fixed?: Float32Array;
}

/** The tensor's GGUF bytes. Pure: any worker can make any tensor of the plan. */
export function randomTensorBytes(seed: number, t: RandomTensorPlan): Uint8Array {
  if (t.fixed) return new Uint8Array(t.fixed.buffer, t.fixed.byteOffset, t.fixed.byteLength);
  const count = t.dims.reduce((a, b) => a * b, 1);
  const values = gaussianRange(seed, t.start, count, t.std, t.mean);
  return t.dims.length === 1 ? new Uint8Array(values.buffer) : quantizeMatrix(t.type, values, t.dims[0]);
}

function vocabSize(tokenizer: ReadonlyMap<string, GgufMetaValue>): number {
  const tokens = tokenizer.get("tokenizer.ggml.tokens");
  if (!tokens || !Array.isArray(tokens.value)) throw new GgufError("tokenizer metadata has no tokenizer.ggml.tokens array");
  return tokens.value.length;
}

/** Every tensor of the model, in file order, and its metadata; randomTensorBytes makes the data. */
export function randomModelPlan(o: RandomModelOptions): { readonly tensors: readonly RandomTensorPlan[]; readonly metadata: Map<string, GgufMetaValue> } {
  const headDim = o.headDim ?? o.dim / o.heads;
  if (!Number.isInteger(headDim)) throw new RangeError(`dim ${o.dim} is not divisible by ${o.heads} heads`);
  if (o.heads % o.kvHeads !== 0) throw new RangeError(`${o.heads} heads is not a multiple of ${o.kvHeads} kv heads`);
  if (o.headDim !== undefined && o.arch !== "qwen3" && o.headDim !== o.dim / o.heads) throw new RangeError(`only qwen3 allows a head size other than dim / heads`);
  const { blockSize } = typeLayout(o.type);
  for (const [name, n] of [["dim", o.dim], ["ffn", o.ffn], ["heads × head size", o.heads * headDim]] as const) {
    if (n % blockSize !== 0) throw new RangeError(`${name} = ${n} must be a multiple of ${blockSize} for ${typeName(o.type)} weights`);
  }
  const vocab = vocabSize(o.tokenizer);
  const tensors: RandomTensorPlan[] = [];
  // Tensors draw from one Gaussian stream in file order.
  let drawn = 0;
  const matrix = (name: string, cols: number, rows: number, std: number) => {
    tensors.push({ name, dims: [cols, rows], type: o.type, start: drawn, std });
    drawn += cols * rows;
  };
  const vector = (name: string, n: number, mean: number, std: number) => {
    tensors.push({ name, dims: [n], type: GgmlType.F32, start: drawn, std, mean });
    drawn += n;
  };

  const qDim = o.heads * headDim;
  const kvDim = o.kvHeads * headDim;
  matrix("token_embd.weight", o.dim, vocab, 1);
  for (let l = 0; l < o.layers; l++) {
    const p = `blk.${l}.`;
    vector(`${p}attn_norm.weight`, o.dim, 1, 0.1);
    matrix(`${p}attn_q.weight`, o.dim, qDim, 1 / Math.sqrt(o.dim));
    matrix(`${p}attn_k.weight`, o.dim, kvDim, 1 / Math.sqrt(o.dim));
    matrix(`${p}attn_v.weight`, o.dim, kvDim, 1 / Math.sqrt(o.dim));
    if (o.arch === "qwen2") {
      vector(`${p}attn_q.bias`, qDim, 0, 0.1);
      vector(`${p}attn_k.bias`, kvDim, 0, 0.1);
      vector(`${p}attn_v.bias`, kvDim, 0, 0.1);
    }
    if (o.arch === "qwen3") {
      vector(`${p}attn_q_norm.weight`, headDim, 1, 0.1);
      vector(`${p}attn_k_norm.weight`, headDim, 1, 0.1);
    }
    matrix(`${p}attn_output.weight`, qDim, o.dim, 1 / Math.sqrt(qDim));
    vector(`${p}ffn_norm.weight`, o.dim, 1, 0.1);
    matrix(`${p}ffn_gate.weight`, o.dim, o.ffn, 1 / Math.sqrt(o.dim));
    matrix(`${p}ffn_up.weight`, o.dim, o.ffn, 1 / Math.sqrt(o.dim));
    matrix(`${p}ffn_down.weight`, o.ffn, o.dim, 1 / Math.sqrt(o.ffn));
  }
  vector("output_norm.weight", o.dim, 1, 0.1);
  if (!o.tiedEmbeddings) matrix("output.weight", o.dim, vocab, 6 / Math.sqrt(o.dim));
  if (o.ropeFreqs) {
    // llama3's long-context factors: 1 for high frequencies rising to 8 for the lowest ones.
    const n = headDim / 2;
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = 1 + (7 * i) / Math.max(1, n - 1);
    tensors.push({ name: "rope_freqs.weight", dims: [n], type: GgmlType.F32, start: drawn, std: 0, fixed: f });
  }

  // llama.cpp has no "mistral" architecture: Mistral's GGUF files say "llama" and differ in shape
  // (grouped KV heads, a larger RoPE base), which is what --arch mistral writes.
  const a = o.arch === "mistral" ? "llama" : o.arch;
  const metadata = new Map<string, GgufMetaValue>([
    ["general.architecture", meta.string(a)],
    ["general.name", meta.string(`tessera-random-${o.arch}-${typeName(o.type).toLowerCase()}`)],
    [`${a}.context_length`, meta.u32(o.contextLength)],
    [`${a}.embedding_length`, meta.u32(o.dim)],
    [`${a}.block_count`, meta.u32(o.layers)],
    [`${a}.feed_forward_length`, meta.u32(o.ffn)],
    [`${a}.attention.head_count`, meta.u32(o.heads)],
    [`${a}.attention.head_count_kv`, meta.u32(o.kvHeads)],
    [`${a}.attention.layer_norm_rms_epsilon`, meta.f32(1e-5)],
    [`${a}.rope.freq_base`, meta.f32(o.arch === "llama" ? 10000 : 1000000)],
    [`${a}.rope.dimension_count`, meta.u32(headDim)],
  ]);
  if (o.headDim !== undefined) {
    metadata.set(`${a}.attention.key_length`, meta.u32(headDim));
    metadata.set(`${a}.attention.value_length`, meta.u32(headDim));
  }
  if (o.ropeScaleLinear !== undefined) {
    metadata.set(`${a}.rope.scaling.type`, meta.string("linear"));
    metadata.set(`${a}.rope.scaling.factor`, meta.f32(o.ropeScaleLinear));
  }
  for (const [k, v] of o.tokenizer) metadata.set(k, v);
  return { metadata, tensors };
}

/** The whole model in memory, tensor by tensor on this thread (random-model-parallel.ts spreads the work). */
export function randomModelSpec(o: RandomModelOptions): GgufWriteSpec {
  const plan = randomModelPlan(o);
  const tensors: GgufTensorSpec[] = plan.tensors.map((t) => ({ name: t.name, dims: [...t.dims], type: t.type, data: randomTensorBytes(o.seed, t) }));
  return { metadata: plan.metadata, tensors };
}

function quantizeMatrix(type: GgmlType, data: Float32Array, cols: number): Uint8Array {
  if (type === GgmlType.F32) return new Uint8Array(data.buffer);
  const rows = data.length / cols;
  const first = quantizeRow(type, data.subarray(0, cols));
  const out = new Uint8Array(first.length * rows);
  out.set(first, 0);
  for (let r = 1; r < rows; r++) out.set(quantizeRow(type, data.subarray(r * cols, (r + 1) * cols)), r * first.length);
  return out;
}
