// `tessera info` as a user runs it: a real process, JSON on stdout, the benchmark cached in --data-dir.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { TESSERA_BIN, tempDir } from "../testing/paths.js";

function tessera(...args: string[]) {
  const r = spawnSync(process.execPath, [TESSERA_BIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("info --json: one object with the profile, the measured CPU backend and the placement view", () => {
  const tmp = tempDir();
  try {
    const r = tessera("info", "--json", "--data-dir", tmp.dir);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    for (const key of ["identity", "cpu", "memory", "gpus", "power", "notes", "benchmark", "placement"]) assert.ok(key in out, key);
    assert.equal(out.benchmark.fromCache, false);
    assert.ok(out.benchmark.q4_KGBs > 0 && out.benchmark.q8_0GBs > 0 && out.benchmark.memoryReadGBs > 0);
    assert.equal(out.placement.memoryBytes, out.memory.availableBytes);

    const again = JSON.parse(tessera("info", "--json", "--data-dir", tmp.dir).stdout);
    assert.equal(again.benchmark.fromCache, true);
    assert.deepEqual(again.benchmark.measuredAt, out.benchmark.measuredAt);

    const text = tessera("info", "--data-dir", tmp.dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /matmul Q4_K\s+\d+\.\d\d GB\/s/);

    const bad = tessera("info", "--bogus");
    assert.equal(bad.code, 2);
  } finally {
    tmp.cleanup();
  }
});
