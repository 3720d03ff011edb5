// Code point classes as llama.cpp's pre-tokenizers see them, and GPT-2's byte <-> unicode alphabet.
// Letters and numbers come from the JS engine's Unicode tables (\p{L}, \p{N}); whitespace is
// llama.cpp's own fixed set (it differs from JS \s: no U+FEFF, but U+0085 is included).

const LETTER = 1;
const NUMBER = 2;
const WHITESPACE = 4;
const COMPUTED = 128;

const WHITESPACE_SET = new Set<number>([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

const RE_LETTER = /^\p{L}$/u;
const RE_NUMBER = /^\p{N}$/u;
const RE_PUNCT = /^\p{P}$/u;

// Filled lazily: classifying all 1.1M code points up front would cost a noticeable startup delay.
const table = new Uint8Array(0x110000);

function classify(cp: number): number {
  let f = table[cp]!;
  if (f !== 0) return f;
  const s = String.fromCodePoint(cp);
  f = COMPUTED;
  if (RE_LETTER.test(s)) f |= LETTER;
  if (RE_NUMBER.test(s)) f |= NUMBER;
  if (WHITESPACE_SET.has(cp)) f |= WHITESPACE;
  table[cp] = f;
  return f;
}

export function isLetter(cp: number): boolean {
  return (classify(cp) & LETTER) !== 0;
}

export function isNumber(cp: number): boolean {
  return (classify(cp) & NUMBER) !== 0;
}

export function isWhitespace(cp: number): boolean {
  return WHITESPACE_SET.has(cp);
}

export function isPunctuation(cp: number): boolean {
  return RE_PUNCT.test(String.fromCodePoint(cp));
}

/** Split a string into its code points (lone surrogates become U+FFFD, as UTF-8 encoding would). */
export function codePoints(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out.push(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000);
        i++;
        continue;
      }
    }
    out.push(c >= 0xd800 && c <= 0xdfff ? 0xfffd : c);
  }
  return out;
}

/** GPT-2's printable stand-in for each byte: visible Latin-1 bytes map to themselves, the rest to U+0100.. in order. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const map: string[] = new Array<string>(256);
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCharCode(keep(b) ? b : 256 + n++);
  return map;
})();

export const UNICODE_TO_BYTE: ReadonlyMap<number, number> = new Map(
  BYTE_TO_UNICODE.map((s, b) => [s.charCodeAt(0), b] as [number, number]),
);

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Map a UTF-8 string to GPT-2's byte-level alphabet (one char per byte). */
export function byteEncode(text: string): string {
  let out = "";
  for (const b of encoder.encode(text)) out += BYTE_TO_UNICODE[b];
  return out;
}

/** Inverse of codePoints over [start, end), without spreading huge arrays into one call. */
export function fromCodePoints(cps: readonly number[], start = 0, end = cps.length): string {
  let out = "";
  for (let i = start; i < end; i += 4096) {
    out += String.fromCodePoint(...cps.slice(i, Math.min(end, i + 4096)));
  }
  return out;
}
