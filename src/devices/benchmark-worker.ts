// Worker-thread entry for cachedCpuBenchmarkOffThread: runs the cached benchmark here, so that a cache
// miss (a few hundred milliseconds of busy wasm) does not stall the node's event loop, its heartbeats
// and its elections.
import { parentPort, workerData } from "node:worker_threads";
import { cachedCpuBenchmark, type CachedBenchmarkOptions } from "./profile-cache.js";

const options = workerData as Omit<CachedBenchmarkOptions, "measure">;
parentPort?.postMessage(await cachedCpuBenchmark(options));
