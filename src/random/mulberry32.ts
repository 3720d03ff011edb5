// The project's one seeded random source: mulberry32, a small, fast 32-bit generator. Sampling, the
// random-weight model generator, tests and benchmarks all draw from it, so a seed means the same thing
// everywhere.

/** A generator of floats in [0, 1), fully determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
