// Small, forgiving readers for the text that probes print: a field is a number or unknown, never NaN.

/**
 * The leading number of a field such as "7979", "176.98 W", "45 %", "3,5" is NOT accepted (locale
 * commas are ambiguous); "N/A", "[Not Supported]", "" and anything without a leading number are null.
 */
export function numberOrNull(text: string | undefined | null): number | null {
  if (text === undefined || text === null) return null;
  const m = /^\s*(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%°/]*\s*)$/.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : null;
}

/** A non-empty trimmed string, or null for "", "N/A", "[N/A]" and friends. */
export function stringOrNull(text: string | undefined | null): string | null {
  if (text === undefined || text === null) return null;
  const t = text.trim();
  if (t === "" || /^\[?(n\/a|not supported|unknown)\]?$/i.test(t) || /^n\/a\b/i.test(t)) return null;
  return t;
}

export function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

export const MIB = 1024 * 1024;
