// tokenizerFromGguf: llama.cpp's llama_tokenize / llama_token_to_piece / llama_detokenize over GGUF metadata.
import type { GgufMetadata } from "../gguf/format.js";
import { bpeTokenize } from "./bpe.js";
import { TokenizerError } from "./errors.js";
import { partition } from "./partition.js";
import { spmTokenize } from "./spm.js";
import { TokenAttr, type DecodeOptions, type EncodeOptions, type Tokenizer } from "./types.js";
import { loadVocab, type Vocab } from "./vocab.js";

const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder("utf-8");

export function tokenizerFromGguf(md: GgufMetadata): Tokenizer {
  return new GgufTokenizer(loadVocab(md));
}

class GgufTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos?: number;
  readonly eos?: number;
  readonly eot?: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;

  constructor(private readonly v: Vocab) {
    this.vocabSize = v.texts.length;
    this.bos = v.bos;
    this.eos = v.eos;
    this.eot = v.eot;
    this.addBos = v.addBos;
    this.addEos = v.addEos;
    this.addSpacePrefix = v.addSpacePrefix;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const addSpecial = opts.addSpecial ?? true;
    const v = this.v;
    const out: number[] = [];
    if (addSpecial && v.addBos) out.push(required(v.bos, "BOS"));
    // SentencePiece: a text fragment that starts the input or follows a special token gets a leading space.
    let prevSpecial = true;
    for (const f of partition(v, text, opts.parseSpecial ?? false)) {
      if ("token" in f) {
        out.push(f.token);
        prevSpecial = true;
      } else if (v.kind === "spm") {
        const t = v.addSpacePrefix && prevSpecial ? " " + f.text : f.text;
        spmTokenize(v, t.replaceAll(" ", "\u2581"), out);
        prevSpecial = false;
      } else {
        bpeTokenize(v, f.text, out);
      }
    }
    if (addSpecial && v.addEos) out.push(required(v.eos, "EOS"));
    return out;
  }

  tokenPiece(id: number, special = false): Uint8Array {
    const v = this.v;
    if (!Number.isInteger(id) || id < 0 || id >= v.texts.length) {
      throw new TokenizerError(`token id ${id} out of range [0, ${v.texts.length})`);
    }
    if (!special && v.attrs[id]! & (TokenAttr.UNKNOWN | TokenAttr.CONTROL)) return EMPTY;
    return v.pieces[id]!;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return decoder.decode(this.decodeBytes(ids, opts.special ?? false));
  }

  /** llama_detokenize(remove_special = false) as bytes. */
  decodeBytes(ids: readonly number[], special: boolean): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    ids.forEach((id, i) => {
      let p = this.tokenPiece(id, special);
      // The space SentencePiece put in front of the text comes off the first token only.
      if (i === 0 && this.v.addSpacePrefix && p.length > 0 && p[0] === 0x20) p = p.subarray(1);
      parts.push(p);
      total += p.length;
    });
    const bytes = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    return this.v.pre?.cleanSpaces ? cleanSpaces(bytes) : bytes;
  }

  isEog(id: number): boolean {
    return this.v.eog.has(id);
  }

  tokenText(id: number): string {
    const t = this.v.texts[id];
    if (t === undefined) throw new TokenizerError(`token id ${id} out of range [0, ${this.v.texts.length})`);
    return t;
  }
}

function required(id: number | undefined, what: string): number {
  if (id === undefined) throw new TokenizerError(`model asks for ${what} but has no ${what} token`);
  return id;
}

const SPACE = 0x20;
const APOS = 0x27;
const ch = (s: string) => s.charCodeAt(0);

/** clean_up_tokenization_spaces, in llama.cpp's three passes over the detokenized bytes. */
export function cleanSpaces(t: Uint8Array): Uint8Array {
  if (t.length === 0) return t;
  // " ?", " !", " .", " ," lose the space.
  let src = Array.from(t);
  let out = [src[0]!];
  for (let i = 1; i < src.length; i++) {
    const x = src[i]!;
    if (src[i - 1] === SPACE && (x === ch("?") || x === ch("!") || x === ch(".") || x === ch(","))) out.pop();
    out.push(x);
  }
  // " ' " becomes "'".
  src = out;
  out = [src[0]!];
  for (let i = 1; i < src.length; i++) {
    const x = src[i]!;
    if (x === APOS && i + 1 < src.length && src[i - 1] === SPACE && src[i + 1] === SPACE) {
      out.pop();
      src[i + 1] = 0; // llama.cpp overwrites the following space with NUL in place; it is then skipped
      out.push(x);
      i++;
      continue;
    }
    out.push(x);
  }
  // " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it).
  src = out;
  out = [src[0]!];
  for (let i = 1; i < src.length; i++) {
    const x = src[i]!;
    if (src[i - 1] === SPACE && x === APOS && i + 1 < src.length) {
      const x1 = src[i + 1]!;
      if (x1 === ch("s") || x1 === ch("m")) out.pop();
      else if (x1 !== ch("t") && x1 !== ch("d") && i + 2 < src.length) {
        const x2 = src[i + 2]!;
        if ((x1 === ch("r") && x2 === ch("e")) || (x1 === ch("v") && x2 === ch("e"))) out.pop();
      }
    }
    out.push(x);
  }
  return Uint8Array.from(out);
}
