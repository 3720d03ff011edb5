// The CPU-backend micro-benchmark and its cache in the data directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../testing/paths.js";
import { cpuBackendVersion, estimateTokensPerSecond, measureCpuBackend, parseCacheSize } from "./benchmark.js";
import { cachedCpuBenchmark, PROFILE_CACHE_FILE } from "./profile-cache.js";

const SMALL = { workingSetBytes: 8 << 20, passes: 1 };

test("measureCpuBackend: positive, finite rates from the wasm kernels", async () => {
  const b = await measureCpuBackend(SMALL);
  assert.equal(b.threads, 1);
  for (const rate of [b.memoryReadGBs, b.q8_0GBs, b.q4_KGBs]) assert.ok(Number.isFinite(rate) && rate > 0, String(rate));
  assert.equal(b.workingSetBytes, 8 << 20);
  assert.equal(b.backendVersion, cpuBackendVersion());
  assert.match(b.backendVersion, /^wasm-[0-9a-f]{16}-b\d+$/);
  assert.equal(estimateTokensPerSecond(2e9, 1e9), 2);
  assert.equal(estimateTokensPerSecond(2e9, 0), 0);
  assert.equal(parseCacheSize("307200K"), 307200 * 1024);
  assert.equal(parseCacheSize("32M"), 32 << 20);
  assert.equal(parseCacheSize("big"), null);
});

test("the benchmark is cached per device and backend version; refresh measures again", async () => {
  const tmp = tempDir();
  try {
    let runs = 0;
    const measure = () => {
      runs++;
      return measureCpuBackend(SMALL);
    };
    const opts = { dataDir: join(tmp.dir, "data"), hostname: "h", cpuModel: "cpu", backendVersion: cpuBackendVersion(), measure };
    const first = await cachedCpuBenchmark(opts);
    assert.equal(first.fromCache, false);
    const onDisk = JSON.parse(readFileSync(join(tmp.dir, "data", PROFILE_CACHE_FILE), "utf8"));
    assert.deepEqual(Object.values(onDisk.entries), [first.benchmark]);

    const second = await cachedCpuBenchmark(opts);
    assert.equal(second.fromCache, true);
    assert.deepEqual(second.benchmark, first.benchmark);
    assert.equal(runs, 1);

    const refreshed = await cachedCpuBenchmark({ ...opts, refresh: true });
    assert.equal(refreshed.fromCache, false);
    assert.equal(runs, 2);

    const otherKernels = await cachedCpuBenchmark({ ...opts, backendVersion: "wasm-other-b1" });
    assert.equal(otherKernels.fromCache, false, "a new kernel version is measured afresh");
    assert.equal(runs, 3);

    writeFileSync(join(tmp.dir, "data", PROFILE_CACHE_FILE), "{ truncated");
    const afterCorruption = await cachedCpuBenchmark(opts);
    assert.equal(afterCorruption.fromCache, false);
    assert.equal(runs, 4);

    const twoThreads = await cachedCpuBenchmark({ ...opts, threads: 2, measure: () => measureCpuBackend({ ...SMALL, threads: 2 }) });
    assert.equal(twoThreads.fromCache, false, "each thread count is measured on its own");
    assert.equal(twoThreads.benchmark.threads, 2);
    assert.equal((await cachedCpuBenchmark({ ...opts, threads: 2 })).fromCache, true);
    assert.equal((await cachedCpuBenchmark(opts)).fromCache, true, "the one-thread entry is kept beside it");
  } finally {
    tmp.cleanup();
  }
});
