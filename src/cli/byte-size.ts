// Sizes as people type them: "8GiB", "512M", "1.5g", "4096" (bytes). K/M/G/T are powers of 1024 with
// or without the "i", as memory is sold and reported by the OS; a trailing "B" is optional.
const UNITS: Readonly<Record<string, number>> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Bytes, or undefined when the text is not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
