// The profile of this machine against the kernel's own numbers, and probes that fail in every way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { toPlacementProfile } from "./placement.js";
import { collectProfile, LIVE_SOURCES, type ProfileSources } from "./profile.js";
import { runTool, type ToolRunner } from "./run-tool.js";
import type { CpuBackendBenchmark } from "./types.js";

function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../../src/devices/fixtures/${name}`, import.meta.url)), "utf8");
}

// The reference numbers come from Linux's /proc, as on the CI machine.
test("the profile of this machine matches /proc/meminfo, nproc and /proc/cpuinfo", async () => {
  const p = await collectProfile();
  const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
  assert.ok(Math.abs(p.memory.totalBytes - memTotal) <= memTotal * 0.01, `${p.memory.totalBytes} vs MemTotal ${memTotal}`);
  assert.ok(p.memory.availableBytes > 0 && p.memory.availableBytes <= p.memory.totalBytes);
  assert.equal(p.cpu.logicalCores, availableParallelism());
  assert.equal(p.cpu.logicalCores, Number(execFileSync("nproc", { encoding: "utf8" }).trim()));
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? null;
  assert.equal(p.cpu.model, model);
  const flagsLine = /^(flags|Features)\s*:(.*)$/m.exec(cpuinfo)?.[2] ?? "";
  if (process.arch === "x64") assert.equal(p.cpu.features.avx2, /(^|\s)avx2(\s|$)/.test(flagsLine));
  assert.ok(p.cpu.physicalCores === null || (p.cpu.physicalCores >= 1 && p.cpu.physicalCores <= p.cpu.logicalCores));
  assert.equal(p.identity.os, "linux");
  assert.ok(p.identity.hostname.length > 0);
  // Every GPU reported came from a tool that answered; a tool that did not left a note instead.
  for (const tool of ["nvidia-smi", "rocm-smi"]) {
    const answered = p.gpus.some((g) => (tool === "nvidia-smi" ? g.vendor === "nvidia" : g.vendor === "amd"));
    assert.ok(answered || p.notes.some((n) => n.startsWith(`${tool}:`)), `${tool}: neither GPUs nor a note`);
  }
});

test("runTool: missing, failing, silent and hanging tools are failures, never exceptions", async () => {
  assert.deepEqual(await runTool("tessera-no-such-tool-7f3a", []), { ok: false, failure: "missing", detail: "tessera-no-such-tool-7f3a: not installed" });
  const exit = await runTool(process.execPath, ["-e", "process.stdout.write('partial'); process.exit(3)"]);
  assert.equal(exit.ok, false);
  assert.equal(!exit.ok && exit.failure, "exit");
  const empty = await runTool(process.execPath, ["-e", ""]);
  assert.equal(!empty.ok && empty.failure, "empty");
  const hang = await runTool(process.execPath, ["-e", "setTimeout(() => {}, 20000)"], 300);
  assert.equal(!hang.ok && hang.failure, "timeout");
  const ok = await runTool(process.execPath, ["-e", "console.log('GeForce RTX 2080, 7979')"]);
  assert.deepEqual(ok, { ok: true, stdout: "GeForce RTX 2080, 7979\n" });
});

/** Runs each probe as a real child process printing the given text (or exiting with the given status). */
function childRunner(outputs: Record<string, string | number>): ToolRunner {
  return (command, args) => {
    const key = [command, ...args].join(" ");
    const hit = Object.entries(outputs).find(([k]) => key.startsWith(k))?.[1];
    if (hit === undefined) return runTool("tessera-no-such-tool-7f3a", []);
    const script = typeof hit === "number" ? `process.exit(${hit})` : `process.stdout.write(${JSON.stringify(hit)})`;
    // The child is node; the failure should read as the tool it stands in for.
    return runTool(process.execPath, ["-e", script]).then((r) => (r.ok ? r : { ...r, detail: r.detail.replace(process.execPath, command) }));
  };
}

test("GPU probes that exit non-zero or print garbage leave no GPUs and a note each", async () => {
  const sources: ProfileSources = {
    ...LIVE_SOURCES,
    platform: "linux",
    run: childRunner({ "nvidia-smi": 9, "rocm-smi": "WARNING: No AMD GPUs specified\n{truncated" }),
  };
  const p = await collectProfile(sources);
  assert.deepEqual(p.gpus, []);
  assert.ok(p.notes.includes("nvidia-smi: exited with status 9"), p.notes.join("; "));
});

test("recorded nvidia-smi and rocm-smi output flow into the profile", async () => {
  const nv = fixture("nvidia-smi-2gpu-header.csv");
  const amd = fixture("rocm-smi-7900xtx.json");
  const p = await collectProfile({ ...LIVE_SOURCES, platform: "linux", run: childRunner({ "nvidia-smi": nv, "rocm-smi": amd }) });
  assert.deepEqual(p.gpus.map((g) => [g.vendor, g.index, g.name]), [["nvidia", 0, "NVIDIA TITAN V"], ["nvidia", 1, "NVIDIA RTX 5880 Ada Generation"], ["amd", 0, null]]);
});

test("a Mac described by recorded system_profiler and pmset output", async () => {
  const sources: ProfileSources = {
    ...LIVE_SOURCES,
    platform: "darwin",
    arch: "arm64",
    run: childRunner({
      "system_profiler SPDisplaysDataType": fixture("system-profiler-apple-m1.json"),
      "pmset -g batt": fixture("pmset-batt-discharging.txt"),
      "pmset -g therm": fixture("pmset-therm-apple-silicon.txt"),
      "pmset -g": 1,
      sysctl: 1,
    }),
  };
  const p = await collectProfile(sources);
  assert.equal(p.gpus.length, 1);
  assert.equal(p.gpus[0].name, "Apple M1");
  assert.equal(p.gpus[0].memoryTotalBytes, p.memory.totalBytes, "unified memory is the system's");
  assert.deepEqual([p.power.source, p.power.batteryPercent, p.power.charging, p.power.thermal], ["battery", 95, false, "nominal"]);
  assert.equal(p.power.lowPowerMode, null, "pmset -g failed");
  assert.equal(p.cpu.features.neon, true);

  const bench: CpuBackendBenchmark = { backend: "cpu-wasm", backendVersion: "v", threads: 1, workingSetBytes: 1, lastLevelCacheBytes: null, memoryReadGBs: 10, q8_0GBs: 4, q4_KGBs: 3, measuredAt: "" };
  const placed = toPlacementProfile(p, bench, { id: "mac" });
  assert.equal(placed.id, "mac");
  assert.equal(placed.memoryBytes, p.memory.availableBytes);
  assert.deepEqual(placed.backends, [{ kind: "cpu", weightBytesPerSec: 3e9 }]);
  assert.equal(placed.thermal, "nominal");
  assert.deepEqual(placed.battery, { percent: 95, charging: false, lowPowerMode: false });
});
