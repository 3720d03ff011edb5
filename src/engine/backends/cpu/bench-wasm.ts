// Throughput of the wasm SIMD matmul kernels (plain and, where the engine runs it, relaxed SIMD) next
// to the TypeScript ones, in GB/s of weight bytes (single thread).
// Run: npm run build && node dist/engine/backends/cpu/bench-wasm.js [--ram-threads N] [TYPE ...]
// The last column decodes (nTok=1) from RAM: ~600 MB of copies of the matrix, read in turn, so the
// figure is the kernel streaming weights from memory as a model's decode step does; with
// --ram-threads N, on N threads (the matmul pool), as the engine runs with --threads N.
// Not a test: figures depend on the machine and its load; each is the best of several runs.
import { quantizeTensor } from "../../../gguf/quants/quantize.js";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import { GgmlType, typeName } from "../../../gguf/types.js";
import { matmulPrepared } from "./kernels/matmul.js";
import { prepareActivations } from "./kernels/prepared-activations.js";
import { WasmKernels, relaxedSimdAvailable } from "./wasm-kernels.js";

const TYPES = [GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q4_0, GgmlType.Q5_K, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1];
const SHAPES: ReadonlyArray<[number, number]> = [[2048, 2048], [5632, 2048]];
const TOKENS = [1, 32];

/**
 * The best CPU time of several runs, in seconds. CPU time rather than wall time: on a shared machine
 * a run is often descheduled part-way, which wall time would count (the benchmark is single-threaded).
 */
function bestSeconds(fn: () => void, budgetMs: number): number {
  fn();
  let best = Infinity;
  const start = performance.now();
  let runs = 0;
  while (runs < 3 || (performance.now() - start < budgetMs && runs < 200)) {
    const t0 = process.cpuUsage();
    fn();
    const t = process.cpuUsage(t0);
    best = Math.min(best, t.user + t.system);
    runs++;
  }
  return best / 1e6;
}

/** GB/s of one nTok=1 matmul per copy over ~600 MB of copies of w (beyond any cache), best of three passes. */
async function fromRam(relaxed: boolean, threads: number, type: GgmlType, w: Uint8Array, rows: number, cols: number, act: ReturnType<typeof prepareActivations>): Promise<number> {
  // A memory of its own, dropped afterwards: every matrix's copies would not fit in one 4 GiB memory.
  const kernels = WasmKernels.load({ relaxed, threads });
  const copies = Math.max(1, Math.ceil(600e6 / w.length));
  const ptrs = Array.from({ length: copies }, () => kernels.upload(type, w, rows, cols));
  const y = new Float32Array(rows);
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const t0 = performance.now();
    for (const ptr of ptrs) kernels.matmul(type, ptr, rows, cols, act, y);
    best = Math.min(best, performance.now() - t0);
  }
  await kernels.dispose();
  return (w.length * copies) / (best / 1000) / 1e9;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf("--ram-threads");
  const ramThreads = at >= 0 ? Number(args[at + 1]) : 1;
  if (!Number.isInteger(ramThreads) || ramThreads < 1) throw new Error(`--ram-threads needs a positive integer, got ${args[at + 1]}`);
  const wanted = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
  const kernels = WasmKernels.load({ relaxed: false });
  const relaxed = relaxedSimdAvailable() ? WasmKernels.load({ relaxed: true }) : undefined;
  const types = TYPES.filter((t) => kernels.supports(t) && (wanted.length === 0 || wanted.includes(typeName(t))));
  const rand = seededRandom(42);
  console.log("GB/s of weights (x nTok for nTok=32 in parentheses)");
  console.log(`type   rows x cols   TS n=1   wasm n=1${relaxed ? " relaxed n=1" : ""}   TS n=32          wasm n=32${relaxed ? "         relaxed n=32" : ""}   n=1 from RAM, ${ramThreads} thread${ramThreads > 1 ? "s" : ""}`);
  for (const type of types) {
    for (const [rows, cols] of SHAPES) {
      const w = quantizeTensor(type, randomNormals(rand, rows * cols, 0.05), cols);
      const ptr = kernels.upload(type, w, rows, cols);
      const rptr = relaxed?.upload(type, w, rows, cols);
      const cells: string[] = [];
      for (const nTok of TOKENS) {
        const act = prepareActivations(type, randomNormals(rand, nTok * cols), nTok, cols);
        const y = new Float32Array(nTok * rows);
        const budget = nTok === 1 ? 500 : 1000;
        const runs = [() => matmulPrepared(type, w, rows, cols, act, y), () => kernels.matmul(type, ptr, rows, cols, act, y)];
        if (relaxed && rptr !== undefined) runs.push(() => relaxed.matmul(type, rptr, rows, cols, act, y));
        for (const run of runs) {
          const gbs = w.length / bestSeconds(run, budget) / 1e9;
          cells.push(nTok === 1 ? gbs.toFixed(2).padStart(8) : `${gbs.toFixed(3).padStart(8)} (${(gbs * nTok).toFixed(1).padStart(5)})`);
        }
      }
      cells.push((await fromRam(relaxed !== undefined, ramThreads, type, w, rows, cols, prepareActivations(type, randomNormals(rand, cols), 1, cols))).toFixed(2).padStart(12));
      console.log(`${typeName(type).padEnd(6)} ${`${rows}x${cols}`.padStart(10)} ${cells.join(" ")}`);
    }
  }
}

if (process.argv[1]?.endsWith("bench-wasm.js")) await main();
