// A small deterministic PRNG (mulberry32) for tests and benchmarks that need random data.

export { mulberry32 as seededRandom } from "../../random/mulberry32.js";

/** n values, roughly normal (sum of uniforms), times `scale`. */
export function randomNormals(rand: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() + rand() + rand() - 1.5) * 2 * scale;
  return out;
}
