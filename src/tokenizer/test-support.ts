// Helpers shared by this folder's tests: the reference model path and a tiny llama GGUF around a vocabulary.
import { fileURLToPath } from "node:url";
import { GgufValueType, type GgufMetaValue } from "../gguf/format.js";
import { GgmlType } from "../gguf/types.js";
import type { GgufTensorSpec } from "../gguf/writer.js";

export const STORIES_PATH = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));

/** Non-ASCII, whitespace and punctuation cases every tokenizer test runs through. */
export const SAMPLE_TEXTS: readonly string[] = [
  "Once upon a time", "", " ", "  ", "   leading", "trailing   ", "a  b   c", "\n", "line1\nline2\n\n",
  "café", "naïve", "日本語", "Привет", "🙂👍🏽", "Hello, World! 123 4567 3.14", "\t tab\r\n",
  "I'm HERE, they'RE 'll", "x<s>y</s>", "<|im_start|>user\nhi<|im_end|>\n", "\u00a0nbsp\u3000ideo", "emoji😀x🦀",
  "a.b,c!d?e 'quote' \"dq\" ' x",
];

/** GGUF metadata + tensors for a one-block llama with small random F32 weights and the given tokenizer. */
export function tinyLlama(tokenizer: ReadonlyMap<string, GgufMetaValue>): {
  metadata: [string, GgufMetaValue][];
  tensors: GgufTensorSpec[];
} {
  const tokens = tokenizer.get("tokenizer.ggml.tokens")!.value as readonly string[];
  const nVocab = tokens.length;
  const d = 8;
  const u32 = (value: number): GgufMetaValue => ({ type: GgufValueType.UINT32, value });
  const metadata: [string, GgufMetaValue][] = [
    ["general.architecture", { type: GgufValueType.STRING, value: "llama" }],
    ["llama.context_length", u32(64)],
    ["llama.embedding_length", u32(d)],
    ["llama.block_count", u32(1)],
    ["llama.feed_forward_length", u32(d)],
    ["llama.attention.head_count", u32(2)],
    ["llama.attention.head_count_kv", u32(2)],
    ["llama.attention.layer_norm_rms_epsilon", { type: GgufValueType.FLOAT32, value: 1e-5 }],
    ["llama.vocab_size", u32(nVocab)],
    ...tokenizer,
  ];
  let seed = 12345;
  const tensor = (name: string, dims: number[]): GgufTensorSpec => {
    const n = dims.reduce((a, b) => a * b, 1);
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      f[i] = ((seed >>> 8) / (1 << 24) - 0.5) * 0.2;
    }
    return { name, dims, type: GgmlType.F32, data: new Uint8Array(f.buffer) };
  };
  const tensors = [
    tensor("token_embd.weight", [d, nVocab]),
    tensor("output_norm.weight", [d]),
    tensor("blk.0.attn_norm.weight", [d]),
    tensor("blk.0.attn_q.weight", [d, d]),
    tensor("blk.0.attn_k.weight", [d, d]),
    tensor("blk.0.attn_v.weight", [d, d]),
    tensor("blk.0.attn_output.weight", [d, d]),
    tensor("blk.0.ffn_norm.weight", [d]),
    tensor("blk.0.ffn_gate.weight", [d, d]),
    tensor("blk.0.ffn_down.weight", [d, d]),
    tensor("blk.0.ffn_up.weight", [d, d]),
  ];
  return { metadata, tensors };
}

/** The part of node-llama-cpp's LlamaModel the parity tests use (its Token type is a branded number). */
export interface ReferenceModel {
  tokenize(text: string, specialTokens?: boolean): readonly number[];
  detokenize(ids: readonly number[], specialTokens?: boolean): string;
  isEogToken(id: number): boolean;
  dispose(): Promise<void>;
}

/** Loads a GGUF file with llama.cpp through node-llama-cpp (CPU, prebuilt binaries only). */
export async function loadReference(modelPath: string): Promise<ReferenceModel> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
  return model as unknown as ReferenceModel;
}
