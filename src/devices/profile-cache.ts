// Benchmark results cached in <dataDir>/profile-cache.json, one entry per (host, CPU, backend version):
// measuring takes a noticeable fraction of a second and the answer only changes with the hardware or the
// kernels. A missing, unreadable or foreign cache file is treated as empty, never as an error.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../net/atomic-file.js";
import { measureCpuBackend } from "./benchmark.js";
import type { CpuBackendBenchmark } from "./types.js";

export const PROFILE_CACHE_FILE = "profile-cache.json";
const CACHE_FORMAT = 1;

interface CacheFile {
  readonly format: typeof CACHE_FORMAT;
  readonly entries: Readonly<Record<string, CpuBackendBenchmark>>;
}

export function defaultDataDir(): string {
  return join(homedir(), ".tessera");
}

export function benchmarkCacheKey(hostname: string, cpuModel: string | null, backendVersion: string, threads = 1): string {
  return `${hostname}|${cpuModel ?? "unknown-cpu"}|${backendVersion}|t${threads}`;
}

function isBenchmark(x: unknown): x is CpuBackendBenchmark {
  const b = x as Partial<CpuBackendBenchmark> | null;
  const pos = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n > 0;
  return typeof b === "object" && b !== null && b.backend === "cpu-wasm" && typeof b.backendVersion === "string" && Number.isInteger(b.threads) && pos(b.threads) && pos(b.memoryReadGBs) && pos(b.q8_0GBs) && pos(b.q4_KGBs);
}

async function readCache(path: string): Promise<Record<string, CpuBackendBenchmark>> {
  try {
    const data = JSON.parse(await readFile(path, "utf8")) as Partial<CacheFile>;
    if (data.format !== CACHE_FORMAT || typeof data.entries !== "object" || data.entries === null) return {};
    return Object.fromEntries(Object.entries(data.entries).filter(([, v]) => isBenchmark(v)));
  } catch {
    return {};
  }
}

export interface CachedBenchmarkOptions {
  readonly dataDir: string;
  readonly hostname: string;
  readonly cpuModel: string | null;
  readonly backendVersion: string;
  /** Measure again even when the cache has an entry (and overwrite it). */
  readonly refresh?: boolean;
  /** Matmul threads to measure with (default 1); each count is cached on its own. */
  readonly threads?: number;
  /** The measurement to run on a miss (default: measureCpuBackend with its defaults). */
  readonly measure?: () => CpuBackendBenchmark | Promise<CpuBackendBenchmark>;
}

export interface CachedBenchmark {
  readonly benchmark: CpuBackendBenchmark;
  readonly fromCache: boolean;
  readonly cachePath: string;
}

export async function cachedCpuBenchmark(options: CachedBenchmarkOptions): Promise<CachedBenchmark> {
  const cachePath = join(options.dataDir, PROFILE_CACHE_FILE);
  const threads = options.threads ?? 1;
  const key = benchmarkCacheKey(options.hostname, options.cpuModel, options.backendVersion, threads);
  const entries = await readCache(cachePath);
  const hit = entries[key];
  if (hit && !options.refresh && hit.backendVersion === options.backendVersion && hit.threads === threads) return { benchmark: hit, fromCache: true, cachePath };
  const benchmark = await (options.measure ?? (() => measureCpuBackend({ threads })))();
  const file: CacheFile = { format: CACHE_FORMAT, entries: { ...entries, [key]: benchmark } };
  await writeFileAtomic(cachePath, JSON.stringify(file, null, 2) + "\n", 0o644);
  return { benchmark, fromCache: false, cachePath };
}
