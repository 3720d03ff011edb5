// The probe parsers on real recorded output (fixtures/README.md names each source) and on broken output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { cpuFeaturesFromFlags, parseCpuInfo, parseMemInfo } from "./linux-proc.js";
import { cpuFreqFromSysfs, lowPowerFromSysfs, parseGrepDump, parseTailDump, powerFromSysfs, thermalFromSysfs } from "./linux-sysfs.js";
import { parsePmsetBatt, parsePmsetLowPowerMode, parsePmsetTherm, parseSystemProfilerDisplays } from "./macos.js";
import { parseNvidiaSmiCsv } from "./nvidia-smi.js";
import { parseRocmSmiJson } from "./rocm-smi.js";

/** Fixtures stay in src/ (tsc does not copy them); this resolves from dist/devices/ and src/devices/ alike. */
function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../../src/devices/fixtures/${name}`, import.meta.url)), "utf8");
}

const MIB = 1024 * 1024;

test("nvidia-smi: one GPU, noheader/nounits, columns given by the query's field list", () => {
  const fields = "power.limit,power.min_limit,power.max_limit,memory.total,vbios_version,driver_version,name,gpu_uuid,power.draw,temperature.gpu,temperature.memory,clocks.current.graphics,clocks.sm,clocks.mem,utilization.gpu,utilization.memory,fan.speed,pcie.link.width.current,pstate".split(",");
  const [gpu, ...rest] = parseNvidiaSmiCsv(fixture("nvidia-smi-1gpu-rtx2080-noheader.csv"), fields);
  assert.equal(rest.length, 0);
  assert.equal(gpu.vendor, "nvidia");
  assert.equal(gpu.name, "GeForce RTX 2080");
  assert.equal(gpu.memoryTotalBytes, 7979 * MIB);
  assert.equal(gpu.memoryFreeBytes, null, "not queried");
  assert.equal(gpu.utilisation, 0.86);
  assert.equal(gpu.temperatureC, 45);
  assert.equal(gpu.powerDrawW, 176.98);
  assert.equal(gpu.powerLimitW, 200);
  assert.equal(gpu.driverVersion, "440.64");
  assert.equal(gpu.computeCapability, null);
});

test("nvidia-smi: the header-and-units form is read by column name", () => {
  const [gpu] = parseNvidiaSmiCsv(fixture("nvidia-smi-1gpu-rtx2060-header.csv"));
  assert.equal(gpu.name, "GeForce RTX 2060");
  assert.equal(gpu.memoryTotalBytes, 5934 * MIB);
  assert.equal(gpu.memoryFreeBytes, 5252 * MIB);
  assert.equal(gpu.utilisation, 0.2);
  assert.equal(gpu.temperatureC, 36);
  assert.equal(gpu.driverVersion, "460.91.03");
});

test("nvidia-smi: several GPUs", () => {
  const two = parseNvidiaSmiCsv(fixture("nvidia-smi-2gpu-noheader.csv"), ["gpu_name", "memory.free"]);
  assert.deepEqual(two.map((g) => [g.index, g.name, g.memoryFreeBytes]), [
    [0, "NVIDIA GeForce GTX 1050 Ti", 2131 * MIB],
    [1, "NVIDIA GeForce RTX 3080 Ti", 16000 * MIB],
  ]);
  const cc = parseNvidiaSmiCsv(fixture("nvidia-smi-2gpu-header.csv"));
  assert.deepEqual(cc.map((g) => [g.index, g.name, g.computeCapability, g.driverVersion]), [
    [0, "NVIDIA TITAN V", "7.0", "570.86.15"],
    [1, "NVIDIA RTX 5880 Ada Generation", "8.9", "570.86.15"],
  ]);
});

test("nvidia-smi: empty, truncated and garbage output give no GPUs or only the complete lines", () => {
  assert.deepEqual(parseNvidiaSmiCsv(""), []);
  assert.deepEqual(parseNvidiaSmiCsv("\n\n"), []);
  const text = fixture("nvidia-smi-2gpu-header.csv");
  const truncated = text.slice(0, text.lastIndexOf("NVIDIA RTX"));
  assert.deepEqual(parseNvidiaSmiCsv(truncated).map((g) => g.name), ["NVIDIA TITAN V"]);
  assert.deepEqual(parseNvidiaSmiCsv("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."), []);
  assert.deepEqual(parseNvidiaSmiCsv("\u0000\u00ff<html>,,,"), []);
});

test("rocm-smi: a discrete GPU with temperature, power, use and VRAM", () => {
  const [gpu] = parseRocmSmiJson(fixture("rocm-smi-7900xtx.json"));
  assert.equal(gpu.vendor, "amd");
  assert.equal(gpu.index, 0);
  assert.equal(gpu.temperatureC, 49);
  assert.equal(gpu.powerDrawW, 19);
  assert.equal(gpu.utilisation, 0);
  assert.equal(gpu.memoryTotalBytes, 25753026560);
  assert.equal(gpu.memoryFreeBytes, 25753026560 - 794341376);
  assert.equal(gpu.name, null, "--showproductname was not part of that query");
});

test("rocm-smi: product name and gfx target; two-die MI250 with an N/A power reading", () => {
  const [xt] = parseRocmSmiJson(fixture("rocm-smi-7900xt-productname.json"));
  assert.equal(xt.name, "Radeon RX 7900 XT");
  assert.equal(xt.computeCapability, "gfx1100");
  assert.equal(xt.memoryTotalBytes, 21458059264);
  const mi = parseRocmSmiJson(fixture("rocm-smi-2gpu-mi250.json"));
  assert.deepEqual(mi.map((g) => [g.index, g.powerDrawW, g.utilisation]), [[0, 92, 0.5], [1, null, 0.5]]);
  assert.equal(mi[1].name, "AMD INSTINCT MI250 (MCM) OAM AC MBA");
});

test("rocm-smi: empty, truncated, garbage and non-card JSON give []", () => {
  const text = fixture("rocm-smi-7900xt-productname.json");
  for (const bad of ["", text.slice(0, text.length / 2), "ERROR: GPU[0] : Unable to get GPU memory use.", "[]", "null", '{"system": {"Driver version": "6.2"}}']) {
    assert.deepEqual(parseRocmSmiJson(bad), [], JSON.stringify(bad.slice(0, 40)));
  }
});

test("system_profiler: Apple Silicon GPU (unified memory, core count, Metal family)", () => {
  const [gpu, ...rest] = parseSystemProfilerDisplays(fixture("system-profiler-apple-m1.json"));
  assert.equal(rest.length, 0);
  assert.equal(gpu.vendor, "apple");
  assert.equal(gpu.name, "Apple M1");
  assert.equal(gpu.cores, 7);
  assert.equal(gpu.unifiedMemory, true);
  assert.equal(gpu.memoryTotalBytes, null, "the profile fills in system memory");
  assert.equal(gpu.computeCapability, "spdisplays_mtlgpufamilyapple7");
  const text = fixture("system-profiler-apple-m1.json");
  for (const bad of ["", text.slice(0, 300), "not json", '{"SPDisplaysDataType": 3}']) assert.deepEqual(parseSystemProfilerDisplays(bad), []);
});

test("pmset: battery, charging, thermal", () => {
  assert.deepEqual(parsePmsetBatt(fixture("pmset-batt-discharging.txt")), { source: "battery", percent: 95, charging: false });
  assert.deepEqual(parsePmsetBatt(fixture("pmset-batt-charging.txt")), { source: "mains", percent: 84, charging: true });
  assert.deepEqual(parsePmsetTherm(fixture("pmset-therm-apple-silicon.txt")), { cpuSpeedLimit: null, thermal: "nominal" });
  assert.deepEqual(parsePmsetTherm(fixture("pmset-thermlog-throttled.txt")), { cpuSpeedLimit: 0.28, thermal: "critical" });
  assert.deepEqual(parsePmsetBatt(""), { source: null, percent: null, charging: null });
  assert.deepEqual(parsePmsetTherm("garbage"), { cpuSpeedLimit: null, thermal: null });
  assert.equal(parsePmsetLowPowerMode(""), null);
});

test("sysfs: laptop battery uevent, discharging and charging", () => {
  const dis = new Map([["/sys/class/power_supply/BAT0/uevent", fixture("sysfs-BAT0-uevent-discharging.txt")]]);
  assert.deepEqual(powerFromSysfs(dis), { source: "battery", batteryPercent: 98, charging: false });
  const chg = new Map([["/sys/class/power_supply/BAT0/uevent", fixture("sysfs-BAT0-uevent-charging.txt")]]);
  assert.deepEqual(powerFromSysfs(chg), { source: "mains", batteryPercent: 98, charging: true });
});

test("sysfs: the mains supply's online flag decides the power source", () => {
  const battery = new Map([["/sys/class/power_supply/BAT0/uevent", fixture("sysfs-BAT0-uevent-charging.txt")]]);
  const unplugged = new Map([...parseGrepDump(fixture("sysfs-power-online-unplugged.txt")), ...battery]);
  assert.equal(unplugged.get("/sys/class/power_supply/ucsi-source-psy-USBC000:004/online"), "0");
  assert.equal(powerFromSysfs(unplugged).source, "battery");
  const plugged = parseGrepDump(fixture("sysfs-power-online-plugged.txt"));
  assert.equal(powerFromSysfs(plugged).source, "mains");
  assert.equal(powerFromSysfs(plugged).batteryPercent, null);
});

test("sysfs: thermal zones, cpufreq caps and missing or broken files", () => {
  const types = parseTailDump(fixture("sysfs-thermal-types.txt"));
  assert.equal(types.get("/sys/class/thermal/thermal_zone6/type"), "x86_pkg_temp");
  assert.deepEqual(thermalFromSysfs(types), { temperatureC: null, thermal: null }, "types without temperatures say nothing");
  const excerpt = parseGrepDump(fixture("sysfs-thermal-grep-excerpt.txt"));
  assert.deepEqual(thermalFromSysfs(excerpt), { temperatureC: 25, thermal: "nominal" });

  const [max, cap] = fixture("cpufreq-capped.txt").split("\n").filter((l) => /^\d+$/.test(l));
  const freq = new Map([
    ["/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", max],
    ["/sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq", cap],
  ]);
  assert.equal(cpuFreqFromSysfs(freq).speedLimit, 1500000 / 2801000);
  assert.equal(cpuFreqFromSysfs(freq).currentFraction, null);

  const empty = new Map<string, string>();
  assert.deepEqual(powerFromSysfs(empty), { source: null, batteryPercent: null, charging: null });
  assert.deepEqual(thermalFromSysfs(empty), { temperatureC: null, thermal: null });
  assert.deepEqual(cpuFreqFromSysfs(empty), { speedLimit: null, currentFraction: null });
  assert.equal(lowPowerFromSysfs(empty), null);
  const garbage = new Map([
    ["/sys/class/thermal/thermal_zone0/temp", "not a number"],
    ["/sys/class/thermal/thermal_zone1/temp", "-273150"],
    ["/sys/class/power_supply/BAT0/uevent", "\u0000\u0001"],
    ["/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", ""],
  ]);
  assert.deepEqual(thermalFromSysfs(garbage), { temperatureC: null, thermal: null });
  assert.equal(powerFromSysfs(garbage).batteryPercent, null);
  assert.equal(cpuFreqFromSysfs(garbage).speedLimit, null);
  assert.deepEqual(parseGrepDump("garbage\n:::\n"), new Map());
});

test("/proc/cpuinfo and /proc/meminfo of this machine (recorded)", () => {
  const info = parseCpuInfo(fixture("this-machine-proc-cpuinfo.txt"));
  assert.equal(info.model, "Intel(R) Xeon(R) Processor");
  assert.equal(info.logicalCpus, 2);
  assert.equal(info.physicalCores, 2);
  const features = cpuFeaturesFromFlags(info.flags, "x64");
  assert.deepEqual(features, { avx2: true, avx512f: true, fma: true, f16c: true, neon: false });
  const mem = parseMemInfo(fixture("this-machine-proc-meminfo.txt"));
  assert.equal(mem.totalBytes, 24731708 * 1024);
  assert.ok(mem.availableBytes !== null && mem.availableBytes > 0 && mem.availableBytes <= mem.totalBytes!);
  assert.deepEqual(parseMemInfo(""), { totalBytes: null, availableBytes: null });
  assert.deepEqual(parseCpuInfo(""), { model: null, logicalCpus: 0, physicalCores: null, flags: new Set() });
  assert.deepEqual(cpuFeaturesFromFlags(new Set(), "x64"), { avx2: null, avx512f: null, fma: null, f16c: null, neon: null });
});
