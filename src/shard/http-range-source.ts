// A RangeSource over HTTP Range requests, for a model no peer holds (the Hub or a mirror). Adjacent
// ranges are merged into one request; each request must come back 206 with the Content-Range asked for,
// so a server that ignores Range cannot make us download the whole file.
import { coalesce, type ByteRange } from "./tensor-ranges.js";
import { RangeSourceError, type RangeSink, type RangeSource } from "./range-source.js";

export interface HttpRangeSourceOptions {
  /** Extra request headers, e.g. `authorization: Bearer <HF_TOKEN>`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The manifest for this file when one is known (from the model index); HTTP servers have none. */
  readonly manifest?: Uint8Array;
  /** Gives up on a request that sends nothing for this long (default 30 s). */
  readonly stallMs?: number;
}

export class HttpRangeSource implements RangeSource {
  readonly label: string;
  /** Body bytes received, for progress and tests. */
  bytesReceived = 0;
  readonly manifest?: (signal?: AbortSignal) => Promise<Uint8Array>;

  constructor(
    readonly url: string,
    private readonly options: HttpRangeSourceOptions = {},
  ) {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new RangeSourceError(`${url} is not an http(s) URL`);
    this.label = `${parsed.origin}${parsed.pathname}`;
    const known = options.manifest;
    if (known) this.manifest = () => Promise.resolve(known);
  }

  async read(ranges: readonly ByteRange[], sink: RangeSink, signal?: AbortSignal): Promise<void> {
    for (const r of coalesce(ranges)) await this.readOne(r, sink, signal);
  }

  async close(): Promise<void> {
    // fetch keeps no per-source state to release.
  }

  private async readOne(range: ByteRange, sink: RangeSink, signal?: AbortSignal): Promise<void> {
    const last = range.start + range.length - 1;
    const stall = new AbortController();
    const stallMs = this.options.stallMs ?? 30_000;
    let timer = setTimeout(() => stall.abort(new RangeSourceError(`${this.label}: no data for ${stallMs} ms`)), stallMs);
    const rearm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(new RangeSourceError(`${this.label}: no data for ${stallMs} ms`)), stallMs);
    };
    try {
      let res: Response;
      try {
        res = await fetch(this.url, {
          headers: { ...this.options.headers, range: `bytes=${range.start}-${last}`, "accept-encoding": "identity" },
          signal: signal ? AbortSignal.any([signal, stall.signal]) : stall.signal,
          redirect: "follow",
        });
      } catch (e) {
        throw new RangeSourceError(`${this.label}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (res.status !== 206) {
        await res.body?.cancel();
        throw new RangeSourceError(`${this.label} answered a Range request with HTTP ${res.status}, not 206`);
      }
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
      if (!m || Number(m[1]) !== range.start || Number(m[2]) !== last) {
        await res.body?.cancel();
        throw new RangeSourceError(`${this.label} sent Content-Range "${res.headers.get("content-range")}" for bytes ${range.start}-${last}`);
      }
      if (!res.body) throw new RangeSourceError(`${this.label} sent no body`);
      let at = range.start;
      const reader = res.body.getReader();
      let finished = false;
      try {
        for (;;) {
          const { done, value } = await reader.read().catch((e: unknown) => {
            throw new RangeSourceError(`${this.label}: ${e instanceof Error ? e.message : String(e)}`);
          });
          if (done) {
            finished = true;
            break;
          }
          rearm();
          if (at + value.length > range.start + range.length) throw new RangeSourceError(`${this.label} sent more than the ${range.length} bytes asked for`);
          this.bytesReceived += value.length;
          await sink(at, value);
          at += value.length;
        }
      } finally {
        // Leaving early (a bad chunk, the sink failed): drop the rest of the body and the connection.
        if (!finished) await reader.cancel().catch(() => undefined);
        reader.releaseLock();
      }
      if (at !== range.start + range.length) throw new RangeSourceError(`${this.label} ended after ${at - range.start} of ${range.length} bytes`);
    } finally {
      clearTimeout(timer);
    }
  }
}
