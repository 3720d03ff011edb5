// Turns plain data observed on this machine (a device profile, a telemetry sample) into a value the
// cluster's loose-record schema accepts, by trimming rather than refusing: an over-long GPU name or a
// tool's note with a control character must not cost the whole record its place in the log.
import { LIMITS, LooseRecordSchema, type LooseRecord, type LooseValue } from "../cluster/bounded.js";

// Keys that the schema refuses because they reach Object.prototype when copied by assignment.
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;

function text(s: string, max: number): string {
  return s.replace(CONTROL, " ").slice(0, max);
}

/** `depth` is how many more containers may nest below this value (0: leaves only). */
function loose(value: unknown, depth: number): LooseValue | undefined {
  if (value === null) return null;
  switch (typeof value) {
    case "string":
      return text(value, LIMITS.textMaxChars);
    case "boolean":
      return value;
    case "number":
      // JSON has no NaN or Infinity; an unmeasurable number is unknown.
      return Number.isFinite(value) ? value : null;
    case "object":
      break;
    default:
      return undefined; // functions, symbols, bigints, undefined: not data
  }
  if (depth === 0) return undefined;
  if (Array.isArray(value)) {
    const out: LooseValue[] = [];
    for (const item of value.slice(0, LIMITS.listMax)) {
      const v = loose(item, depth - 1);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
  return record(value as Record<string, unknown>, depth);
}

function record(value: Readonly<Record<string, unknown>>, depth: number): LooseRecord {
  const out: Record<string, LooseValue> = {};
  let keys = 0;
  for (const [k, item] of Object.entries(value)) {
    if (keys >= LIMITS.listMax) break;
    const key = text(k, LIMITS.idMaxChars);
    if (key === "" || FORBIDDEN_KEYS.has(key) || Object.hasOwn(out, key)) continue;
    const v = loose(item, depth - 1);
    if (v === undefined) continue;
    out[key] = v;
    keys++;
  }
  return out;
}

/**
 * A loose record holding as much of `value` as the limits allow: strings cut to length, control
 * characters blanked, lists and key sets cut to the cap, deeper nesting and non-data dropped, non-finite
 * numbers made null. Returns null only when the result still breaks a limit (the total value budget).
 */
export function toLooseRecord(value: Readonly<Record<string, unknown>>): LooseRecord | null {
  const r = record(value, LIMITS.looseDepth);
  return LooseRecordSchema.safeParse(r).success ? r : null;
}
