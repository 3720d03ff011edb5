// Streaming detokenization: split UTF-8 sequences are held back, the leading-space rule follows llama.cpp.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readGgufHeader } from "../gguf/reader.js";
import { tokenizerFromGguf } from "./tokenizer.js";
import { StreamDecoder, incompleteTail } from "./stream.js";
import { buildSyntheticVocab } from "./synth.js";
import type { Tokenizer } from "./types.js";
import { STORIES_PATH } from "./test-support.js";

function streamAll(tok: Tokenizer, ids: readonly number[], opts?: { stripLeadingSpace?: boolean }) {
  const d = new StreamDecoder(tok, opts);
  const parts = ids.map((id) => d.push(id));
  return { parts, text: parts.join("") + d.flush() };
}

describe("StreamDecoder", () => {
  let spm: Tokenizer;
  before(async () => {
    spm = tokenizerFromGguf((await readGgufHeader(STORIES_PATH)).metadata);
  });

  it("holds back emoji split across byte-fallback tokens", () => {
    const ids = spm.encode("🙂👍🏽 ok", { addSpecial: false });
    assert.ok(ids.length >= 12, "the emoji are spelled with byte tokens");
    const { parts, text } = streamAll(spm, ids);
    assert.equal(text, "🙂👍🏽 ok");
    assert.ok(parts.every((p) => !p.includes("\uFFFD")));
    assert.ok(parts.filter((p) => p === "").length >= 9, "partial sequences produce no text");
    assert.equal(parts.find((p) => p !== ""), "🙂");
  });

  it("strips the first token's leading space like llama_detokenize of the generated ids", () => {
    const ids = spm.encode("Once upon a time", { addSpecial: false });
    assert.equal(streamAll(spm, ids).text, spm.decode(ids));
    assert.equal(streamAll(spm, ids).text, "Once upon a time");
    assert.equal(streamAll(spm, ids, { stripLeadingSpace: false }).text, " Once upon a time");
    // A BOS first uses up the rule, as in llama.cpp.
    assert.equal(streamAll(spm, [spm.bos!, ...ids]).text, " Once upon a time");
  });

  it("reassembles byte-level BPE pieces", () => {
    const tok = tokenizerFromGguf(buildSyntheticVocab("gpt2", { size: 600 }));
    const text = "Привет 日本語 🦀🙂 done";
    const ids = tok.encode(text);
    const { parts, text: out } = streamAll(tok, ids);
    assert.equal(out, text);
    assert.ok(parts.every((p) => !p.includes("\uFFFD")));
  });

  it("flushes an unfinished sequence as a replacement character", () => {
    const d = new StreamDecoder(spm);
    const first = spm.encode("🙂", { addSpecial: false }).filter((id) => spm.tokenText(id).startsWith("<0x"));
    assert.equal(d.push(first[0]!), "");
    assert.equal(d.flush(), "\uFFFD");
    assert.equal(incompleteTail(Uint8Array.of(0x61, 0xf0, 0x9f)), 2);
    assert.equal(incompleteTail(Uint8Array.of(0xf0, 0x9f, 0x99, 0x82)), 0);
  });
});
