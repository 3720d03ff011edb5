// Which telemetry samples the master writes into the log. Every node samples every 2 s; writing each
// sample would grow the log (and every node's fsyncs) by N/2 events a second forever. The state only
// needs what placement and the dashboard act on, so a sample is recorded when something that matters
// changed, and otherwise at most every TELEMETRY_REFRESH_MS. Pure.
import type { LooseRecord, LooseValue } from "../cluster/index.js";

/** A node's telemetry in the state is at most this old, even when nothing changes. */
export const TELEMETRY_REFRESH_MS = 30_000;
/** Changes worth recording at once. */
export const UTILISATION_STEP = 0.15;
export const MEMORY_STEP_FRACTION = 0.05;
export const BATTERY_STEP_PERCENT = 5;

type Rec = Readonly<Record<string, LooseValue>>;
const rec = (v: LooseValue | undefined): Rec => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const num = (v: LooseValue | undefined): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

function moved(a: number | undefined, b: number | undefined, step: number): boolean {
  if (a === undefined || b === undefined) return a !== b;
  return Math.abs(a - b) >= step;
}

export function telemetryWorthRecording(prev: LooseRecord | undefined, next: LooseRecord): boolean {
  if (prev === undefined) return true;
  const [p, n] = [rec(prev), rec(next)];
  const at = [num(p["at"]), num(n["at"])];
  if (at[0] === undefined || at[1] === undefined || at[1] - at[0] >= TELEMETRY_REFRESH_MS) return true;
  const [pt, nt] = [rec(p["thermal"]), rec(n["thermal"])];
  if (pt["state"] !== nt["state"] || pt["cpuSpeedLimit"] !== nt["cpuSpeedLimit"]) return true;
  const [pp, np] = [rec(p["power"]), rec(n["power"])];
  if (pp["source"] !== np["source"] || pp["charging"] !== np["charging"] || pp["lowPowerMode"] !== np["lowPowerMode"]) return true;
  if (moved(num(pp["batteryPercent"]), num(np["batteryPercent"]), BATTERY_STEP_PERCENT)) return true;
  if (moved(num(rec(p["cpu"])["utilisation"]), num(rec(n["cpu"])["utilisation"]), UTILISATION_STEP)) return true;
  const [pm, nm] = [rec(p["memory"]), rec(n["memory"])];
  const total = num(nm["totalBytes"]) ?? num(pm["totalBytes"]) ?? 0;
  return moved(num(pm["availableBytes"]), num(nm["availableBytes"]), Math.max(1, total * MEMORY_STEP_FRACTION));
}
