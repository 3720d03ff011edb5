// The fetcher's side of /tessera/model-range/1.0.0: a RangeSource backed by one peer that holds the
// model. One stream carries its requests one at a time; any failure (error frame, a frame out of
// order, a stall, the stream closing) drops the stream, and the next call dials a fresh one.
import type { Libp2p } from "libp2p";
import { peerIdFromString } from "@libp2p/peer-id";
import { FramedStream } from "../net/framed-stream.js";
import type { Frame } from "../net/frames.js";
import { MAX_RANGES_PER_REQUEST, MAX_REQUEST_BYTES, MODEL_RANGE_PROTOCOL, RangeResponseSchema, RESPONSE_LIMITS, type RangeRequest, type RangeResponse } from "./range-protocol.js";
import { RangeSourceError, type RangeSink, type RangeSource } from "./range-source.js";
import type { ByteRange } from "./tensor-ranges.js";

export interface PeerRangeSourceOptions {
  /** Give up on a request when the peer sends nothing for this long (default 30 s). */
  readonly stallMs?: number;
  readonly dialTimeoutMs?: number;
}

/** Frames as they arrive, taken one at a time by an async reader. */
class Inbox {
  private readonly frames: Frame<RangeResponse>[] = [];
  private waiter: { resolve: (f: Frame<RangeResponse>) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  push(frame: Frame<RangeResponse>): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(frame);
    } else this.frames.push(frame);
  }

  fail(error: Error): void {
    this.failure ??= error;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(error);
  }

  next(stallMs: number, signal?: AbortSignal): Promise<Frame<RangeResponse>> {
    if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    const queued = this.frames.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(() => reject(new RangeSourceError(`no data for ${stallMs} ms`))), stallMs);
      const onAbort = (): void => done(() => reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted")));
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiter = undefined;
        settle();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiter = { resolve: (f) => done(() => resolve(f)), reject: (e) => done(() => reject(e)) };
    });
  }
}

export class PeerRangeSource implements RangeSource {
  readonly label: string;
  private link: { stream: FramedStream<RangeResponse>; inbox: Inbox } | undefined;
  private nextId = 1;

  constructor(
    private readonly node: Libp2p,
    readonly peerId: string,
    /** The manifest or whole-file sha256 the peer holds the model under. */
    readonly modelId: string,
    private readonly options: PeerRangeSourceOptions = {},
  ) {
    this.label = `peer ${peerId}`;
  }

  async manifest(signal?: AbortSignal): Promise<Uint8Array> {
    return this.guard(async (link) => {
      const id = this.nextId++;
      await link.stream.send({ kind: "manifest", id, model: this.modelId } satisfies RangeRequest);
      const f = await link.inbox.next(this.stallMs, signal);
      this.expect(f.header, id);
      if (f.header.kind !== "manifest") throw new RangeSourceError(`${this.label} answered a manifest request with ${f.header.kind}`);
      return f.payload;
    }, signal);
  }

  async read(ranges: readonly ByteRange[], sink: RangeSink, signal?: AbortSignal): Promise<void> {
    for (const batch of requests(ranges)) {
      await this.guard(async (link) => {
        const id = this.nextId++;
        await link.stream.send({ kind: "ranges", id, model: this.modelId, ranges: batch.map((r) => [r.start, r.length]) } satisfies RangeRequest);
        let received = 0;
        for (const r of batch) {
          for (let at = r.start; at < r.start + r.length; ) {
            const f = await link.inbox.next(this.stallMs, signal);
            this.expect(f.header, id);
            if (f.header.kind !== "data" || f.header.offset !== at || f.payload.length === 0 || at + f.payload.length > r.start + r.length) {
              throw new RangeSourceError(`${this.label} sent ${f.header.kind} ${f.header.kind === "data" ? `at ${f.header.offset} (+${f.payload.length})` : ""} where bytes from ${at} were due`);
            }
            await sink(at, f.payload);
            at += f.payload.length;
            received += f.payload.length;
          }
        }
        const end = await link.inbox.next(this.stallMs, signal);
        this.expect(end.header, id);
        if (end.header.kind !== "end" || end.header.bytes !== received) throw new RangeSourceError(`${this.label} did not end the request after ${received} bytes`);
      }, signal);
    }
  }

  async close(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    await link?.stream.close();
  }

  private get stallMs(): number {
    return this.options.stallMs ?? 30_000;
  }

  /** Runs one request on the stream (dialled if need be); any failure drops the stream. */
  private async guard<T>(work: (link: { stream: FramedStream<RangeResponse>; inbox: Inbox }) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const link = this.link ?? (await this.dial(signal));
    try {
      return await work(link);
    } catch (e) {
      if (this.link === link) this.link = undefined;
      link.stream.abort(e instanceof Error ? e : new Error(String(e)));
      if (e instanceof RangeSourceError || signal?.aborted) throw e;
      throw new RangeSourceError(`${this.label}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async dial(signal?: AbortSignal): Promise<{ stream: FramedStream<RangeResponse>; inbox: Inbox }> {
    const timeout = AbortSignal.timeout(this.options.dialTimeoutMs ?? 10_000);
    let stream;
    try {
      stream = await this.node.dialProtocol(peerIdFromString(this.peerId), MODEL_RANGE_PROTOCOL, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (e) {
      throw new RangeSourceError(`cannot open a model-range stream to ${this.label}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const framed = new FramedStream(stream, RangeResponseSchema, RESPONSE_LIMITS, this.peerId);
    const inbox = new Inbox();
    framed.onFrame((f) => inbox.push(f));
    framed.onClose((r) => inbox.fail(new RangeSourceError(`${this.label} closed the stream${r.error ? `: ${r.error.message}` : ""}`)));
    this.link = { stream: framed, inbox };
    return this.link;
  }

  private expect(header: RangeResponse, id: number): void {
    if (header.kind === "error") throw new RangeSourceError(`${this.label} refused: ${header.code}: ${header.message}`);
    if (header.id !== id) throw new RangeSourceError(`${this.label} answered request ${header.id}, expected ${id}`);
  }
}

/** Splits ranges into requests within the protocol's caps (a long range becomes several pieces). */
export function requests(ranges: readonly ByteRange[]): ByteRange[][] {
  const out: ByteRange[][] = [];
  let batch: ByteRange[] = [];
  let bytes = 0;
  for (const r of ranges) {
    for (let at = r.start; at < r.start + r.length; ) {
      if (bytes === MAX_REQUEST_BYTES || batch.length === MAX_RANGES_PER_REQUEST) {
        out.push(batch);
        batch = [];
        bytes = 0;
      }
      const length = Math.min(r.start + r.length - at, MAX_REQUEST_BYTES - bytes);
      batch.push({ start: at, length });
      bytes += length;
      at += length;
    }
  }
  if (batch.length > 0) out.push(batch);
  return out;
}
