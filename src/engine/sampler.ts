// Turns logits into the next token. Randomness is explicit state (a seeded RNG), so a given seed
// reproduces a generation exactly. The chain follows llama.cpp's default order:
// repetition penalty → top-k → top-p → min-p → temperature → draw.
import { mulberry32 } from "../random/mulberry32.js";

export interface SamplerOptions {
  /** 0 means greedy (argmax). */
  readonly temperature: number;
  /** 0 disables top-k. */
  readonly topK: number;
  /** 1 disables top-p. */
  readonly topP: number;
  /** 0 disables min-p. */
  readonly minP: number;
  /** 1 disables the penalty. */
  readonly repeatPenalty: number;
  /** How many recent tokens the penalty looks at. */
  readonly repeatLastN: number;
  readonly seed: number;
}

/** Argmax with every filter and penalty off: what reference comparisons and benchmarks decode with. */
export const GREEDY_SAMPLER: SamplerOptions = { temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 0, seed: 0 };

export const DEFAULT_SAMPLER: SamplerOptions = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1,
  repeatLastN: 64,
  seed: 0,
};

/** Seeded uniform numbers for sampling (mulberry32: fully reproducible from the seed). */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

interface Candidate {
  id: number;
  logit: number;
  p: number;
}

function softmaxInPlace(cands: Candidate[]): void {
  const max = cands.reduce((m, c) => Math.max(m, c.logit), -Infinity);
  let sum = 0;
  for (const c of cands) {
    c.p = Math.exp(c.logit - max);
    sum += c.p;
  }
  for (const c of cands) c.p /= sum;
}

export class Sampler {
  private readonly rng: Rng;
  constructor(readonly options: SamplerOptions) {
    for (const [k, v] of Object.entries(options)) {
      if (!Number.isFinite(v)) throw new RangeError(`sampler option ${k} must be a finite number`);
    }
    if (options.temperature < 0) throw new RangeError("temperature must be ≥ 0");
    if (options.topP <= 0 || options.topP > 1) throw new RangeError("top-p must be in (0, 1]");
    if (options.minP < 0 || options.minP > 1) throw new RangeError("min-p must be in [0, 1]");
    if (options.topK < 0) throw new RangeError("top-k must be ≥ 0");
    this.rng = new Rng(options.seed);
  }

  /** Picks the next token. `history` is every token of the sequence so far (prompt included). */
  sample(logits: Float32Array, history: readonly number[]): number {
    const o = this.options;
    let work = logits;
    if (o.repeatPenalty !== 1 && o.repeatLastN > 0) {
      work = logits.slice();
      const recent = new Set(history.slice(-o.repeatLastN));
      for (const id of recent) {
        if (id < 0 || id >= work.length) continue;
        work[id] = work[id] > 0 ? work[id] / o.repeatPenalty : work[id] * o.repeatPenalty;
      }
    }
    if (o.temperature === 0) return argmax(work);

    let cands: Candidate[] = Array.from(work, (logit, id) => ({ id, logit, p: 0 }));
    cands.sort((a, b) => b.logit - a.logit || a.id - b.id);
    if (o.topK > 0 && o.topK < cands.length) cands = cands.slice(0, o.topK);
    if (o.topP < 1) {
      softmaxInPlace(cands);
      let cum = 0;
      let keep = cands.length;
      for (let i = 0; i < cands.length; i++) {
        cum += cands[i].p;
        if (cum >= o.topP) {
          keep = i + 1;
          break;
        }
      }
      cands = cands.slice(0, keep);
    }
    if (o.minP > 0) {
      softmaxInPlace(cands);
      const floor = cands[0].p * o.minP;
      cands = cands.filter((c, i) => i === 0 || c.p >= floor);
    }
    for (const c of cands) c.logit /= o.temperature;
    softmaxInPlace(cands);
    let r = this.rng.next();
    for (const c of cands) {
      r -= c.p;
      if (r < 0) return c.id;
    }
    return cands[cands.length - 1].id;
  }
}
