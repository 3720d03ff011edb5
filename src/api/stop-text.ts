// OpenAI's `stop`: generation ends as soon as any stop string appears, and the stop string itself is
// never returned. Text arrives piece by piece (a token at a time), so a stop string can straddle
// pieces: whatever could still be the start of a stop string is held back until the next piece
// decides it. Pure; one StopText per completion.

export class StopText {
  private held = "";
  private matched = false;

  constructor(private readonly stops: readonly string[]) {
    if (stops.some((s) => s.length === 0)) throw new RangeError("a stop string cannot be empty");
  }

  /** True once a stop string was seen: the generation should end, and nothing more is released. */
  get stopped(): boolean {
    return this.matched;
  }

  /** Feeds the next piece of text; returns what can be released now. */
  push(piece: string): string {
    if (this.matched) return "";
    if (this.stops.length === 0) return piece;
    const text = this.held + piece;
    // The stop string that completes first wins (the longest, if several end at the same character),
    // as if the text had been checked a character at a time: the result does not depend on how the
    // text was split into pieces.
    let at = -1;
    let end = Infinity;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (i + s.length < end || (i + s.length === end && i < at))) {
        at = i;
        end = i + s.length;
      }
    }
    if (at >= 0) {
      this.matched = true;
      this.held = "";
      return text.slice(0, at);
    }
    // Everything before the longest tail that begins some stop string is safe: no stop string can
    // start earlier, since every earlier start was already ruled out.
    let keep = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, text.length); k > keep; k--) {
        if (text.endsWith(s.slice(0, k))) {
          keep = k;
          break;
        }
      }
    }
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** The generation ended without a stop string: release what was held back. */
  flush(): string {
    const rest = this.matched ? "" : this.held;
    this.held = "";
    return rest;
  }
}
