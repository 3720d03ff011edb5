// A small, deterministic BPE trainer: repeatedly merge the most frequent adjacent pair of symbols across
// the (word -> count) table. Ties go to a seeded hash of the pair, so a seed gives a different but
// reproducible vocabulary. Pair counts are updated incrementally and every new count goes into a heap, so
// finding the best pair costs a few pops instead of a scan of all pairs (a 32000-token vocabulary took
// most of a minute with the scan).

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

interface PairEntry {
  readonly key: string;
  readonly count: number;
  readonly hash: number;
}

/** The merge order: more frequent first, then the smaller seeded hash, then the smaller text. */
function before(a: PairEntry, b: PairEntry): boolean {
  return a.count > b.count || (a.count === b.count && (a.hash < b.hash || (a.hash === b.hash && a.key < b.key)));
}

/** A binary heap of pair entries, best first. Entries go stale when a count changes; the reader skips them. */
class PairHeap {
  private readonly items: PairEntry[] = [];

  push(e: PairEntry): void {
    const a = this.items;
    a.push(e);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  peek(): PairEntry | undefined {
    return this.items[0];
  }

  pop(): void {
    const a = this.items;
    const last = a.pop();
    if (a.length === 0 || last === undefined) return;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && before(a[l]!, a[m]!)) m = l;
      if (r < a.length && before(a[r]!, a[m]!)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
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
  const heap = new PairHeap();
  const hashOf = (k: string) => {
    let h = hashes.get(k);
    if (h === undefined) hashes.set(k, (h = hash(k, seed)));
    return h;
  };
  const countWord = (idx: number, sign: number) => {
    const s = seqs[idx]!;
    for (let i = 0; i + 1 < s.syms.length; i++) {
      const k = s.syms[i] + SEP + s.syms[i + 1];
      const c = (counts.get(k) ?? 0) + sign * s.count;
      if (c > 0) {
        counts.set(k, c);
        heap.push({ key: k, count: c, hash: hashOf(k) });
      } else counts.delete(k);
      if (sign > 0) {
        let w = where.get(k);
        if (w === undefined) where.set(k, (w = new Set()));
        w.add(idx);
      }
    }
  };
  seqs.forEach((_, i) => countWord(i, 1));
  while (tokens.length < maxTokens) {
    // The best entry whose count is still the pair's count (older entries of a pair are stale).
    let top = heap.peek();
    while (top && counts.get(top.key) !== top.count) {
      heap.pop();
      top = heap.peek();
    }
    if (!top) break;
    const best = top.key;
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
