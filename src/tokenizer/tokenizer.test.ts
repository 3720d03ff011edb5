// stories260K's SentencePiece vocabulary against llama.cpp (node-llama-cpp) itself.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readGgufHeader } from "../gguf/reader.js";
import { tokenizerFromGguf } from "./tokenizer.js";
import { TokenizerError } from "./errors.js";
import { GgufValueType, type GgufMetaValue } from "../gguf/format.js";
import type { Tokenizer } from "./types.js";
import { SAMPLE_TEXTS, STORIES_PATH, loadReference, type ReferenceModel } from "./test-support.js";

describe("SentencePiece tokenizer (stories260K)", () => {
  let tok: Tokenizer;
  let model: ReferenceModel;
  before(async () => {
    tok = tokenizerFromGguf((await readGgufHeader(STORIES_PATH)).metadata);
    model = await loadReference(STORIES_PATH);
  });
  after(async () => {
    await model?.dispose();
  });

  it("encodes the reference prompt", () => {
    assert.deepEqual(tok.encode("Once upon a time"), [1, 403, 407, 261, 378]);
    assert.deepEqual(tok.encode("Once upon a time", { addSpecial: false }), [403, 407, 261, 378]);
    assert.equal(tok.vocabSize, 512);
    assert.deepEqual([tok.bos, tok.eos, tok.eot, tok.addBos, tok.addEos], [1, 2, undefined, true, false]);
  });

  it("matches llama.cpp's tokenize and detokenize on varied text", () => {
    for (const text of SAMPLE_TEXTS) {
      for (const parseSpecial of [false, true]) {
        const ours = tok.encode(text, { addSpecial: false, parseSpecial });
        assert.deepEqual(ours, Array.from(model.tokenize(text, parseSpecial)), JSON.stringify(text));
        assert.equal(tok.decode(ours), model.detokenize(ours), JSON.stringify(text));
      }
      const withBos = tok.encode(text);
      assert.equal(tok.decode(withBos), model.detokenize(withBos));
      assert.equal(tok.decode(withBos, { special: true }), model.detokenize(withBos, true));
    }
  });

  it("round-trips text without special tokens", () => {
    for (const text of SAMPLE_TEXTS) {
      if (text.includes("<s>") || text.includes("</s>")) continue;
      assert.equal(tok.decode(tok.encode(text, { addSpecial: false })), text);
    }
    assert.deepEqual(tok.encode(""), [1]);
    assert.deepEqual(tok.encode("", { addSpecial: false }), []);
  });

  it("renders every token and the EOG set like llama.cpp", () => {
    for (let id = 0; id < tok.vocabSize; id++) {
      assert.equal(tok.decode([id]), model.detokenize([id]), `token ${id}`);
      assert.equal(tok.decode([id], { special: true }), model.detokenize([id], true), `token ${id}`);
      assert.equal(tok.isEog(id), model.isEogToken(id), `token ${id}`);
    }
    assert.deepEqual([...tok.tokenPiece(2, true)], [...new TextEncoder().encode("</s>")]);
    assert.equal(tok.tokenPiece(2).length, 0);
    assert.throws(() => tok.tokenPiece(512), TokenizerError);
  });

  it("encodes a few KB quickly enough to be usable", () => {
    const text = SAMPLE_TEXTS.join(" ").repeat(40);
    const ids = tok.encode(text, { addSpecial: false });
    assert.equal(tok.decode(ids), text);
  });
});

describe("tokenizerFromGguf metadata handling", () => {
  const arr = (itemType: GgufValueType, value: readonly (string | number)[]): GgufMetaValue => ({
    type: GgufValueType.ARRAY, itemType, value,
  });
  it("rejects unknown models and pre-tokenizers, naming the supported ones", () => {
    const md = new Map<string, GgufMetaValue>([
      ["tokenizer.ggml.model", { type: GgufValueType.STRING, value: "gpt2" }],
      ["tokenizer.ggml.pre", { type: GgufValueType.STRING, value: "nope" }],
      ["tokenizer.ggml.tokens", arr(GgufValueType.STRING, ["a", "b"])],
      ["tokenizer.ggml.merges", arr(GgufValueType.STRING, ["a b"])],
    ]);
    assert.throws(() => tokenizerFromGguf(md), /unsupported tokenizer\.ggml\.pre "nope".*qwen2.*smollm/);
    md.set("tokenizer.ggml.model", { type: GgufValueType.STRING, value: "bert" });
    assert.throws(() => tokenizerFromGguf(md), TokenizerError);
  });
  it("uses llama.cpp's defaults: SPM ids 1/2/0 and BOS on, unknown token for out-of-range ids", () => {
    const md = new Map<string, GgufMetaValue>([
      ["tokenizer.ggml.model", { type: GgufValueType.STRING, value: "llama" }],
      ["tokenizer.ggml.tokens", arr(GgufValueType.STRING, ["<unk>", "<s>", "</s>", "\u2581a", "a"])],
      ["tokenizer.ggml.eos_token_id", { type: GgufValueType.UINT32, value: 0xffffffff }],
    ]);
    const t = tokenizerFromGguf(md);
    assert.deepEqual([t.bos, t.eos, t.addBos, t.addSpacePrefix], [1, 2, true, true]);
    assert.deepEqual(t.encode("a"), [1, 3]);
    // No byte tokens: llama.cpp cannot encode "b" either.
    assert.throws(() => t.encode("b"), /no byte token/);
  });
});
