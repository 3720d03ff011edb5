// The project's one seeded random source: mulberry32, a small, fast 32-bit generator. Sampling, the
// random-weight model generator, tests and benchmarks all draw from it, so a seed means the same thing
// everywhere.

const STEP = 0x6d2b79f5;

/**
 * A generator of floats in [0, 1), fully determined by `seed`. With `skip`, it starts where the
 * plain generator would be after `skip` draws: the state only ever adds a constant, so any point of
 * the sequence is reached directly, and workers can each draw their own part of one stream.
 */
export function mulberry32(seed: number, skip = 0): () => number {
  if (!Number.isSafeInteger(skip) || skip < 0) throw new RangeError(`cannot skip ${skip} draws`);
  // skip × STEP modulo 2^32, exact for any safe integer: Math.imul wraps as the 32-bit adds would.
  let state = ((seed >>> 0) + (Math.imul(skip % 4294967296, STEP) >>> 0)) >>> 0;
  return () => {
    state = (state + STEP) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
