// SentencePiece-style merging as llama.cpp's llm_tokenizer_spm does it: start from single code points and
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring token (ties: leftmost
// first); whatever never became a token falls back to <0xNN> byte tokens.
import { TokenizerError } from "./errors.js";
import { Heap } from "./heap.js";
import { utf8 } from "./unicode.js";
import type { Vocab } from "./vocab.js";

interface Bigram {
  readonly left: number;
  readonly right: number;
  readonly score: number;
  readonly size: number;
}

const before = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

/** Tokenize text whose spaces are already escaped as "▁". */
export function spmTokenize(v: Vocab, text: string, out: number[]): void {
  if (text.length === 0) return;
  // Symbols are code points, addressed by UTF-16 offset and length into `text`.
  const start: number[] = [];
  const len: number[] = [];
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    const l = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
    start.push(i);
    len.push(l);
    i += l;
  }
  const count = start.length;
  const prev = start.map((_, i) => i - 1);
  const next = start.map((_, i) => (i + 1 < count ? i + 1 : -1));
  const queue = new Heap<Bigram>(before);

  const tryAdd = (l: number, r: number) => {
    if (l < 0 || r < 0) return;
    const size = len[l]! + len[r]!;
    const id = v.tokenToId.get(text.substr(start[l]!, size));
    if (id === undefined) return;
    queue.push({ left: l, right: r, score: v.scores[id]!, size });
  };
  for (let i = 1; i < count; i++) tryAdd(i - 1, i);

  for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
    const l = b.left;
    const r = b.right;
    // A stale entry: one side was merged away or grew since the pair was queued.
    if (len[l] === 0 || len[r] === 0 || len[l]! + len[r]! !== b.size) continue;
    len[l] = len[l]! + len[r]!;
    len[r] = 0;
    next[l] = next[r]!;
    if (next[r]! >= 0) prev[next[r]!] = l;
    tryAdd(prev[l]!, l);
    tryAdd(l, next[l]!);
  }

  for (let i = 0; i !== -1; i = next[i]!) {
    const piece = text.substr(start[i]!, len[i]!);
    const id = v.tokenToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const byte of utf8(piece)) out.push(byteToken(v, byte));
  }
}

/** llama_vocab::byte_to_token for SentencePiece vocabularies. */
export function byteToken(v: Vocab, byte: number): number {
  const hex = byte.toString(16).toUpperCase().padStart(2, "0");
  const id = v.tokenToId.get(`<0x${hex}>`) ?? (byte < 0x80 ? v.tokenToId.get(String.fromCharCode(byte)) : undefined);
  if (id === undefined) throw new TokenizerError(`vocabulary has no byte token for 0x${hex}`);
  return id;
}
