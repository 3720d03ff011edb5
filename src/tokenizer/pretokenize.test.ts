// Word splits of each pre-tokenizer, worked out by hand from llama.cpp's unicode.cpp rules.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { preTokenizer, SUPPORTED_PRE } from "./pretokenize.js";
import { TokenizerError } from "./errors.js";

const split = (pre: string, text: string) => preTokenizer(pre).split(text);

describe("pre-tokenizers", () => {
  it("qwen2: single digits, letters with one leading non-letter, whitespace before words kept apart", () => {
    assert.deepEqual(split("qwen2", "Hello world  123"), ["Hello", " world", " ", " ", "1", "2", "3"]);
    assert.deepEqual(split("qwen2", "I'M ok.\n\nNext"), ["I", "'M", " ok", ".\n\n", "Next"]);
    assert.deepEqual(split("qwen2", "x  \n y"), ["x", "  \n", " y"]);
    assert.deepEqual(split("qwen2", "日本語 Привет!!"), ["日本語", " Привет", "!!"]);
    assert.deepEqual(split("qwen2", "   "), ["   "]);
  });
  it("llama-bpe: digits in groups of three, case-insensitive contractions", () => {
    assert.deepEqual(split("llama-bpe", "I'M 1234567"), ["I", "'M", " ", "123", "456", "7"]);
    assert.deepEqual(split("llama-bpe", "a  b"), ["a", " ", " b"]);
  });
  it("gpt-2: optional space before each class, lowercase contractions only", () => {
    assert.deepEqual(split("gpt-2", "I'm I'M 42!?"), ["I", "'m", " I", "'", "M", " 42", "!?"]);
    assert.deepEqual(split("gpt-2", "  hi\n"), [" ", " hi", "\n"]);
  });
  it("smollm isolates every digit before the GPT-2 pass; default splits punctuation runs first", () => {
    assert.deepEqual(split("smollm", "ab 123"), ["ab", " ", "1", "2", "3"]);
    assert.deepEqual(split("default", "hi, 12345"), ["hi", ",", " ", "123", "45"]);
  });
  it("rejects an unknown name and lists the supported ones", () => {
    assert.throws(() => preTokenizer("tekken"), (e: unknown) => e instanceof TokenizerError && SUPPORTED_PRE.every((p) => e.message.includes(p)));
  });
});
