// Takes the bytes of manifest spans (the header, tensors) as a source delivers them, in order: hashes
// each chunk and writes it to the partial file at its offset, and when a span's last byte is in, marks
// the span present if its sha256 matches the manifest (once its writes are done), or records it as
// failed. Nothing is marked before it is verified and on disk; a failed span's bytes stay in the file
// but are not listed, so they are fetched again (and overwritten) from another source.
// Writes run in the background, up to MAX_PENDING_WRITE bytes: awaiting each one before taking the
// next chunk costs a thread-pool round trip per chunk, which on a busy machine halved the throughput.
import { createHash, type Hash } from "node:crypto";
import type { PartialModel } from "./partial-model.js";
import { RangeSourceError } from "./range-source.js";

/** A span to receive: `name` is a tensor name, or HEADER_SPAN for the GGUF header. */
export interface ExpectedSpan {
  readonly name: string;
  readonly start: number;
  readonly length: number;
  /** null: no hash is known (a provisional manifest); the bytes are taken as they come. */
  readonly sha256: string | null;
}

export const HEADER_SPAN = "(header)";
const MAX_PENDING_WRITE = 16 * 1024 * 1024;

export class SpanReceiver {
  private readonly spans: readonly ExpectedSpan[];
  private readonly progress = new Map<string, { hash: Hash; received: number; writes: Promise<void>[] }>();
  private readonly pending = new Set<Promise<void>>();
  private pendingBytes = 0;
  private writeError: unknown;
  private at = 0; // index of the first span not yet complete
  /** Spans whose bytes did not match the manifest. */
  readonly failed: string[] = [];
  /** Spans verified and marked present. */
  readonly verified: string[] = [];
  /** Bytes received and written, verified or not. */
  bytes = 0;

  constructor(
    private readonly partial: PartialModel,
    spans: readonly ExpectedSpan[],
    private readonly onSpan?: (span: ExpectedSpan, ok: boolean) => void,
  ) {
    this.spans = [...spans].sort((a, b) => a.start - b.start);
  }

  /** A RangeSink: bytes at an absolute file offset. */
  readonly sink = async (offset: number, bytes: Uint8Array): Promise<void> => {
    if (this.writeError !== undefined) throw this.writeError;
    this.check(offset, bytes.length);
    const write = this.track(this.partial.writeAt(offset, bytes), bytes.length);
    this.bytes += bytes.length;
    let pos = offset;
    let rest = bytes;
    while (rest.length > 0) {
      const span = this.spanAt(pos);
      const state = this.progress.get(span.name) ?? { hash: createHash("sha256"), received: 0, writes: [] };
      this.progress.set(span.name, state);
      const take = Math.min(rest.length, span.start + span.length - pos);
      state.hash.update(rest.subarray(0, take));
      state.received += take;
      state.writes.push(write);
      pos += take;
      rest = rest.subarray(take);
      if (state.received === span.length) this.finish(span, state.hash.digest("hex"), state.writes);
    }
    while (this.pendingBytes > MAX_PENDING_WRITE && this.writeError === undefined) await Promise.race(this.pending);
  };

  /** Bytes [offset, offset + length) must continue requested spans exactly where they left off; checked before any write. */
  private check(offset: number, length: number): void {
    for (let pos = offset; pos < offset + length; ) {
      const span = this.spanAt(pos);
      const received = this.progress.get(span.name)?.received ?? 0;
      if (pos !== span.start + received) throw new RangeSourceError(`bytes at ${pos} arrived out of order for ${span.name}`);
      pos += Math.min(offset + length - pos, span.start + span.length - pos);
    }
  }

  /** Waits for every write (and the marks that follow them); throws the first write failure. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
    if (this.writeError !== undefined) throw this.writeError;
  }

  /** Spans of length 0 have no bytes to wait for. */
  settleEmpty(): void {
    for (const s of this.spans) if (s.length === 0 && !this.progress.has(s.name)) this.finish(s, createHash("sha256").digest("hex"), []);
  }

  /** Keeps a background write in `pending` until it settles; a failure is kept for sink/flush to throw. */
  private track(write: Promise<void>, bytes: number): Promise<void> {
    this.pendingBytes += bytes;
    const settled = write.then(
      () => undefined,
      (e: unknown) => {
        this.writeError ??= e;
      },
    );
    const tracked = settled.finally(() => {
      this.pending.delete(tracked);
      this.pendingBytes -= bytes;
    });
    this.pending.add(tracked);
    return write;
  }

  private spanAt(pos: number): ExpectedSpan {
    while (this.at < this.spans.length && this.spans[this.at].start + this.spans[this.at].length <= pos) this.at++;
    // Spans are few per request, but a source could send bytes for an earlier span again: search all.
    const span = this.spans[this.at]?.start <= pos ? this.spans[this.at] : this.spans.find((s) => s.start <= pos && pos < s.start + s.length);
    if (!span || pos >= span.start + span.length) throw new RangeSourceError(`bytes at ${pos} belong to no requested span`);
    return span;
  }

  private finish(span: ExpectedSpan, sha256: string, writes: readonly Promise<void>[]): void {
    this.progress.set(span.name, { hash: createHash("sha256"), received: Number.POSITIVE_INFINITY, writes: [] });
    if (span.sha256 !== null && sha256 !== span.sha256) {
      this.failed.push(span.name);
      this.onSpan?.(span, false);
      return;
    }
    // Marked only once all its bytes are written; a failed write leaves it unmarked (flush reports it).
    const mark = Promise.all(writes).then(() => {
      if (span.name === HEADER_SPAN) this.partial.markHeader();
      else this.partial.markTensor(span.name);
      this.verified.push(span.name);
      this.onSpan?.(span, true);
    });
    this.track(mark, 0).catch(() => undefined);
  }
}
