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
import { Rng } from "../engine/sampler.js";

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

/** Gaussian samples from a seeded uniform source (Box–Muller). */
class Gaussian {
  private spare: number | undefined;
  constructor(private readonly rng: Rng) {}
  next(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = 1 - this.rng.next();
    const v = this.rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function vocabSize(tokenizer: ReadonlyMap<string, GgufMetaValue>): number {
  const tokens = tokenizer.get("tokenizer.ggml.tokens");
  if (!tokens || !Array.isArray(tokens.value)) throw new GgufError("tokenizer metadata has no tokenizer.ggml.tokens array");
  return tokens.value.length;
}

export function randomModelSpec(o: RandomModelOptions): GgufWriteSpec {
  const headDim = o.headDim ?? o.dim / o.heads;
  if (!Number.isInteger(headDim)) throw new RangeError(`dim ${o.dim} is not divisible by ${o.heads} heads`);
  if (o.heads % o.kvHeads !== 0) throw new RangeError(`${o.heads} heads is not a multiple of ${o.kvHeads} kv heads`);
  if (o.headDim !== undefined && o.arch !== "qwen3" && o.headDim !== o.dim / o.heads) throw new RangeError(`only qwen3 allows a head size other than dim / heads`);
  const { blockSize } = typeLayout(o.type);
  for (const [name, n] of [["dim", o.dim], ["ffn", o.ffn], ["heads × head size", o.heads * headDim]] as const) {
    if (n % blockSize !== 0) throw new RangeError(`${name} = ${n} must be a multiple of ${blockSize} for ${typeName(o.type)} weights`);
  }
  const vocab = vocabSize(o.tokenizer);
  const gauss = new Gaussian(new Rng(o.seed));
  const tensors: GgufTensorSpec[] = [];

  const matrix = (name: string, cols: number, rows: number, std: number) => {
    const data = new Float32Array(cols * rows);
    for (let i = 0; i < data.length; i++) data[i] = gauss.next() * std;
    tensors.push({ name, dims: [cols, rows], type: o.type, data: quantizeMatrix(o.type, data, cols) });
  };
  const vector = (name: string, n: number, mean: number, std: number) => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = mean + gauss.next() * std;
    tensors.push({ name, dims: [n], type: GgmlType.F32, data: new Uint8Array(data.buffer) });
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
    tensors.push({ name: "rope_freqs.weight", dims: [n], type: GgmlType.F32, data: new Uint8Array(f.buffer) });
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

function quantizeMatrix(type: GgmlType, data: Float32Array, cols: number): Uint8Array {
  if (type === GgmlType.F32) return new Uint8Array(data.buffer);
  const rows = data.length / cols;
  const first = quantizeRow(type, data.subarray(0, cols));
  const out = new Uint8Array(first.length * rows);
  out.set(first, 0);
  for (let r = 1; r < rows; r++) out.set(quantizeRow(type, data.subarray(r * cols, (r + 1) * cols)), r * first.length);
  return out;
}
