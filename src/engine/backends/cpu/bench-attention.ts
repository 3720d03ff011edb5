// Attention on the wasm kernel against the TypeScript, TinyLlama's shape (32 heads, 4 KV heads, head
// size 64): one decode step at a 512-token context (flash attention) and a 128-token prompt (the
// all-f32 tiled form), per layer, with how many outputs came out bit-identical.
// Run: npm run build && node dist/engine/backends/cpu/bench-attention.js
// Not a test: figures depend on the machine and its load; each is the best of several runs.
import { roundToF16 } from "../../../gguf/quants/f16.js";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import * as ops from "./ops.js";
import { WasmKernels } from "./wasm-kernels.js";

function bestMs(fn: () => void, runs: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

function main(): void {
  const kernels = WasmKernels.load();
  const heads = 32, kvHeads = 4, headDim = 64;
  const kvDim = kvHeads * headDim;
  for (const { kind, start, nTok, runs } of [{ kind: "flash", start: 511, nTok: 1, runs: 40 }, { kind: "f32", start: 0, nTok: 128, runs: 8 }] as const) {
    const rand = seededRandom(5);
    const visible = start + nTok;
    const k = randomNormals(rand, visible * kvDim, 1).map(roundToF16);
    const v = randomNormals(rand, visible * kvDim, 1).map(roundToF16);
    const q = randomNormals(rand, nTok * heads * headDim, 1);
    const want = new Float32Array(q.length), got = new Float32Array(q.length);
    const scores = new Float32Array(visible);
    const ts = kind === "flash"
      ? () => ops.flashAttention(q, { k, v }, start, nTok, heads, kvHeads, headDim, want, scores)
      : () => ops.attention(q, { k, v }, start, nTok, heads, kvHeads, headDim, want, scores, false);
    const wasm = () => kernels.attention(kind, q, k, v, start, nTok, heads, kvHeads, headDim, got);
    const tsMs = bestMs(ts, runs);
    const wasmMs = bestMs(wasm, runs);
    let same = 0;
    for (let i = 0; i < q.length; i++) if (got[i] === want[i]) same++;
    const what = kind === "flash" ? `decode step, context ${visible}` : `${nTok}-token prompt`;
    console.log(`${what.padEnd(26)} TypeScript ${tsMs.toFixed(2).padStart(8)} ms   wasm ${wasmMs.toFixed(2).padStart(7)} ms   ${(tsMs / wasmMs).toFixed(1)}x   bit-identical ${(100 * same / q.length).toFixed(2)}%`);
  }
}

if (process.argv[1]?.endsWith("bench-attention.js")) main();
