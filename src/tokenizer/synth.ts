// Synthetic tokenizer metadata for the random-weight model generator: a BPE vocabulary trained on the
// built-in corpus, laid out the way llama.cpp's converters lay out a SentencePiece ("llama") or a GPT-2
// byte-level ("gpt2") vocabulary, returned as the complete set of `tokenizer.*` GGUF entries.
import { GgufValueType, type GgufMetaValue } from "../gguf/format.js";
import { CHATML_TEMPLATE } from "./chat.js";
import { TokenizerError } from "./errors.js";
import { SUPPORTED_PRE, preTokenizer } from "./pretokenize.js";
import { SYNTH_CORPUS } from "./synth-corpus.js";
import { trainBpe } from "./train-bpe.js";
import { TokenType } from "./types.js";
import { BYTE_TO_UNICODE, byteEncode, codePoints } from "./unicode.js";

export interface SyntheticVocabOptions {
  /** Total number of tokens, specials and byte tokens included. */
  readonly size: number;
  /** Changes how frequency ties are broken while training. Default 0. */
  readonly seed?: number;
  /** gpt2 only: the tokenizer.ggml.pre to train and tag the vocabulary with. Default "qwen2". */
  readonly pre?: string;
  /** Training text; defaults to the built-in corpus. */
  readonly corpus?: string;
}

export const GPT2_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const;

const str = (value: string): GgufMetaValue => ({ type: GgufValueType.STRING, value });
const u32 = (value: number): GgufMetaValue => ({ type: GgufValueType.UINT32, value });
const bool = (value: boolean): GgufMetaValue => ({ type: GgufValueType.BOOL, value });
const strArr = (value: readonly string[]): GgufMetaValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value });
const i32Arr = (value: readonly number[]): GgufMetaValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.INT32, value });
const f32Arr = (value: readonly number[]): GgufMetaValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.FLOAT32, value });

/** Deterministic made-up words from a small syllable set (xorshift32 on the seed). */
export function pseudoWords(count: number, seed: number): string {
  const onsets = ["", "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "ch", "sh"];
  const vowels = ["a", "e", "i", "o", "u", "ai", "ou", "é", "ö", "y"];
  const codas = ["", "", "n", "r", "s", "l", "m", "k"];
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const next = (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  const words: string[] = [];
  for (let i = 0; i < count; i++) {
    let w = "";
    for (let k = 1 + next(3); k > 0; k--) w += onsets[next(onsets.length)]! + vowels[next(vowels.length)]! + codas[next(codas.length)]!;
    words.push(i % 13 === 0 ? w[0]!.toUpperCase() + w.slice(1) : w);
  }
  return words.join(" ");
}

type WordTable = Map<string, { symbols: string[]; count: number }>;

function addWord(table: WordTable, word: string, symbols: () => string[]): void {
  const w = table.get(word);
  if (w) w.count++;
  else table.set(word, { symbols: symbols(), count: 1 });
}

export function buildSyntheticVocab(kind: "spm" | "gpt2", opts: SyntheticVocabOptions): Map<string, GgufMetaValue> {
  const size = opts.size;
  if (!Number.isInteger(size) || size < 300 || size > 65536) {
    throw new TokenizerError(`synthetic vocabulary size must be an integer in [300, 65536], got ${size}`);
  }
  const seed = opts.seed ?? 0;
  // The prose alone runs out of distinct merges near 1.5k tokens; seeded made-up words give the rest.
  const corpus = (opts.corpus ?? SYNTH_CORPUS) + "\n" + pseudoWords(size, seed);
  return kind === "spm" ? buildSpm(size, seed, corpus) : buildGpt2(size, seed, corpus, opts.pre ?? "qwen2");
}

function buildSpm(size: number, seed: number, corpus: string): Map<string, GgufMetaValue> {
  const texts = ["<unk>", "<s>", "</s>"];
  const types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  for (let b = 0; b < 256; b++) {
    texts.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(TokenType.BYTE);
  }
  // Words as SentencePiece sees them: spaces escaped as "▁", a "▁" in front of each line (add_space_prefix).
  const table: WordTable = new Map();
  const charCount = new Map<number, number>();
  for (const line of corpus.split("\n")) {
    const escaped = "\u2581" + line.replaceAll(" ", "\u2581");
    for (const word of escaped.match(/\u2581*[^\u2581\s]+|\u2581+/gu) ?? []) {
      addWord(table, word, () => codePoints(word).map((c) => String.fromCodePoint(c)));
      for (const c of codePoints(word)) charCount.set(c, (charCount.get(c) ?? 0) + 1);
    }
  }
  // Half the remaining room goes to single characters (most frequent first), the rest to merges;
  // characters left out are reached through the byte tokens.
  const room = size - texts.length;
  const chars = [...charCount.entries()]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, Math.floor(room / 2))
    .map(([c]) => String.fromCodePoint(c));
  const known = new Set([...texts, ...chars]);
  const learned = trainBpe(table, room - chars.length, known, seed).tokens;
  const pieces = [...learned, ...chars];
  const scores = texts.map(() => 0);
  pieces.forEach((p, rank) => {
    texts.push(p);
    types.push(TokenType.NORMAL);
    scores.push(-rank);
  });
  return new Map<string, GgufMetaValue>([
    ["tokenizer.ggml.model", str("llama")],
    ["tokenizer.ggml.tokens", strArr(texts)],
    ["tokenizer.ggml.scores", f32Arr(scores)],
    ["tokenizer.ggml.token_type", i32Arr(types)],
    ["tokenizer.ggml.bos_token_id", u32(1)],
    ["tokenizer.ggml.eos_token_id", u32(2)],
    ["tokenizer.ggml.unknown_token_id", u32(0)],
    ["tokenizer.ggml.add_bos_token", bool(true)],
    ["tokenizer.ggml.add_eos_token", bool(false)],
    ["tokenizer.ggml.add_space_prefix", bool(true)],
  ]);
}

function buildGpt2(size: number, seed: number, corpus: string, pre: string): Map<string, GgufMetaValue> {
  if (!SUPPORTED_PRE.includes(pre)) {
    throw new TokenizerError(`unsupported pre-tokenizer "${pre}"; supported: ${SUPPORTED_PRE.join(", ")}`);
  }
  const texts = [...BYTE_TO_UNICODE];
  const table: WordTable = new Map();
  for (const word of preTokenizer(pre).split(corpus)) {
    const enc = byteEncode(word);
    addWord(table, enc, () => [...enc]);
  }
  const learned = trainBpe(table, size - texts.length - GPT2_SPECIAL_TOKENS.length, new Set(texts), seed);
  texts.push(...learned.tokens);
  const types = texts.map(() => TokenType.NORMAL as number);
  const specialBase = texts.length;
  for (const s of GPT2_SPECIAL_TOKENS) {
    texts.push(s);
    types.push(TokenType.CONTROL);
  }
  const [endOfText, , imEnd] = [specialBase, specialBase + 1, specialBase + 2];
  return new Map<string, GgufMetaValue>([
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.pre", str(pre)],
    ["tokenizer.ggml.tokens", strArr(texts)],
    ["tokenizer.ggml.token_type", i32Arr(types)],
    ["tokenizer.ggml.merges", strArr(learned.merges.map(([a, b]) => `${a} ${b}`))],
    ["tokenizer.ggml.bos_token_id", u32(endOfText)],
    ["tokenizer.ggml.eos_token_id", u32(imEnd)],
    ["tokenizer.ggml.eot_token_id", u32(imEnd)],
    ["tokenizer.ggml.padding_token_id", u32(endOfText)],
    ["tokenizer.ggml.add_bos_token", bool(false)],
    ["tokenizer.ggml.add_eos_token", bool(false)],
    ["tokenizer.chat_template", str(CHATML_TEMPLATE)],
  ]);
}
