// Incremental detokenization for generation: each pushed token returns the text it completes.
//
// - UTF-8 sequences split across tokens (byte-fallback <0xNN> tokens, byte-level BPE pieces) are held back
//   until complete; flush() emits whatever is left (invalid bytes as U+FFFD).
// - Leading space: with stripLeadingSpace (default: the model's add_space_prefix, i.e. SentencePiece models),
//   up to one space is removed from the very first pushed token, and only from it, exactly as
//   llama_detokenize(generated_ids) does. A first token that renders empty (a control token) still uses
//   up the rule. Pass false when appending to text that already ends in a word, to keep the space.
// - llama.cpp's clean_spaces post-pass (BPE "gpt-2"/"llama-bpe"/"default" only) needs look-ahead and is
//   not applied here; decode() applies it.
import type { Tokenizer } from "./types.js";

export interface StreamDecoderOptions {
  readonly stripLeadingSpace?: boolean;
  /** Render control tokens as their text. Default false. */
  readonly special?: boolean;
}

export class StreamDecoder {
  private pending = new Uint8Array(0);
  private first = true;
  private readonly strip: boolean;
  private readonly special: boolean;
  private readonly decoder = new TextDecoder("utf-8");

  constructor(private readonly tok: Tokenizer, opts: StreamDecoderOptions = {}) {
    this.strip = opts.stripLeadingSpace ?? tok.addSpacePrefix;
    this.special = opts.special ?? false;
  }

  push(id: number): string {
    let piece = this.tok.tokenPiece(id, this.special);
    if (this.first) {
      this.first = false;
      if (this.strip && piece.length > 0 && piece[0] === 0x20) piece = piece.subarray(1);
    }
    const buf = new Uint8Array(this.pending.length + piece.length);
    buf.set(this.pending);
    buf.set(piece, this.pending.length);
    const keep = incompleteTail(buf);
    this.pending = buf.slice(buf.length - keep);
    return this.decoder.decode(buf.subarray(0, buf.length - keep));
  }

  flush(): string {
    const rest = this.pending;
    this.pending = new Uint8Array(0);
    return this.decoder.decode(rest);
  }
}

/** Bytes at the end of buf that start a UTF-8 sequence not yet complete (0 when none). */
export function incompleteTail(buf: Uint8Array): number {
  // A sequence is at most 4 bytes, so only the last 3 can belong to an unfinished one.
  for (let k = 1; k <= Math.min(3, buf.length); k++) {
    const b = buf[buf.length - k]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 && b <= 0xf7 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}
