// Throughput of the CPU matmul kernels in GB/s of weight bytes, single thread.
// Run: npx tsc -p . && node dist/engine/backends/cpu/kernels/bench-kernels.js [TYPE ...]
// Not a test: numbers depend on the machine and its load; each figure is the best of several runs.
import { quantizeTensor } from "../../../../gguf/quants/quantize.js";
import { randomNormals, seededRandom } from "../../../../gguf/quants/seeded-random.js";
import { typeName } from "../../../../gguf/types.js";
import { MATMUL_WEIGHT_TYPES, matmulPrepared } from "./matmul.js";
import { prepareActivations } from "./prepared-activations.js";

const SHAPES: ReadonlyArray<[number, number]> = [[2048, 2048], [5632, 2048]];
const TOKENS = [1, 32];

function bestSeconds(fn: () => void, budgetMs: number): number {
  fn();
  let best = Infinity;
  const start = performance.now();
  let runs = 0;
  while (runs < 3 || (performance.now() - start < budgetMs && runs < 200)) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
    runs++;
  }
  return best / 1000;
}

function main(): void {
  const wanted = process.argv.slice(2);
  const types = wanted.length > 0 ? MATMUL_WEIGHT_TYPES.filter((t) => wanted.includes(typeName(t))) : MATMUL_WEIGHT_TYPES;
  const rand = seededRandom(42);
  console.log("type   rows x cols   GB/s nTok=1   GB/s nTok=32 (weight bytes x tokens / s in parentheses)");
  for (const type of types) {
    for (const [rows, cols] of SHAPES) {
      const w = quantizeTensor(type, randomNormals(rand, rows * cols, 0.05), cols);
      const cells: string[] = [];
      for (const nTok of TOKENS) {
        const act = prepareActivations(type, randomNormals(rand, nTok * cols), nTok, cols);
        const y = new Float32Array(nTok * rows);
        const s = bestSeconds(() => matmulPrepared(type, w, rows, cols, act, y), nTok === 1 ? 600 : 1500);
        const gbs = w.length / s / 1e9;
        cells.push(nTok === 1 ? gbs.toFixed(2).padStart(8) : `${gbs.toFixed(3).padStart(8)} (${(gbs * nTok).toFixed(2)})`);
      }
      console.log(`${typeName(type).padEnd(6)} ${`${rows}x${cols}`.padStart(10)}   ${cells.join("      ")}`);
    }
  }
}

if (process.argv[1]?.endsWith("bench-kernels.js")) main();
