// How a pull shows its progress: a bar redrawn in place on a terminal, or a plain line every few
// seconds when the output is a log or a pipe (where carriage returns would make a mess).
import { formatBytes } from "./disk-space.js";
import type { DownloadProgress } from "./download.js";

export interface ProgressSink {
  write(text: string): void;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** `[########------]  45%  512.0 KiB / 1.1 MiB  3.2 MiB/s` in at most `width` columns. */
export function progressBar(p: DownloadProgress, bytesPerSecond: number | undefined, width: number): string {
  const fraction = p.total > 0 ? Math.min(1, p.received / p.total) : 1;
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  const rate = bytesPerSecond === undefined ? "" : `  ${formatBytes(Math.round(bytesPerSecond))}/s`;
  const text = `${pct}  ${formatBytes(p.received)} / ${formatBytes(p.total)}${rate}`;
  const barWidth = Math.max(10, Math.min(40, width - text.length - 4));
  const filled = Math.round(fraction * barWidth);
  return `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${text}`;
}

export function progressLine(p: DownloadProgress, bytesPerSecond: number | undefined): string {
  const pct = p.total > 0 ? ((100 * p.received) / p.total).toFixed(1) : "100.0";
  const rate = bytesPerSecond === undefined ? "" : `, ${formatBytes(Math.round(bytesPerSecond))}/s`;
  return `${pct}% (${p.received} of ${p.total} bytes${rate})`;
}

/** Feeds progress reports to a terminal bar (redrawn ≤ 10×/s) or periodic plain lines. */
export class ProgressReporter {
  private lastDraw: number | undefined;
  private lastLine: number | undefined;
  private started = 0;
  private startBytes: number | undefined;
  private last: DownloadProgress | undefined;

  constructor(
    private readonly sink: ProgressSink,
    /** Milliseconds between plain lines (non-terminal output). */
    private readonly lineEveryMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  update(p: DownloadProgress): void {
    const t = this.now();
    if (this.startBytes === undefined) {
      this.startBytes = p.received;
      this.started = t;
    }
    this.last = p;
    if (this.sink.isTTY) {
      if (this.lastDraw !== undefined && t - this.lastDraw < 100 && p.received < p.total) return;
      this.lastDraw = t;
      this.sink.write(`\r${progressBar(p, this.rate(t), (this.sink.columns ?? 80) - 1)}`);
      return;
    }
    if (this.lastLine === undefined) this.lastLine = t;
    else if (t - this.lastLine >= this.lineEveryMs) {
      this.lastLine = t;
      this.sink.write(`${progressLine(p, this.rate(t))}\n`);
    }
  }

  /** Ends the bar's line, or prints the final plain line. */
  finish(): void {
    if (!this.last) return;
    const rate = this.rate(this.now());
    if (this.sink.isTTY) this.sink.write(`\r${progressBar(this.last, rate, (this.sink.columns ?? 80) - 1)}\n`);
    else this.sink.write(`${progressLine(this.last, rate)}\n`);
  }

  private rate(t: number): number | undefined {
    const seconds = (t - this.started) / 1000;
    if (seconds < 0.2 || !this.last || this.startBytes === undefined) return undefined;
    return (this.last.received - this.startBytes) / seconds;
  }
}
