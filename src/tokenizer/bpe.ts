// Byte-level BPE as llama.cpp's llm_tokenizer_bpe does it: pre-tokenize into words, map each word's UTF-8
// bytes to GPT-2's printable alphabet, then apply merges lowest rank first (ties: leftmost first).
import { Heap } from "./heap.js";
import { byteEncode, utf8 } from "./unicode.js";
import type { Vocab } from "./vocab.js";

interface Bigram {
  readonly left: number;
  readonly right: number;
  readonly text: string;
  readonly rank: number;
}

const before = (a: Bigram, b: Bigram) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

export function bpeTokenize(v: Vocab, text: string, out: number[]): void {
  const pre = v.pre!;
  for (const raw of pre.split(text)) {
    const word = byteEncode(raw);
    if (pre.ignoreMerges) {
      const whole = v.tokenToId.get(word);
      if (whole !== undefined) {
        out.push(whole);
        continue;
      }
    }
    mergeWord(v, word, out);
  }
}

function mergeWord(v: Vocab, word: string, out: number[]): void {
  // Every char of a byte-encoded word is one BMP code point, so symbol i starts as word[i].
  const n = word.length;
  const start = Array.from({ length: n }, (_, i) => i);
  const len = new Array<number>(n).fill(1);
  const prev = start.map((i) => i - 1);
  const next = start.map((i) => (i + 1 < n ? i + 1 : -1));
  const ranks = v.mergeRanks!;
  const queue = new Heap<Bigram>(before);
  const sym = (i: number) => word.substr(start[i]!, len[i]!);

  const tryAdd = (l: number, r: number) => {
    if (l < 0 || r < 0) return;
    const a = sym(l);
    const b = sym(r);
    const rank = ranks.get(a + " " + b);
    if (rank === undefined) return;
    queue.push({ left: l, right: r, text: a + b, rank });
  };
  for (let i = 1; i < n; i++) tryAdd(i - 1, i);

  for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
    const l = b.left;
    const r = b.right;
    if (len[l] === 0 || len[r] === 0 || sym(l) + sym(r) !== b.text) continue;
    len[l] = len[l]! + len[r]!;
    len[r] = 0;
    next[l] = next[r]!;
    if (next[r]! >= 0) prev[next[r]!] = l;
    tryAdd(prev[l]!, l);
    tryAdd(l, next[l]!);
  }

  for (let i = 0; i < n; i++) {
    if (len[i] === 0) continue;
    const piece = sym(i);
    const id = v.tokenToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    // llama.cpp looks up each UTF-8 byte of the unknown piece as a one-byte token and drops those it lacks;
    // only ASCII bytes can ever match.
    for (const byte of utf8(piece)) {
      if (byte >= 0x80) continue;
      const bid = v.tokenToId.get(String.fromCharCode(byte));
      if (bid !== undefined) out.push(bid);
    }
  }
}
