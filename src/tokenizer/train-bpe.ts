// A small, deterministic BPE trainer: repeatedly merge the most frequent adjacent pair of symbols across
// the (word -> count) table. Ties go to a seeded hash of the pair, so a seed gives a different but
// reproducible vocabulary. Meant for a few KB of text (pair counts are updated incrementally, the best pair is found by a scan).

export interface BpeTraining {
  /** Merges in rank order. */
  readonly merges: readonly (readonly [string, string])[];
  /** Texts of the new tokens in the order they were created (merges that rebuild a known text add none). */
  readonly tokens: readonly string[];
}

function hash(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * @param words each word as its initial symbols, with its count
 * @param maxTokens stop once this many new token texts exist
 * @param known texts that already are tokens (never added again)
 */
export function trainBpe(
  words: ReadonlyMap<string, { readonly symbols: readonly string[]; readonly count: number }>,
  maxTokens: number,
  known: ReadonlySet<string>,
  seed: number,
): BpeTraining {
  const seqs = [...words.values()].map((w) => ({ syms: [...w.symbols], count: w.count }));
  const merges: [string, string][] = [];
  const tokens: string[] = [];
  const seen = new Set(known);
  const SEP = "\u0000";
  // Pair counts are kept up to date incrementally; `where` may list words that lost a pair since (harmless:
  // re-counting such a word changes nothing).
  const counts = new Map<string, number>();
  const where = new Map<string, Set<number>>();
  const hashes = new Map<string, number>();
  const countWord = (idx: number, sign: number) => {
    const s = seqs[idx]!;
    for (let i = 0; i + 1 < s.syms.length; i++) {
      const k = s.syms[i] + SEP + s.syms[i + 1];
      const c = (counts.get(k) ?? 0) + sign * s.count;
      if (c > 0) counts.set(k, c);
      else counts.delete(k);
      if (sign > 0) {
        let w = where.get(k);
        if (w === undefined) where.set(k, (w = new Set()));
        w.add(idx);
      }
    }
  };
  seqs.forEach((_, i) => countWord(i, 1));
  const hashOf = (k: string) => {
    let h = hashes.get(k);
    if (h === undefined) hashes.set(k, (h = hash(k, seed)));
    return h;
  };
  while (tokens.length < maxTokens) {
    let best: string | undefined;
    let bestCount = 0;
    let bestHash = 0;
    for (const [k, c] of counts) {
      if (c < bestCount) continue;
      const h = hashOf(k);
      if (c > bestCount || h < bestHash || (h === bestHash && k < best!)) {
        best = k;
        bestCount = c;
        bestHash = h;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split(SEP) as [string, string];
    merges.push([a, b]);
    const ab = a + b;
    if (!seen.has(ab)) {
      seen.add(ab);
      tokens.push(ab);
    }
    for (const idx of [...where.get(best)!]) {
      const s = seqs[idx]!;
      countWord(idx, -1);
      const out: string[] = [];
      for (let i = 0; i < s.syms.length; i++) {
        if (i + 1 < s.syms.length && s.syms[i] === a && s.syms[i + 1] === b) {
          out.push(ab);
          i++;
        } else {
          out.push(s.syms[i]!);
        }
      }
      s.syms = out;
      countWord(idx, 1);
    }
    where.delete(best);
  }
  return { merges, tokens };
}
