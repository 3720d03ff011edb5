// The cached CPU-backend benchmark, run in a worker thread (see benchmark-worker.ts).
import { Worker } from "node:worker_threads";
import type { CachedBenchmark, CachedBenchmarkOptions } from "./profile-cache.js";

export interface OffThreadBenchmark {
  readonly result: Promise<CachedBenchmark>;
  /** Stops the worker; `result` then rejects unless it had already settled. */
  cancel(): Promise<void>;
}

export function cachedCpuBenchmarkOffThread(options: Omit<CachedBenchmarkOptions, "measure">): OffThreadBenchmark {
  const worker = new Worker(new URL("./benchmark-worker.js", import.meta.url), { workerData: { ...options } });
  const result = new Promise<CachedBenchmark>((resolve, reject) => {
    worker.once("message", (m: CachedBenchmark) => resolve(m));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the benchmark worker exited with code ${code} before answering`)));
  });
  // A caller that cancels need not also handle the rejection.
  result.catch(() => undefined);
  return {
    result,
    cancel: async () => {
      await worker.terminate();
    },
  };
}
