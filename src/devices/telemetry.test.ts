// The pure parts of telemetry: counters to rates, which sysfs files change, and samples to the
// cluster's records and back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { EventSchema, LooseRecordListSchema, LooseRecordSchema } from "../cluster/index.js";
import { parseNvidiaSmiCsv } from "./nvidia-smi.js";
import {
  cpuTimesFromOs, cpuUtilisation, gpuRecord, gpuTelemetryFromProfile, isDynamicSysfsPath, parseProcStatCpu, raplWatts,
  readGpus, readTelemetry, telemetryRecord, type TelemetrySample,
} from "./telemetry.js";

function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../../src/devices/fixtures/${name}`, import.meta.url)), "utf8");
}

// The first lines of /proc/stat on the machine these tests were written on.
const PROC_STAT_A = "cpu  897004 26193 52398 1449906 1983 0 7674 3915 0 0\ncpu0 441608 10967 26024 734066 1139 0 3687 1861 0 0\n";
const PROC_STAT_B = "cpu  897104 26193 52448 1450056 1983 0 7674 3915 0 0\ncpu0 441658 10967 26049 734141 1139 0 3687 1861 0 0\n";

test("/proc/stat: the aggregate line's busy and total time; utilisation between two readings", () => {
  const a = parseProcStatCpu(PROC_STAT_A)!;
  assert.equal(a.total, 897004 + 26193 + 52398 + 1449906 + 1983 + 0 + 7674 + 3915);
  assert.equal(a.busy, a.total - 1449906 - 1983);
  const b = parseProcStatCpu(PROC_STAT_B)!;
  // 100 user + 50 system busy, 150 idle: half busy.
  assert.equal(cpuUtilisation(a, b), 0.5);
  assert.equal(cpuUtilisation(null, b), null, "the first reading has no interval");
  assert.equal(cpuUtilisation(b, b), null, "no time passed");
  assert.equal(cpuUtilisation(b, a), null, "counters went backwards");
  assert.equal(parseProcStatCpu("cpu0 1 2 3 4\n"), null, "no aggregate line");
  assert.equal(parseProcStatCpu("cpu  1 x 3 4\n"), null);
  assert.equal(parseProcStatCpu(""), null);
  // Older kernels print only four fields.
  assert.deepEqual(parseProcStatCpu("cpu  10 0 10 80\n"), { busy: 20, total: 100 });
});

test("os.cpus() times give the same kind of reading, and /proc/stat agrees with them on this machine", () => {
  const fromOs = cpuTimesFromOs(cpus())!;
  assert.ok(fromOs.total > 0 && fromOs.busy >= 0 && fromOs.busy <= fromOs.total);
  assert.equal(cpuTimesFromOs([]), null);
  const proc = parseProcStatCpu(readFileSync("/proc/stat", "utf8"))!;
  const osIdle = 1 - fromOs.busy / fromOs.total;
  const procIdle = 1 - proc.busy / proc.total;
  // libuv reads the same counters (without iowait and steal): idle shares since boot agree closely.
  assert.ok(Math.abs(osIdle - procIdle) < 0.05, `${osIdle} vs ${procIdle}`);
});

test("RAPL: watts from energy counters, across a wrap, and unknown without two readings", () => {
  const at = (atMs: number, ...uj: number[]) => ({ atMs, counters: uj.map((energyUj, i) => ({ domain: `package-${i}`, energyUj, maxEnergyRangeUj: 262_143_328_850 })) });
  assert.equal(raplWatts(at(0, 1_000_000), at(2000, 31_000_000)), 15);
  assert.equal(raplWatts(at(0, 1_000_000, 0), at(1000, 11_000_000, 5_000_000)), 15, "two sockets add up");
  assert.equal(raplWatts(at(0, 262_143_000_000), at(1000, 9_671_150)), 10, "the counter wrapped");
  const noRange = { atMs: 1000, counters: [{ domain: "package-0", energyUj: 5, maxEnergyRangeUj: null }] };
  assert.equal(raplWatts(at(0, 100), noRange), null, "a wrap without a known range is unknown");
  assert.equal(raplWatts(null, at(1, 5)), null);
  assert.equal(raplWatts(at(5, 1), at(5, 2)), null, "no time passed");
});

test("only the sysfs files that change are re-read between samples", () => {
  for (const p of [
    "/sys/class/thermal/thermal_zone3/temp",
    "/sys/class/power_supply/BAT0/capacity",
    "/sys/class/power_supply/AC/online",
    "/sys/class/power_supply/BAT0/uevent",
    "/sys/devices/system/cpu/cpu11/cpufreq/scaling_cur_freq",
    "/sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq",
    "/sys/firmware/acpi/platform_profile",
  ]) assert.ok(isDynamicSysfsPath(p), p);
  for (const p of [
    "/sys/class/thermal/thermal_zone3/type",
    "/sys/class/thermal/thermal_zone3/trip_point_0_temp",
    "/sys/class/power_supply/BAT0/type",
    "/sys/class/power_supply/BAT0/scope",
    "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
  ]) assert.ok(!isDynamicSysfsPath(p), p);
});

const SAMPLE: TelemetrySample = {
  at: 1_795_000_000_000,
  memory: { totalBytes: 25_325_268_992, availableBytes: 24_373_305_344 },
  cpu: { utilisation: 0.25, load1: 0.5, logicalCores: 2 },
  power: { source: "battery", batteryPercent: 81, charging: false, lowPowerMode: null, cpuPowerW: 12.5 },
  thermal: { state: "fair", temperatureC: 71, cpuSpeedLimit: 1, cpuFrequencyFraction: 0.4 },
  gpus: [],
};

test("a sample becomes a schema-valid telemetry record and reads back unchanged", () => {
  const record = telemetryRecord(SAMPLE);
  assert.ok(LooseRecordSchema.safeParse(record).success);
  assert.ok(EventSchema.safeParse({ type: "NodeTelemetryUpdated", nodeId: "a", telemetry: record }).success);
  const { gpus: _gpus, ...rest } = SAMPLE;
  assert.deepEqual(readTelemetry(record), rest);
  const unknown = telemetryRecord({ ...SAMPLE, cpu: { utilisation: NaN, load1: null, logicalCores: 2 }, thermal: { state: null, temperatureC: Infinity, cpuSpeedLimit: null, cpuFrequencyFraction: null } });
  assert.ok(LooseRecordSchema.safeParse(unknown).success, "NaN and Infinity become null");
  assert.equal(readTelemetry(unknown)!.cpu.utilisation, null);
  assert.equal(readTelemetry(unknown)!.thermal.temperatureC, null);
});

test("records from another version or a broken node read as unknown, never as wrong numbers", () => {
  assert.equal(readTelemetry(undefined), null);
  assert.equal(readTelemetry({ cpu: 1 }), null, "no timestamp or memory");
  assert.equal(readTelemetry({ at: 1, memory: { totalBytes: "8 GB", availableBytes: 1 } }), null);
  const odd = readTelemetry({ at: 5, memory: { totalBytes: 10, availableBytes: 4 }, cpu: { utilisation: 7, load1: "high" }, power: { source: "solar", charging: "yes" }, thermal: { state: "toasty", cpuSpeedLimit: -1 }, extra: [1, 2] })!;
  assert.equal(odd.cpu.utilisation, 1, "a fraction is clamped to 0..1");
  assert.equal(odd.cpu.load1, null);
  assert.equal(odd.cpu.logicalCores, 0);
  assert.equal(odd.power.source, null);
  assert.equal(odd.power.charging, null);
  assert.equal(odd.thermal.state, null);
  assert.equal(odd.thermal.cpuSpeedLimit, 0);
});

test("GPUs from recorded nvidia-smi output become DeviceGPUStateUpdated records and read back", () => {
  const gpus = parseNvidiaSmiCsv(fixture("nvidia-smi-1gpu-rtx2080-noheader.csv"), [
    "power.limit", "power.min_limit", "power.max_limit", "memory.total", "vbios_version", "driver_version", "name", "gpu_uuid", "power.draw",
    "temperature.gpu", "temperature.memory", "clocks.current.graphics", "clocks.sm", "clocks.mem", "utilization.gpu", "utilization.memory",
    "fan.speed", "pcie.link.width.current", "pstate",
  ]).map(gpuTelemetryFromProfile);
  assert.equal(gpus.length, 1);
  const records = gpus.map(gpuRecord);
  assert.ok(LooseRecordListSchema.safeParse(records).success);
  assert.ok(EventSchema.safeParse({ type: "DeviceGPUStateUpdated", nodeId: "a", gpus: records }).success);
  const back = readGpus(records);
  assert.deepEqual(back, gpus);
  assert.equal(back[0].name, "GeForce RTX 2080");
  assert.equal(back[0].utilisation, 0.86);
  assert.equal(back[0].temperatureC, 45);
  assert.equal(back[0].powerDrawW, 176.98);
  assert.deepEqual(readGpus([{ vendor: "nvidia" }, 3, { index: 1, vendor: "quantum" }]).map((g) => [g.index, g.vendor]), [[1, "other"]]);
  const long = gpuRecord({ ...gpus[0], name: "x".repeat(300) });
  assert.equal((long["name"] as string).length, 256);
});
