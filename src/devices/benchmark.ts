// Measured capability of the CPU backend: read bandwidth and matrix-vector throughput on Q8_0 and Q4_K
// weights, through the engine's own wasm kernels with the thread count the node runs its stages with
// (so `--threads` shows in the rate the placement solver plans with). The working set (64 MiB by default) is
// larger than typical last-level caches, so the figures are about memory, as decode is.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { WasmKernels } from "../engine/backends/cpu/wasm-kernels.js";
import { prepareActivations } from "../engine/backends/cpu/kernels/prepared-activations.js";
import { quantizeRow } from "../gguf/quants/index.js";
import { randomNormals, seededRandom } from "../gguf/quants/seeded-random.js";
import { GgmlType } from "../gguf/types.js";
import { loadSum } from "./read-bandwidth.js";
import type { CpuBackendBenchmark } from "./types.js";

/** Bump when the method changes, so cached figures from the old method are not reused. */
export const BENCHMARK_VERSION = 3;
export const DEFAULT_WORKING_SET_BYTES = 64 << 20;
const COLS = 4096;
/** Rows quantised for real; the working set repeats them (quantising 64 MiB in JS would take seconds). */
const TILE_ROWS = 16;

export interface BenchmarkOptions {
  readonly workingSetBytes?: number;
  /** Timed passes per figure after one warm-up; the median is kept (default 5). */
  readonly passes?: number;
  /** Matmul threads, as the node's stages run them (default 1). Read bandwidth is always one thread. */
  readonly threads?: number;
}

/** "307200K" / "32M" (sysfs cache sizes) → bytes. */
export function parseCacheSize(text: string): number | null {
  const m = /^\s*(\d+)\s*([KMG]?)\s*$/i.exec(text);
  if (!m) return null;
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as "" | "K" | "M" | "G"];
  return Number(m[1]) * unit;
}

/** The biggest cache of CPU 0 (Linux sysfs); null elsewhere or when unreadable. */
export function lastLevelCacheBytes(): number | null {
  let best: number | null = null;
  for (let i = 0; i < 8; i++) {
    try {
      const size = parseCacheSize(readFileSync(`/sys/devices/system/cpu/cpu0/cache/index${i}/size`, "utf8"));
      if (size !== null) best = Math.max(best ?? 0, size);
    } catch {
      break;
    }
  }
  return best;
}

/** A version string that changes whenever the kernels do: a hash of kernels.wasm and BENCHMARK_VERSION. */
export function cpuBackendVersion(): string {
  let hash = "unbuilt";
  try {
    hash = createHash("sha256").update(readFileSync(new URL("../engine/backends/cpu/kernels.wasm", import.meta.url))).digest("hex").slice(0, 16);
  } catch {
    // No kernels.wasm (an unbuilt checkout): WasmKernels.load below fails with the real error.
  }
  return `wasm-${hash}-b${BENCHMARK_VERSION}`;
}

/**
 * The median pass, not the best: decode runs for seconds, so what the solver needs is the rate a device
 * sustains; on a shared machine the best of a few passes over-predicted measured decode by ~35%.
 */
function medianSeconds(passes: number, run: () => void): number {
  run();
  const times: number[] = [];
  for (let i = 0; i < passes; i++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  // performance.now() can be coarse; a zero would make an infinite rate.
  return Math.max(times[Math.floor(times.length / 2)], 1e-3) / 1000;
}

/** Fills [ptr, ptr + rows × rowBytes) with copies of `tile` (whole rows). */
function tileInto(kernels: WasmKernels, ptr: number, tile: Uint8Array, rows: number, rowBytes: number): void {
  const dst = kernels.heap.bytes(ptr, rows * rowBytes);
  for (let off = 0; off < dst.length; off += tile.length) dst.set(tile.subarray(0, Math.min(tile.length, dst.length - off)), off);
}

/** GB/s of GGUF weight bytes (the unit a model's file size is in) decoding one token over the working set. */
function matmulGBs(kernels: WasmKernels, ptr: number, type: GgmlType, workingSet: number, passes: number): number {
  const rand = seededRandom(type * 7919);
  const tileParts: Uint8Array[] = [];
  for (let r = 0; r < TILE_ROWS; r++) tileParts.push(quantizeRow(type, randomNormals(rand, COLS, 0.05)));
  const rowBytes = tileParts[0].length;
  const tile = new Uint8Array(rowBytes * TILE_ROWS);
  tileParts.forEach((row, r) => tile.set(row, r * rowBytes));
  // The kernels keep some types in a layout of their own (Q8_0 repacked): tile that layout.
  const keptRowBytes = kernels.weightBytes(type, 1, COLS);
  const rows = Math.floor(workingSet / keptRowBytes);
  kernels.writeWeight(type, ptr, tile, TILE_ROWS, COLS);
  tileInto(kernels, ptr, kernels.heap.bytes(ptr, TILE_ROWS * keptRowBytes).slice(), rows, keptRowBytes);
  const act = prepareActivations(type, randomNormals(rand, COLS), 1, COLS);
  const y = new Float32Array(rows);
  const seconds = medianSeconds(passes, () => kernels.matmul(type, ptr, rows, COLS, act, y));
  return (rows * rowBytes) / seconds / 1e9;
}

/** Runs the micro-benchmark (a few hundred ms with the default working set). */
export async function measureCpuBackend(options: BenchmarkOptions = {}): Promise<CpuBackendBenchmark> {
  const workingSet = Math.max(1 << 20, Math.floor((options.workingSetBytes ?? DEFAULT_WORKING_SET_BYTES) / 64) * 64);
  const passes = Math.max(1, options.passes ?? 5);
  const threads = Math.max(1, Math.floor(options.threads ?? 1));
  // minParallelWork 0: the matrix is always split, as a stage's large matmuls are.
  const kernels = WasmKernels.load({ threads, minParallelWork: 0 });
  try {
    const ptr = kernels.heap.alloc(workingSet);
    // Touch every page before timing anything, so first-touch page faults are not counted as reads.
    kernels.heap.bytes(ptr, workingSet).fill(1);
    const sum = loadSum(kernels.heap.memory);
    const readSeconds = medianSeconds(passes, () => sum(ptr, ptr + workingSet));
    return {
      backend: "cpu-wasm",
      backendVersion: cpuBackendVersion(),
      threads,
      workingSetBytes: workingSet,
      lastLevelCacheBytes: lastLevelCacheBytes(),
      memoryReadGBs: workingSet / readSeconds / 1e9,
      q8_0GBs: matmulGBs(kernels, ptr, GgmlType.Q8_0, workingSet, passes),
      q4_KGBs: matmulGBs(kernels, ptr, GgmlType.Q4_K, workingSet, passes),
      measuredAt: new Date().toISOString(),
    };
  } finally {
    await kernels.dispose();
  }
}

/** Decode is memory-bound: tokens per second ≈ weight bytes streamed per second ÷ weight bytes read per token. */
export function estimateTokensPerSecond(weightBytesPerSec: number, bytesPerToken: number): number {
  if (!(bytesPerToken > 0) || !(weightBytesPerSec > 0)) return 0;
  return weightBytesPerSec / bytesPerToken;
}
