// Where a fetcher gets model bytes from: a peer over libp2p, or an HTTP server with Range support.
// Both are thin adapters behind this one interface, so the fetcher's retry and verification logic is
// written once. Nothing a source returns is trusted: the fetcher checks every byte against a manifest.
import type { ByteRange } from "./tensor-ranges.js";

/** Receives the bytes of the requested ranges strictly in order; awaited before the next chunk. */
export type RangeSink = (offset: number, bytes: Uint8Array) => Promise<void> | void;

export interface RangeSource {
  /** For messages and progress: a peer id or a URL. */
  readonly label: string;
  /** The source's tensor manifest bytes, where it has one (an HTTP mirror has none). */
  manifest?(signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * Delivers every byte of `ranges`, in the order given, through `sink`; rejects on any failure.
   * Ranges must be inside the file and are sent as asked (the caller batches and sizes them).
   */
  read(ranges: readonly ByteRange[], sink: RangeSink, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** A source failed (unreachable, refused, malformed answer); the fetcher moves to the next one. */
export class RangeSourceError extends Error {
  override readonly name = "RangeSourceError";
}
