// Synthetic vocabularies: deterministic, well-formed, and loaded by llama.cpp with identical tokenization.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeGguf } from "../gguf/writer.js";
import { buildSyntheticVocab } from "./synth.js";
import { tokenizerFromGguf } from "./tokenizer.js";
import { renderChat, chatTemplateFromGguf } from "./chat.js";
import { SAMPLE_TEXTS, loadReference, tinyLlama } from "./test-support.js";

describe("buildSyntheticVocab", () => {
  it("is deterministic per seed and hits the requested size", () => {
    for (const kind of ["spm", "gpt2"] as const) {
      const a = buildSyntheticVocab(kind, { size: 1024, seed: 1 });
      const b = buildSyntheticVocab(kind, { size: 1024, seed: 1 });
      const c = buildSyntheticVocab(kind, { size: 1024, seed: 2 });
      assert.deepEqual([...a], [...b]);
      assert.notDeepEqual(a.get("tokenizer.ggml.tokens"), c.get("tokenizer.ggml.tokens"));
      for (const size of [512, 2048]) {
        assert.equal(tokenizerFromGguf(buildSyntheticVocab(kind, { size })).vocabSize, size);
      }
    }
    assert.throws(() => buildSyntheticVocab("gpt2", { size: 100 }), /size/);
  });

  it("spm: <unk> <s> </s>, 256 byte tokens, then learned pieces with real merges", () => {
    const md = buildSyntheticVocab("spm", { size: 800 });
    const tokens = md.get("tokenizer.ggml.tokens")!.value as string[];
    const types = md.get("tokenizer.ggml.token_type")!.value as number[];
    assert.deepEqual(tokens.slice(0, 4), ["<unk>", "<s>", "</s>", "<0x00>"]);
    assert.equal(tokens[258], "<0xFF>");
    assert.deepEqual(types.slice(0, 4), [2, 3, 3, 6]);
    assert.ok(tokens.includes("\u2581the") && tokens.some((t) => [...t].length >= 5));
    const tok = tokenizerFromGguf(md);
    const text = "Once upon a time, the robot counted boats.";
    const ids = tok.encode(text);
    assert.equal(ids[0], 1);
    assert.ok(ids.length < text.length / 2, `merges shorten the text (${ids.length} tokens)`);
  });

  it("gpt2: byte alphabet, merges, ChatML control tokens and template", () => {
    const md = buildSyntheticVocab("gpt2", { size: 800 });
    const tok = tokenizerFromGguf(md);
    const tokens = md.get("tokenizer.ggml.tokens")!.value as string[];
    assert.deepEqual(tokens.slice(-3), ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]);
    assert.equal(md.get("tokenizer.ggml.pre")!.value, "qwen2");
    assert.equal(buildSyntheticVocab("gpt2", { size: 600, pre: "llama-bpe" }).get("tokenizer.ggml.pre")!.value, "llama-bpe");
    assert.deepEqual([tok.addBos, tok.eos, tok.eot, tok.isEog(797), tok.isEog(799)], [false, 799, 799, true, true]);
    const prompt = renderChat(chatTemplateFromGguf(md), [{ role: "user", content: "hi" }], { addGenerationPrompt: true });
    const ids = tok.encode(prompt, { parseSpecial: true });
    assert.equal(ids[0], 798);
    assert.equal(tok.decode(ids, { special: true }), prompt);
    for (const text of SAMPLE_TEXTS) assert.equal(tok.decode(tok.encode(text)), text);
  });

  it("is accepted by llama.cpp, which tokenizes exactly as we do", async () => {
    const cases = [["spm", undefined], ["gpt2", "qwen2"], ["gpt2", "llama-bpe"], ["gpt2", "gpt-2"], ["gpt2", "smollm"], ["gpt2", "default"]] as const;
    for (const [kind, pre] of cases) {
      const md = buildSyntheticVocab(kind, { size: 700, pre });
      const path = join(tmpdir(), `tessera-tok-${process.pid}-${kind}-${pre ?? "spm"}.gguf`);
      await writeGguf(path, tinyLlama(md));
      try {
        const model = await loadReference(path);
        try {
          const tok = tokenizerFromGguf(md);
          for (const text of SAMPLE_TEXTS) {
            for (const parseSpecial of [false, true]) {
              const ours = tok.encode(text, { addSpecial: false, parseSpecial });
              assert.deepEqual(ours, Array.from(model.tokenize(text, parseSpecial)), `${kind}/${pre}: ${JSON.stringify(text)}`);
              assert.equal(tok.decode(ours), model.detokenize(ours), `${kind}/${pre}: ${JSON.stringify(text)}`);
            }
          }
          for (let id = 0; id < tok.vocabSize; id++) {
            assert.equal(tok.decode([id], { special: true }), model.detokenize([id], true), `${kind}/${pre} token ${id}`);
            assert.equal(tok.isEog(id), model.isEogToken(id), `${kind}/${pre} token ${id}`);
          }
        } finally {
          await model.dispose();
        }
      } finally {
        await rm(path, { force: true });
      }
    }
  });
});
