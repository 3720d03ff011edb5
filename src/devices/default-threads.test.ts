import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { test } from "node:test";
import { defaultThreads, physicalCores, threadsFor } from "./default-threads.js";
import { parseCpuInfo } from "./linux-proc.js";

test("threads follow physical cores, capped by the CPUs the process may use", () => {
  assert.equal(threadsFor(4, 8), 4, "hyper-threaded: one per core");
  assert.equal(threadsFor(8, 2), 2, "a cgroup or affinity limit wins");
  assert.equal(threadsFor(null, 6), 6, "unknown cores: every usable CPU");
  assert.equal(threadsFor(0, 3), 3, "a nonsense core count is ignored");
  assert.equal(threadsFor(2, 0), 1, "never fewer than one");
});

test("a hyper-threaded cpuinfo gives half the logical CPUs", () => {
  const block = (cpu: number, core: number) => `processor\t: ${cpu}\nmodel name\t: Test CPU\nphysical id\t: 0\ncore id\t\t: ${core}\nflags\t\t: sse2 avx2\n`;
  const text = [0, 1, 2, 3].map((cpu) => block(cpu, cpu % 2)).join("\n");
  const info = parseCpuInfo(text);
  assert.equal(info.logicalCpus, 4);
  assert.equal(threadsFor(info.physicalCores, info.logicalCpus), 2);
});

test("on this machine the default is between 1 and the usable CPUs", () => {
  const n = defaultThreads();
  assert.ok(Number.isInteger(n) && n >= 1 && n <= availableParallelism(), `got ${n}`);
  const cores = physicalCores();
  if (process.platform === "linux") assert.ok(cores === null || cores >= 1, `physical cores ${cores}`);
  assert.equal(n, threadsFor(cores, availableParallelism()));
});
