import { test } from "node:test";
import assert from "node:assert/strict";
import { readGgufHeader } from "../gguf/reader.js";
import { STORIES_260K } from "../testing/paths.js";
import { LLAMA_3_2_3B_Q4_K_M, LLAMA_3_70B_Q4_K_M, LLAMA_3_8B_Q4_K_M, modelNeeds, needsFromShape, q4kmLayerType, totalNeededBytes } from "./model-needs.js";
import { GgmlType } from "../gguf/types.js";

test("modelNeeds reads stories260K's layers, embedding, head and KV cache", async () => {
  const header = await readGgufHeader(STORIES_260K);
  const n = modelNeeds(header, { contextLength: 256, sequences: 2 });
  assert.equal(n.layers, 5);
  // q 64×64, k and v 64×32, output 64×64, three 64×172 FFN matrices, two 64-wide norms; all f32.
  const perLayer = 4 * (64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 172 + 2 * 64);
  assert.deepEqual(n.layerBytes, [perLayer, perLayer, perLayer, perLayer, perLayer]);
  assert.equal(n.embeddingBytes, 4 * 64 * 512);
  assert.equal(n.outputBytes, 4 * 64 * 512 + 4 * 64); // output.weight + output_norm
  assert.equal(n.tiedHeadBytes, 0);
  assert.equal(n.kvBytesPerTokenPerLayer, 2 * 4 * 8 * 2); // K and V × 4 KV heads × head size 8 × f16
  assert.equal(n.hiddenBytesPerToken, 64 * 4);
  assert.equal(n.contextLength, 256);
  assert.equal(n.sequences, 2);
  const tensorBytes = header.tensors.reduce((s, t) => s + t.byteSize, 0);
  assert.equal(totalNeededBytes(n), tensorBytes + 5 * 128 * 256 * 2);
});

test("needsFromShape gives the Q4_K_M file sizes llama.cpp produces", () => {
  const weights = (s: typeof LLAMA_3_8B_Q4_K_M) => {
    const n = needsFromShape(s, { contextLength: 1 });
    return n.layerBytes.reduce((a, b) => a + b, 0) + n.embeddingBytes + n.outputBytes - n.tiedHeadBytes;
  };
  // Published GGUF sizes: 3B 2.02 GB, 8B 4.92 GB, 70B 42.5 GB.
  assert.ok(Math.abs(weights(LLAMA_3_2_3B_Q4_K_M) / 2.02e9 - 1) < 0.01);
  assert.ok(Math.abs(weights(LLAMA_3_8B_Q4_K_M) / 4.92e9 - 1) < 0.01);
  assert.ok(Math.abs(weights(LLAMA_3_70B_Q4_K_M) / 42.5e9 - 1) < 0.01);
  const n = needsFromShape(LLAMA_3_8B_Q4_K_M, { contextLength: 8192, sequences: 1 });
  assert.equal(n.kvBytesPerTokenPerLayer, 2 * 8 * 128 * 2);
  assert.equal(n.hiddenBytesPerToken, 4096 * 4);
  // Mixed types make layers differ: layer 0 has Q6_K attn_v/ffn_down, layer 4 does not.
  assert.ok(n.layerBytes[0]! > n.layerBytes[4]!);
  const tied = needsFromShape(LLAMA_3_2_3B_Q4_K_M, { contextLength: 1 });
  assert.equal(tied.tiedHeadBytes, tied.embeddingBytes);
});

test("Q4_K_M recipe gives Q6_K to attn_v and ffn_down in the first and last eighth and every third layer", () => {
  const more = Array.from({ length: 32 }, (_, l) => q4kmLayerType("ffn_down", l, 32) === GgmlType.Q6_K);
  assert.deepEqual(more.map((m, l) => (m ? l : -1)).filter((l) => l >= 0), [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
  assert.equal(q4kmLayerType("attn_q", 0, 32), GgmlType.Q4_K);
});

test("needs options are checked", () => {
  assert.throws(() => needsFromShape(LLAMA_3_8B_Q4_K_M, { contextLength: 0 }), RangeError);
  assert.throws(() => needsFromShape(LLAMA_3_8B_Q4_K_M, { contextLength: 16, sequences: 0 }), RangeError);
});
