// The live sampler on this machine, checked against the kernel's own files, and on machines described
// by recorded tool output: GPUs, thermal zones that heat up between samples, tools that are missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseGrepDump } from "./linux-sysfs.js";
import { runTool, type ToolRunner } from "./run-tool.js";
import { LIVE_SAMPLER_SOURCES, TelemetrySampler, type SamplerSources } from "./telemetry-sampler.js";

function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../../src/devices/fixtures/${name}`, import.meta.url)), "utf8");
}

/** Runs each probe as a real child process printing the given text; anything else is a tool that is not installed. */
function childRunner(outputs: Record<string, string>, calls: string[]): ToolRunner {
  return (command) => {
    calls.push(command);
    const hit = outputs[command];
    if (hit === undefined) return runTool("tessera-no-such-tool-7f3a", []).then((r) => (r.ok ? r : { ...r, detail: `${command}: not installed` }));
    return runTool(process.execPath, ["-e", `process.stdout.write(${JSON.stringify(hit)})`]);
  };
}

test("samples of this machine match /proc/meminfo; CPU utilisation is known from the second reading on", async () => {
  const calls: string[] = [];
  const sampler = new TelemetrySampler({ ...LIVE_SAMPLER_SOURCES, run: (c, a) => (calls.push(c), runTool(c, a)) });
  const first = await sampler.sample();
  assert.equal(first.cpu.utilisation, null, "no interval yet");
  // Some CPU work between the readings, so the counters move.
  const until = performance.now() + 50;
  while (performance.now() < until);
  const second = await sampler.sample();
  const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
  assert.equal(second.memory.totalBytes, memTotal);
  assert.ok(second.memory.availableBytes > 0 && second.memory.availableBytes <= memTotal);
  assert.ok(second.cpu.utilisation !== null && second.cpu.utilisation > 0 && second.cpu.utilisation <= 1, String(second.cpu.utilisation));
  assert.ok(second.at >= first.at);
  // Whatever this machine lacks is unknown, not an error, and a missing tool is asked once only.
  for (const tool of ["nvidia-smi", "rocm-smi"]) {
    const asked = calls.filter((c) => c === tool).length;
    if (sampler.notes.get(tool)?.endsWith("not installed")) assert.equal(asked, 1, `${tool} asked ${asked} times`);
  }
});

test("a Linux machine with an NVIDIA GPU and thermal zones, from recorded output; zones re-read between samples", async () => {
  const calls: string[] = [];
  const sysfs = parseGrepDump(fixture("sysfs-thermal-grep-excerpt.txt"));
  // A zone that the classifier counts as the CPU's, with a passive trip point at 90 °C.
  sysfs.set("/sys/class/thermal/thermal_zone9/type", "x86_pkg_temp");
  sysfs.set("/sys/class/thermal/thermal_zone9/temp", "60000");
  sysfs.set("/sys/class/thermal/thermal_zone9/trip_point_0_type", "passive");
  sysfs.set("/sys/class/thermal/thermal_zone9/trip_point_0_temp", "90000");
  let fullReads = 0;
  const sources: SamplerSources = {
    ...LIVE_SAMPLER_SOURCES,
    platform: "linux",
    run: childRunner({ "nvidia-smi": "GeForce RTX 2080, 7979, 7000, 86, 45, 176.98, 200.00, 440.64, 7.5\n" }, calls),
    readSysfs: async () => (fullReads++, new Map(sysfs)),
    // /proc as on this machine; /sys from the recorded machine.
    readText: async (path) => (path.startsWith("/sys/") ? (sysfs.get(path) ?? null) : LIVE_SAMPLER_SOURCES.readText(path)),
  };
  const sampler = new TelemetrySampler(sources);
  await sampler.prime();
  const a = await sampler.sample();
  assert.deepEqual(a.gpus.map((g) => [g.vendor, g.name, g.utilisation, g.temperatureC, g.memoryTotalBytes]), [["nvidia", "GeForce RTX 2080", 0.86, 45, 7979 * 1024 * 1024]]);
  assert.equal(a.thermal.temperatureC, 60);
  assert.equal(a.thermal.state, "nominal");
  sysfs.set("/sys/class/thermal/thermal_zone9/temp", "91000");
  const b = await sampler.sample();
  assert.equal(b.thermal.temperatureC, 91, "the zone's temperature was read again");
  assert.equal(b.thermal.state, "serious", "past the passive trip point");
  assert.equal(fullReads, 1, "the second sample re-read only the files that change");
  assert.equal(calls.filter((c) => c === "rocm-smi").length, 1, "rocm-smi is missing: asked once");
  assert.equal(calls.filter((c) => c === "nvidia-smi").length, 2);
  assert.equal(sampler.notes.get("rocm-smi"), "rocm-smi: not installed");
});

test("a Mac on battery, from recorded pmset output; GPUs are not sampled there", async () => {
  const calls: string[] = [];
  const sources: SamplerSources = {
    ...LIVE_SAMPLER_SOURCES,
    platform: "darwin",
    run: childRunner({ pmset: fixture("pmset-batt-discharging.txt") }, calls),
  };
  const s = await new TelemetrySampler(sources).sample();
  // The stand-in prints the battery report for every pmset question: therm and settings read as unknown.
  assert.deepEqual([s.power.source, s.power.batteryPercent, s.power.charging], ["battery", 95, false]);
  assert.deepEqual(s.gpus, []);
  assert.ok(!calls.includes("nvidia-smi") && !calls.includes("system_profiler"));
  assert.ok(s.memory.totalBytes > 0);
});
