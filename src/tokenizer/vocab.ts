// The vocabulary as llama.cpp's llama_vocab::load builds it from GGUF metadata: token texts, scores and
// attributes, special ids with their per-model defaults, the add_bos/add_eos/add_space_prefix flags, the
// end-of-generation set and the two caches (special tokens longest first, rendered pieces).
import {
  GgufError,
  GgufValueType,
  metaOptBool,
  metaOptNumberArray,
  metaOptString,
  metaOptStringArray,
  metaString,
  type GgufMetadata,
} from "../gguf/format.js";
import { TokenizerError } from "./errors.js";
import { preTokenizer, type PreTokenizer } from "./pretokenize.js";
import { TokenAttr, TokenType } from "./types.js";
import { UNICODE_TO_BYTE, codePoints, utf8 } from "./unicode.js";

export interface Vocab {
  readonly kind: "spm" | "bpe";
  readonly texts: readonly string[];
  readonly scores: Float64Array;
  readonly attrs: Uint16Array;
  readonly tokenToId: ReadonlyMap<string, number>;
  readonly bos?: number;
  readonly eos?: number;
  readonly eot?: number;
  readonly eom?: number;
  readonly unk?: number;
  readonly eog: ReadonlySet<number>;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  /** BPE only. */
  readonly pre?: PreTokenizer;
  /** BPE only: "left right" -> rank (the index of the first occurrence in tokenizer.ggml.merges). */
  readonly mergeRanks?: ReadonlyMap<string, number>;
  /** Control, user-defined and unknown tokens, longest text first (tokenizer_st_partition's order). */
  readonly specialCache: readonly number[];
  /** token_to_piece(id, special = true) for every id. */
  readonly pieces: readonly Uint8Array[];
}

const EOT_NAMES = [
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
  "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
];
const FIM_PAD_NAMES = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP_NAMES = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
const FIM_SEP_NAMES = ["<|file_sep|>"];
const EOG_NAMES = new Set([
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
  "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
  "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
]);

function typeToAttr(t: number): number {
  switch (t) {
    case TokenType.UNKNOWN: return TokenAttr.UNKNOWN;
    case TokenType.UNUSED: return TokenAttr.UNUSED;
    case TokenType.NORMAL: return TokenAttr.NORMAL;
    case TokenType.CONTROL: return TokenAttr.CONTROL;
    case TokenType.USER_DEFINED: return TokenAttr.USER_DEFINED;
    case TokenType.BYTE: return TokenAttr.BYTE;
    default: return TokenAttr.UNDEFINED;
  }
}

/** A special-id key: a value outside the vocabulary keeps the default, as llama.cpp does (with a warning). */
function specialId(md: GgufMetadata, key: string, dflt: number | undefined, n: number): number | undefined {
  let id = dflt !== undefined && dflt < n ? dflt : undefined;
  const v = md.get(key);
  if (v !== undefined && (typeof v.value === "number" || typeof v.value === "bigint")) {
    const x = Number(v.value);
    if (Number.isInteger(x) && x >= 0 && x < n) id = x;
  }
  return id;
}

function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof GgufError) throw new TokenizerError(e.message);
    throw e;
  }
}

export function loadVocab(md: GgufMetadata): Vocab {
  return wrap(() => build(md));
}

function build(md: GgufMetadata): Vocab {
  const model = metaString(md, "tokenizer.ggml.model");
  let kind: "spm" | "bpe";
  let pre: PreTokenizer | undefined;
  let mergeRanks: Map<string, number> | undefined;
  let dBos: number | undefined;
  let dEos: number | undefined;
  let dUnk: number | undefined;
  let addBos: boolean;
  let addSpacePrefix: boolean;
  if (model === "llama") {
    kind = "spm";
    [dBos, dEos, dUnk] = [1, 2, 0];
    addBos = true;
    addSpacePrefix = true;
  } else if (model === "gpt2") {
    kind = "bpe";
    [dBos, dEos, dUnk] = [11, 11, undefined];
    pre = preTokenizer(metaOptString(md, "tokenizer.ggml.pre"));
    // llama.cpp turns add_bos on for the Llama-3 family before reading the metadata flag.
    addBos = pre.ignoreMerges;
    addSpacePrefix = false;
    const merges = metaOptStringArray(md, "tokenizer.ggml.merges");
    if (merges === undefined) throw new TokenizerError("gpt2 tokenizer without tokenizer.ggml.merges");
    mergeRanks = new Map();
    merges.forEach((m, i) => {
      const sp = m.indexOf(" ", 1);
      const key = sp < 0 ? " " : m;
      if (!mergeRanks!.has(key)) mergeRanks!.set(key, i);
    });
  } else {
    throw new TokenizerError(`unsupported tokenizer.ggml.model "${model}" (supported: llama, gpt2)`);
  }
  addSpacePrefix = metaOptBool(md, "tokenizer.ggml.add_space_prefix") ?? addSpacePrefix;

  const rawTexts = metaOptStringArray(md, "tokenizer.ggml.tokens");
  if (rawTexts === undefined) throw new TokenizerError("missing tokenizer.ggml.tokens");
  const n = rawTexts.length;
  const texts = rawTexts.map((t, i) => (t === "" ? `[EMPTY_${i}]` : t));
  const scores = new Float64Array(n);
  const sc = metaOptNumberArray(md, "tokenizer.ggml.scores");
  if (sc !== undefined) {
    if (sc.length < n) throw new TokenizerError(`tokenizer.ggml.scores has ${sc.length} entries for ${n} tokens`);
    for (let i = 0; i < n; i++) scores[i] = Math.fround(sc[i]!);
  }
  const attrs = new Uint16Array(n).fill(TokenAttr.NORMAL);
  const tt = md.get("tokenizer.ggml.token_type");
  if (tt !== undefined) {
    if (tt.type !== GgufValueType.ARRAY) throw new TokenizerError("tokenizer.ggml.token_type is not an array");
    const types = metaOptNumberArray(md, "tokenizer.ggml.token_type")!;
    if (types.length < n) throw new TokenizerError(`tokenizer.ggml.token_type has ${types.length} entries for ${n} tokens`);
    for (let i = 0; i < n; i++) attrs[i] = typeToAttr(types[i]!);
  }
  const tokenToId = new Map<string, number>();
  texts.forEach((t, i) => tokenToId.set(t, i));

  const bos = specialId(md, "tokenizer.ggml.bos_token_id", dBos, n);
  const eos = specialId(md, "tokenizer.ggml.eos_token_id", dEos, n);
  let eot = specialId(md, "tokenizer.ggml.eot_token_id", undefined, n);
  let eom = specialId(md, "tokenizer.ggml.eom_token_id", undefined, n);
  const unk = specialId(md, "tokenizer.ggml.unknown_token_id", dUnk, n);
  let fimPad = specialId(md, "tokenizer.ggml.fim_pad_token_id", undefined, n);
  let fimRep = specialId(md, "tokenizer.ggml.fim_rep_token_id", undefined, n);
  let fimSep = specialId(md, "tokenizer.ggml.fim_sep_token_id", undefined, n);
  addBos = metaOptBool(md, "tokenizer.ggml.add_bos_token") ?? addBos;
  const addEos = metaOptBool(md, "tokenizer.ggml.add_eos_token") ?? false;

  // Tokens recognised by their text become control tokens, as llama.cpp forces. llama.cpp walks a hash map,
  // so when several texts qualify for one role its pick is unspecified; here the lowest id wins.
  const markControl = (id: number) => {
    attrs[id] = attrs[id]! | TokenAttr.CONTROL;
  };
  const byName = (names: readonly string[]): number | undefined => {
    let best: number | undefined;
    for (const name of names) {
      const id = tokenToId.get(name);
      if (id !== undefined && (best === undefined || id < best)) best = id;
    }
    if (best !== undefined) markControl(best);
    return best;
  };
  eot ??= byName(EOT_NAMES);
  eom ??= byName(["<|eom_id|>"]);
  fimPad ??= byName(FIM_PAD_NAMES);
  fimRep ??= byName(FIM_REP_NAMES);
  fimSep ??= byName(FIM_SEP_NAMES);

  const eog = new Set<number>();
  for (const id of [fimPad, fimRep, fimSep, eos, eot, eom]) if (id !== undefined) eog.add(id);
  for (const name of EOG_NAMES) {
    const id = tokenToId.get(name);
    if (id !== undefined) {
      eog.add(id);
      markControl(id);
    }
  }

  const specialCache: number[] = [];
  for (let i = 0; i < n; i++) {
    if (attrs[i]! & (TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN)) specialCache.push(i);
  }
  specialCache.sort((a, b) => texts[b]!.length - texts[a]!.length || a - b);
  // Lengths must be compared in UTF-8 bytes, as llama.cpp does; re-sort with byte lengths.
  const byteLen = new Map(specialCache.map((id) => [id, utf8(texts[id]!).length] as [number, number]));
  specialCache.sort((a, b) => byteLen.get(b)! - byteLen.get(a)! || a - b);

  const vocab = {
    kind, texts, scores, attrs, tokenToId, bos, eos, eot, eom, unk, eog, addBos, addEos, addSpacePrefix, pre,
    mergeRanks, specialCache, pieces: [] as Uint8Array[],
  };
  for (let i = 0; i < n; i++) vocab.pieces.push(renderPiece(vocab, i));
  return vocab;
}

const EMPTY = new Uint8Array(0);

/** llama_token_to_piece(special = true) without lstrip: what the piece cache holds. */
function renderPiece(v: Pick<Vocab, "kind" | "texts" | "attrs">, id: number): Uint8Array {
  const text = v.texts[id]!;
  const attr = v.attrs[id]!;
  if (attr & (TokenAttr.UNKNOWN | TokenAttr.CONTROL | TokenAttr.USER_DEFINED)) return utf8(text);
  if (attr & TokenAttr.NORMAL) {
    return v.kind === "spm" ? utf8(text.replaceAll("\u2581", " ")) : byteDecode(text);
  }
  if (attr & TokenAttr.BYTE) return Uint8Array.of(parseInt(text.slice(3, 5), 16) & 0xff);
  return EMPTY;
}

/** GPT-2 byte-level text back to bytes; characters outside the alphabet are rendered as llama.cpp does. */
function byteDecode(text: string): Uint8Array {
  const out: number[] = [];
  for (const cp of codePoints(text)) {
    const b = UNICODE_TO_BYTE.get(cp);
    if (b !== undefined) {
      out.push(b);
    } else {
      const bytes = utf8(String.fromCodePoint(cp));
      const hex = [...bytes].map((x) => x.toString(16).padStart(2, "0")).join("");
      out.push(...utf8(`[UNK_BYTE_0x${hex}${text}]`));
    }
  }
  return Uint8Array.from(out);
}
