// Pre-tokenizers for byte-level BPE: split text into words before merges run, as llama.cpp does per
// `tokenizer.ggml.pre`. Each pre-tokenizer is a list of passes; a pass re-splits every current chunk and
// keeps the unmatched gaps as chunks of their own. llama.cpp runs the GPT-2, Llama-3 and Qwen2 patterns
// through hand-written scanners (no regex backtracking); the scanners below follow the same rules, including
// where they differ from a regex engine: a piece never crosses a chunk boundary and `\s+(?!\S)` is decided
// within the chunk only.
import { TokenizerError } from "./errors.js";
import { codePoints, fromCodePoints, isLetter, isNumber, isWhitespace } from "./unicode.js";

/** A pass turns chunk lengths (in code points) into finer chunk lengths. */
type Pass = (cps: readonly number[], chunks: readonly number[]) => number[];

export interface PreTokenizer {
  readonly name: string;
  /** llama.cpp's ignore_merges: a word that is already a token is used whole. */
  readonly ignoreMerges: boolean;
  /** llama.cpp's clean_spaces: detokenizing removes spaces before `?!.,` and around some apostrophes. */
  readonly cleanSpaces: boolean;
  split(text: string): string[];
}

const SQ = 0x27; // '
const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;

function lower(cp: number): number {
  return cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp;
}

/** Length of a contraction ('s 't 're 've 'm 'll 'd) at pos, or 0. */
function contraction(cps: readonly number[], pos: number, end: number, anyCase: boolean): number {
  if (cps[pos] !== SQ || pos + 1 >= end) return 0;
  const f = anyCase ? lower : (c: number) => c;
  const a = f(cps[pos + 1]!);
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (pos + 2 >= end) return 0;
  const b = f(cps[pos + 2]!);
  if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3; // re ve ll
  return 0;
}

const isOther = (cp: number) => !isWhitespace(cp) && !isLetter(cp) && !isNumber(cp);

/** Whitespace run at pos: `\s*[\r\n]+` (when newlines allowed), else `\s+(?!\S)`, else `\s+`. */
function whitespaceEnd(cps: readonly number[], pos: number, end: number, newlineRule: boolean): number {
  let n = 0;
  let lastNl = -1;
  while (pos + n < end && isWhitespace(cps[pos + n]!)) {
    const c = cps[pos + n]!;
    if (c === CR || c === LF) lastNl = pos + n + 1;
    n++;
  }
  if (newlineRule && lastNl > 0) return lastNl;
  if (n > 1 && pos + n < end) return pos + n - 1;
  if (n > 0) return pos + n;
  return pos + 1;
}

/** 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
function gpt2Chunk(cps: readonly number[], start: number, end: number, out: number[]): void {
  let pos = start;
  while (pos < end) {
    const c = contraction(cps, pos, end, false);
    if (c > 0) {
      out.push(c);
      pos += c;
      continue;
    }
    const q = cps[pos] === SP ? pos + 1 : pos;
    let p = q;
    if (q < end) {
      const cp = cps[q]!;
      const cls = isLetter(cp) ? isLetter : isNumber(cp) ? isNumber : isOther(cp) ? isOther : undefined;
      if (cls !== undefined) {
        while (p < end && cls(cps[p]!)) p++;
        out.push(p - pos);
        pos = p;
        continue;
      }
    }
    p = whitespaceEnd(cps, pos, end, false);
    out.push(p - pos);
    pos = p;
  }
}

/**
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * Llama 3 uses maxDigits 3, Qwen2 uses 1.
 */
function llama3Chunk(maxDigits: number) {
  return (cps: readonly number[], start: number, end: number, out: number[]): void => {
    let pos = start;
    while (pos < end) {
      const cp = cps[pos]!;
      const c = contraction(cps, pos, end, true);
      if (c > 0) {
        out.push(c);
        pos += c;
        continue;
      }
      if (cp !== CR && cp !== LF && !isNumber(cp) && (isLetter(cp) || (pos + 1 < end && isLetter(cps[pos + 1]!)))) {
        let p = pos + 1;
        while (p < end && isLetter(cps[p]!)) p++;
        out.push(p - pos);
        pos = p;
        continue;
      }
      if (isNumber(cp)) {
        let p = pos;
        while (p < end && isNumber(cps[p]!) && p - pos < maxDigits) p++;
        out.push(p - pos);
        pos = p;
        continue;
      }
      const q = cp === SP ? pos + 1 : pos;
      if (q >= end || isOther(cps[q]!)) {
        let p = q;
        while (p < end && isOther(cps[p]!)) p++;
        while (p < end && (cps[p] === CR || cps[p] === LF)) p++;
        out.push(p - pos);
        pos = p;
        continue;
      }
      const p = whitespaceEnd(cps, pos, end, true);
      out.push(p - pos);
      pos = p;
    }
  };
}

function scannerPass(chunk: (cps: readonly number[], start: number, end: number, out: number[]) => void): Pass {
  return (cps, chunks) => {
    const out: number[] = [];
    let start = 0;
    for (const len of chunks) {
      chunk(cps, start, start + len, out);
      start += len;
    }
    return out;
  };
}

/** A general regex pass: matches and the gaps between them both become chunks. */
function regexPass(re: RegExp): Pass {
  return (cps, chunks) => {
    const out: number[] = [];
    let start = 0;
    for (const len of chunks) {
      const s = fromCodePoints(cps, start, start + len);
      // Match offsets are UTF-16 units; walk forward once to turn them into code point counts.
      let u16 = 0;
      let cp = 0;
      const cpAt = (target: number) => {
        while (u16 < target) {
          const c = s.charCodeAt(u16);
          u16 += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
          cp++;
        }
        return cp;
      };
      let prev = 0;
      for (const m of s.matchAll(re)) {
        const a = cpAt(m.index);
        const b = cpAt(m.index + m[0].length);
        if (a > prev) out.push(a - prev);
        if (b > a) out.push(b - a);
        prev = b;
      }
      if (prev < len) out.push(len - prev);
      start += len;
    }
    return out;
  };
}

const GPT2 = scannerPass(gpt2Chunk);

interface PreSpec {
  readonly passes: readonly Pass[];
  readonly ignoreMerges: boolean;
  readonly cleanSpaces: boolean;
}

const SPECS: ReadonlyMap<string, PreSpec> = (() => {
  const m = new Map<string, PreSpec>();
  const def: PreSpec = {
    passes: [regexPass(/[\p{P}$+<=>^~|]+/gu), GPT2, regexPass(/\p{N}+/gu), regexPass(/[0-9][0-9][0-9]/gu)],
    ignoreMerges: false,
    cleanSpaces: true,
  };
  const gpt2: PreSpec = { passes: [GPT2], ignoreMerges: false, cleanSpaces: true };
  const llama3: PreSpec = { passes: [scannerPass(llama3Chunk(3))], ignoreMerges: true, cleanSpaces: true };
  const qwen2: PreSpec = { passes: [scannerPass(llama3Chunk(1))], ignoreMerges: false, cleanSpaces: false };
  const smollm: PreSpec = { passes: [regexPass(/\p{N}/gu), GPT2], ignoreMerges: false, cleanSpaces: false };
  m.set("default", def);
  for (const n of ["gpt-2", "phi-2"]) m.set(n, gpt2);
  for (const n of ["llama3", "llama-v3", "llama-bpe"]) m.set(n, llama3);
  for (const n of ["qwen2", "deepseek-r1-qwen"]) m.set(n, qwen2);
  m.set("smollm", smollm);
  return m;
})();

export const SUPPORTED_PRE: readonly string[] = [...SPECS.keys()];

/** The pre-tokenizer for a `tokenizer.ggml.pre` value; absent means "default", as in llama.cpp. */
export function preTokenizer(pre: string | undefined): PreTokenizer {
  const name = pre === undefined || pre === "" ? "default" : pre;
  const spec = SPECS.get(name);
  if (spec === undefined) {
    throw new TokenizerError(`unsupported tokenizer.ggml.pre "${name}"; supported: ${SUPPORTED_PRE.join(", ")}`);
  }
  return {
    name,
    ignoreMerges: spec.ignoreMerges,
    cleanSpaces: spec.cleanSpaces,
    split(text: string): string[] {
      const cps = codePoints(text);
      if (cps.length === 0) return [];
      let chunks: number[] = [cps.length];
      for (const pass of spec.passes) chunks = pass(cps, chunks);
      const words: string[] = [];
      let start = 0;
      for (const len of chunks) {
        words.push(fromCodePoints(cps, start, start + len));
        start += len;
      }
      return words;
    },
  };
}
