// Linux power, thermal and frequency state from sysfs. The files are read into a snapshot (path →
// contents) and interpreted by pure functions, so a dump posted as `grep . /sys/...` output is a test input.
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { PowerSource, Thermal } from "./types.js";

export type SysfsSnapshot = ReadonlyMap<string, string>;

/** `grep -r . DIR` / `grep . FILES` output: "path:value" lines (paths may hold ':', file names do not). */
export function parseGrepDump(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^(\/sys\/.*\/[^/:]+):(.*)$/.exec(line);
    if (m) out.set(m[1], m[2].trim());
  }
  return out;
}

/** `tail FILES` output: "==> path <==" headers, each followed by that file's contents. */
export function parseTailDump(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split(/^==> (.+) <==$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) out.set(parts[i].trim().replace(/^\/sys\/devices\/virtual\/thermal\//, "/sys/class/thermal/"), parts[i + 1].trim());
  return out;
}

/** KEY=VALUE lines of a uevent file. */
export function parseUevent(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf("=");
    if (at > 0) out.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return out;
}

const POWER_DIR = "/sys/class/power_supply";
const THERMAL_DIR = "/sys/class/thermal";
const CPU_DIR = "/sys/devices/system/cpu";
const PLATFORM_PROFILE = "/sys/firmware/acpi/platform_profile";

function childrenOf(snap: SysfsSnapshot, dir: string): string[] {
  const names = new Set<string>();
  for (const path of snap.keys()) {
    if (!path.startsWith(dir + "/")) continue;
    const rest = path.slice(dir.length + 1);
    const slash = rest.indexOf("/");
    if (slash > 0) names.add(rest.slice(0, slash));
  }
  return [...names].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

/** One power supply's attributes: the separate files, falling back to its uevent's POWER_SUPPLY_* keys. */
function supplyAttrs(snap: SysfsSnapshot, name: string): (attr: string) => string | undefined {
  const dir = `${POWER_DIR}/${name}`;
  const uevent = parseUevent(snap.get(`${dir}/uevent`) ?? "");
  return (attr) => snap.get(`${dir}/${attr}`) ?? uevent.get(`POWER_SUPPLY_${attr.toUpperCase()}`);
}

export interface SysfsPower {
  readonly source: PowerSource | null;
  readonly batteryPercent: number | null;
  readonly charging: boolean | null;
}

export function powerFromSysfs(snap: SysfsSnapshot): SysfsPower {
  let percent: number | null = null;
  let status: string | undefined;
  let mainsOnline: boolean | null = null;
  for (const name of childrenOf(snap, POWER_DIR)) {
    const get = supplyAttrs(snap, name);
    // A stylus or mouse battery reports scope "Device"; it says nothing about what powers this machine.
    if (get("scope")?.toLowerCase() === "device") continue;
    const type = get("type") ?? (/^BAT/i.test(name) ? "Battery" : /^(AC|ADP|ACAD)/i.test(name) ? "Mains" : undefined);
    if (type === "Battery") {
      if (get("present") === "0") continue;
      const cap = Number(get("capacity"));
      const energy = Number(get("energy_now")) / Number(get("energy_full"));
      const charge = Number(get("charge_now")) / Number(get("charge_full"));
      const p = Number.isFinite(cap) && get("capacity") !== undefined ? cap : Number.isFinite(energy) ? energy * 100 : Number.isFinite(charge) ? charge * 100 : NaN;
      if (Number.isFinite(p) && percent === null) percent = Math.max(0, Math.min(100, Math.round(p)));
      status ??= get("status");
    } else if (get("online") !== undefined && (type === "Mains" || type === "USB" || type === "USB_C" || type === "USB_PD" || type === undefined)) {
      const online = get("online") === "1";
      mainsOnline = (mainsOnline ?? false) || online;
    }
  }
  const s = status?.toLowerCase();
  const charging = s === "charging" ? true : s === "discharging" || s === "full" || s === "not charging" ? false : null;
  let source: PowerSource | null = null;
  if (mainsOnline !== null) source = mainsOnline ? "mains" : percent !== null ? "battery" : null;
  else if (s === "discharging") source = "battery";
  else if (s === "charging" || s === "full" || s === "not charging") source = "mains";
  return { source, batteryPercent: percent, charging };
}

export interface ThermalZone {
  readonly name: string;
  readonly type: string;
  readonly tempC: number;
  /** Lowest "passive" trip point, °C: where the kernel starts throttling this zone. */
  readonly passiveC: number | null;
  readonly criticalC: number | null;
}

export function thermalZones(snap: SysfsSnapshot): ThermalZone[] {
  const zones: ThermalZone[] = [];
  for (const name of childrenOf(snap, THERMAL_DIR)) {
    if (!name.startsWith("thermal_zone")) continue;
    const dir = `${THERMAL_DIR}/${name}`;
    const milli = Number(snap.get(`${dir}/temp`));
    // Unreadable or nonsense sensors (missing, negative, > 150 °C) are left out rather than trusted.
    if (snap.get(`${dir}/temp`) === undefined || !Number.isFinite(milli) || milli <= 0 || milli > 150_000) continue;
    let passive: number | null = null;
    let critical: number | null = null;
    for (let i = 0; i < 16; i++) {
      const t = snap.get(`${dir}/trip_point_${i}_type`);
      const v = Number(snap.get(`${dir}/trip_point_${i}_temp`)) / 1000;
      if (t === undefined || !Number.isFinite(v) || v <= 0) continue;
      if (t === "passive") passive = passive === null ? v : Math.min(passive, v);
      if (t === "critical") critical = critical === null ? v : Math.min(critical, v);
    }
    zones.push({ name, type: snap.get(`${dir}/type`) ?? "", tempC: milli / 1000, passiveC: passive, criticalC: critical });
  }
  return zones;
}

/** Zones that measure the CPU package or the SoC, by the names Linux drivers give them. */
const CPU_ZONE = /x86_pkg_temp|cpu|soc|acpitz|k10temp|tctl|tdie|package|B0D4|TCPU/i;

export interface SysfsThermal {
  readonly temperatureC: number | null;
  readonly thermal: Thermal | null;
}

export function thermalFromSysfs(snap: SysfsSnapshot): SysfsThermal {
  const zones = thermalZones(snap);
  if (zones.length === 0) return { temperatureC: null, thermal: null };
  const cpu = zones.filter((z) => CPU_ZONE.test(z.type));
  const pool = cpu.length > 0 ? cpu : zones;
  let worst: Thermal = "nominal";
  let hottest = -Infinity;
  for (const z of pool) {
    hottest = Math.max(hottest, z.tempC);
    const cls = classifyZone(z);
    if (THERMAL_ORDER.indexOf(cls) > THERMAL_ORDER.indexOf(worst)) worst = cls;
  }
  return { temperatureC: hottest, thermal: worst };
}

const THERMAL_ORDER: readonly Thermal[] = ["nominal", "fair", "serious", "critical"];

/**
 * Against the zone's own trip points where it has them (the firmware's idea of "too hot"); otherwise
 * fixed thresholds typical of laptop CPUs, whose junction limit is around 100 °C.
 */
export function classifyZone(z: ThermalZone): Thermal {
  const critical = z.criticalC ?? 100;
  const passive = z.passiveC ?? Math.min(90, critical - 5);
  if (z.tempC >= critical - 2) return "critical";
  if (z.tempC >= passive) return "serious";
  if (z.tempC >= passive - 10) return "fair";
  return "nominal";
}

export interface SysfsCpuFreq {
  /** Mean over CPUs of scaling_max_freq ÷ cpuinfo_max_freq: the cap the kernel currently allows. */
  readonly speedLimit: number | null;
  /** Mean over CPUs of scaling_cur_freq ÷ cpuinfo_max_freq (low at idle; that alone is not throttling). */
  readonly currentFraction: number | null;
}

export function cpuFreqFromSysfs(snap: SysfsSnapshot): SysfsCpuFreq {
  const limits: number[] = [];
  const currents: number[] = [];
  for (const name of childrenOf(snap, CPU_DIR)) {
    if (!/^cpu\d+$/.test(name)) continue;
    const dir = `${CPU_DIR}/${name}/cpufreq`;
    const max = Number(snap.get(`${dir}/cpuinfo_max_freq`));
    if (!(max > 0)) continue;
    const cap = Number(snap.get(`${dir}/scaling_max_freq`));
    const cur = Number(snap.get(`${dir}/scaling_cur_freq`));
    if (cap > 0) limits.push(Math.min(1, cap / max));
    if (cur > 0) currents.push(Math.min(1, cur / max));
  }
  const mean = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
  return { speedLimit: mean(limits), currentFraction: mean(currents) };
}

/** power-profiles-daemon / firmware platform profile: "low-power" means the user asked to save power. */
export function lowPowerFromSysfs(snap: SysfsSnapshot): boolean | null {
  const p = snap.get(PLATFORM_PROFILE);
  return p === undefined ? null : p.trim() === "low-power";
}

async function readInto(out: Map<string, string>, path: string): Promise<void> {
  try {
    out.set(path, (await readFile(path, "utf8")).trim());
  } catch {
    // Absent or unreadable (permissions, a driver that errors on read): simply unknown.
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** Reads the files the interpreters above look at from the live /sys. */
export async function readSysfs(): Promise<SysfsSnapshot> {
  const out = new Map<string, string>();
  const reads: Promise<void>[] = [readInto(out, PLATFORM_PROFILE)];
  for (const name of await list(POWER_DIR)) {
    for (const attr of ["uevent", "type", "online", "capacity", "status", "scope", "present"]) reads.push(readInto(out, join(POWER_DIR, name, attr)));
  }
  for (const name of await list(THERMAL_DIR)) {
    if (!name.startsWith("thermal_zone")) continue;
    reads.push(readInto(out, join(THERMAL_DIR, name, "type")), readInto(out, join(THERMAL_DIR, name, "temp")));
    for (let i = 0; i < 8; i++) {
      reads.push(readInto(out, join(THERMAL_DIR, name, `trip_point_${i}_type`)), readInto(out, join(THERMAL_DIR, name, `trip_point_${i}_temp`)));
    }
  }
  for (const name of await list(CPU_DIR)) {
    if (!/^cpu\d+$/.test(name)) continue;
    for (const attr of ["cpuinfo_max_freq", "scaling_max_freq", "scaling_cur_freq"]) reads.push(readInto(out, join(CPU_DIR, name, "cpufreq", attr)));
  }
  await Promise.all(reads);
  return out;
}
