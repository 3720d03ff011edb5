// Two tools for checking the link to one peer by hand, reached through the local node's API:
// - send: a short text that the peer writes to its log (the seed's connectivity check);
// - ping: round-trip times and throughput to the peer.
// Both dial the peer over the cluster's own libp2p connections (pre-shared key, noise, yamux), so a
// working ping says the pipeline's streams can work too. What a peer sends is untrusted: every frame is
// validated and size-capped before it is buffered, a session has a deadline and a cap on its rounds and
// bytes, and the log lines one peer can cause are rate-limited and stripped of control characters.
//
// Wire (frames of net/frames.ts, one stream per use):
//   send:  → {kind:"message", from, text}                    ← {kind:"received", logged}
//   ping:  → {kind:"echo", seq} × count                       ← {kind:"echo", seq} for each, at once
//          → {kind:"bulk"} + payload × n, {kind:"bulk-end", bytes}   ← {kind:"bulk-ack", bytes}
import { randomBytes } from "node:crypto";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Connection, Stream } from "@libp2p/interface";
import { z } from "zod";
import { FramedStream } from "../net/framed-stream.js";
import { PNET_SAFE_PIECE } from "../net/stream-send.js";
import type { TesseraHost } from "../net/index.js";
import { median, throughputEstimate } from "./link-probe.js";

export const SEND_PROTOCOL = "/tessera/send/1.0.0";
export const PING_PROTOCOL = "/tessera/ping-bench/1.0.0";

export const MAX_MESSAGE_CHARS = 4096;
export const MAX_PING_COUNT = 1000;
/** Enough to see a link's throughput, small enough that a ping cannot be used to hog it for long. */
export const MAX_PING_BYTES = 64 * 1024 * 1024;
export const DEFAULT_PING_COUNT = 10;
export const DEFAULT_PING_BYTES = 1024 * 1024;

const SEND_TIMEOUT_MS = 10_000;
const PING_TIMEOUT_MS = 60_000;
/** A bulk frame (prefix, header and payload) stays within one pnet-safe piece. */
const BULK_PIECE = PNET_SAFE_PIECE - 256;
/** Log lines per peer per window; what is over is acknowledged but not written. */
const LOG_BURST = 10;
const LOG_WINDOW_MS = 10_000;

const NameSchema = z.string().max(128);
const SendRequestSchema = z.strictObject({ kind: z.literal("message"), from: NameSchema, text: z.string().min(1).max(MAX_MESSAGE_CHARS) });
const SendReplySchema = z.strictObject({ kind: z.literal("received"), logged: z.boolean() });
// A message of MAX_MESSAGE_CHARS control characters is ~6 bytes each once JSON-escaped.
const SEND_LIMITS = { maxHeaderBytes: 8 * MAX_MESSAGE_CHARS, maxPayloadBytes: 0 } as const;

const Seq = z.number().int().min(0).max(MAX_PING_COUNT);
const ByteCount = z.number().int().min(0).max(MAX_PING_BYTES);
const PingRequestSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("echo"), seq: Seq }),
  z.strictObject({ kind: z.literal("bulk") }),
  z.strictObject({ kind: z.literal("bulk-end"), bytes: ByteCount }),
]);
const PingReplySchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("echo"), seq: Seq }),
  z.strictObject({ kind: z.literal("bulk-ack"), bytes: ByteCount }),
]);
const PING_LIMITS = { maxHeaderBytes: 256, maxPayloadBytes: PNET_SAFE_PIECE } as const;

export interface SendResult {
  readonly peer: string;
  /** From sending the message to the peer's acknowledgement, ms. */
  readonly rttMs: number;
  /** False when the peer's rate limit kept the message out of its log. */
  readonly logged: boolean;
}

export interface PingResult {
  readonly peer: string;
  readonly count: number;
  readonly rttMs: { readonly min: number; readonly avg: number; readonly max: number; readonly median: number };
  readonly bytes: number;
  /** From the first payload byte sent to the acknowledgement of the last, ms. */
  readonly transferMs: number;
  /** Bytes per second to the peer (the transfer less one round trip); null when no bytes were sent. */
  readonly throughputBps: number | null;
}

export interface PingOptions {
  readonly count?: number;
  readonly bytes?: number;
}

/** Control characters (and line separators) shown as escapes: a peer must not write to our terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Ends our side of the stream. FramedStream.close() does nothing once the other end has closed its
 * side, which would leave the stream half-open and count against the peer's inbound stream limit.
 */
async function closeStream<T>(link: FramedStream<T>): Promise<void> {
  await link.stream.close().catch(() => link.stream.abort(new Error("close failed")));
}

/** Replies read one at a time, in order; the stream's end fails the wait. */
class Inbox<T> {
  private readonly queued: T[] = [];
  private waiter: { resolve: (v: T) => void; reject: (e: Error) => void } | undefined;
  private ended: Error | undefined;

  constructor(link: FramedStream<T>) {
    link.onFrame((f) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w.resolve(f.header);
      else this.queued.push(f.header);
    });
    link.onClose((r) => {
      this.ended = r.error ?? new Error("the peer closed the stream");
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.ended);
    });
  }

  next(): Promise<T> {
    const first = this.queued.shift();
    if (first !== undefined) return Promise.resolve(first);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }
}

/** At most LOG_BURST lines per peer per window, so a chatty or hostile peer cannot flood the log. */
class LogLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  allow(peer: string, now = Date.now()): boolean {
    if (this.windows.size > 1024) for (const [p, w] of this.windows) if (now - w.start >= LOG_WINDOW_MS) this.windows.delete(p);
    const w = this.windows.get(peer);
    if (!w || now - w.start >= LOG_WINDOW_MS) {
      this.windows.set(peer, { start: now, count: 1 });
      return true;
    }
    w.count++;
    return w.count <= LOG_BURST;
  }
}

export class PeerTools {
  private readonly limiter = new LogLimiter();

  constructor(
    private readonly host: TesseraHost,
    /** This node's display name, sent with each message. */
    private readonly selfName: () => string,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  async start(): Promise<void> {
    const libp2p = this.host.node;
    await libp2p.handle(SEND_PROTOCOL, (stream, conn) => this.serveSend(stream, conn), { maxInboundStreams: 16 });
    await libp2p.handle(PING_PROTOCOL, (stream, conn) => this.servePing(stream, conn), { maxInboundStreams: 4 });
  }

  async stop(): Promise<void> {
    await this.host.node.unhandle(SEND_PROTOCOL).catch(() => undefined);
    await this.host.node.unhandle(PING_PROTOCOL).catch(() => undefined);
  }

  /** Sends `text` to `peer`, which writes it to its log; resolves with the peer's acknowledgement. */
  async send(peer: string, text: string): Promise<SendResult> {
    if (text.length === 0 || text.length > MAX_MESSAGE_CHARS) throw new RangeError(`a message has 1 to ${MAX_MESSAGE_CHARS} characters`);
    return this.session(peer, SEND_PROTOCOL, SendReplySchema, SEND_LIMITS, SEND_TIMEOUT_MS, async (link, inbox) => {
      const t0 = performance.now();
      await link.send({ kind: "message", from: this.selfName().slice(0, 128), text } satisfies z.infer<typeof SendRequestSchema>);
      const reply = await inbox.next();
      return { peer, rttMs: performance.now() - t0, logged: reply.logged };
    });
  }

  /** `count` echo round trips, then `bytes` of random payload timed to the peer's acknowledgement. */
  async ping(peer: string, options: PingOptions = {}): Promise<PingResult> {
    const count = options.count ?? DEFAULT_PING_COUNT;
    const bytes = options.bytes ?? DEFAULT_PING_BYTES;
    if (!Number.isInteger(count) || count < 1 || count > MAX_PING_COUNT) throw new RangeError(`count must be an integer from 1 to ${MAX_PING_COUNT}`);
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > MAX_PING_BYTES) throw new RangeError(`bytes must be an integer from 0 to ${MAX_PING_BYTES}`);
    return this.session(peer, PING_PROTOCOL, PingReplySchema, PING_LIMITS, PING_TIMEOUT_MS, async (link, inbox) => {
      const rtts: number[] = [];
      for (let seq = 0; seq < count; seq++) {
        const t0 = performance.now();
        await link.send({ kind: "echo", seq });
        const reply = await inbox.next();
        if (reply.kind !== "echo" || reply.seq !== seq) throw new Error(`the peer answered echo ${seq} with ${JSON.stringify(reply)}`);
        rtts.push(performance.now() - t0);
      }
      // Random bytes: a link that compresses must not look faster than it is.
      const piece = new Uint8Array(randomBytes(Math.min(bytes, BULK_PIECE)));
      const t0 = performance.now();
      for (let sent = 0; sent < bytes; sent += piece.length) await link.send({ kind: "bulk" }, piece.subarray(0, Math.min(piece.length, bytes - sent)));
      await link.send({ kind: "bulk-end", bytes });
      const ack = await inbox.next();
      const transferMs = performance.now() - t0;
      if (ack.kind !== "bulk-ack" || ack.bytes !== bytes) throw new Error(`the peer acknowledged ${JSON.stringify(ack)} after ${bytes} bytes`);
      const med = median(rtts);
      return {
        peer,
        count,
        rttMs: { min: Math.min(...rtts), avg: rtts.reduce((a, b) => a + b, 0) / rtts.length, max: Math.max(...rtts), median: med },
        bytes,
        transferMs,
        throughputBps: bytes > 0 ? throughputEstimate(bytes, transferMs, med) : null,
      };
    });
  }

  /** Dials one stream of `protocol`, runs `body` on it under a deadline, and always ends the stream. */
  private async session<Reply, R>(
    peer: string,
    protocol: string,
    schema: z.ZodType<Reply>,
    limits: { readonly maxHeaderBytes: number; readonly maxPayloadBytes: number },
    timeoutMs: number,
    body: (link: FramedStream<Reply>, inbox: Inbox<Reply>) => Promise<R>,
  ): Promise<R> {
    const signal = AbortSignal.timeout(timeoutMs);
    const stream = await this.host.node.dialProtocol(peerIdFromString(peer), protocol, { signal });
    const link = new FramedStream(stream, schema, limits, peer);
    const inbox = new Inbox(link);
    const timeout = () => link.abort(new Error(`no answer from ${peer} within ${timeoutMs / 1000} s`));
    signal.addEventListener("abort", timeout);
    try {
      const result = await body(link, inbox);
      await closeStream(link);
      return result;
    } catch (e) {
      link.abort(e instanceof Error ? e : new Error(String(e)));
      throw e;
    } finally {
      signal.removeEventListener("abort", timeout);
    }
  }

  private serveSend(stream: Stream, conn: Connection): void {
    const peer = conn.remotePeer.toString();
    const link = new FramedStream(stream, SendRequestSchema, SEND_LIMITS, peer);
    const deadline = setTimeout(() => link.abort(new Error("no message within the time limit")), SEND_TIMEOUT_MS);
    link.onClose(() => clearTimeout(deadline));
    let answered = false;
    link.onFrame((f) => {
      if (answered) return; // one message per stream; anything after it is dropped, not buffered
      answered = true;
      const logged = this.limiter.allow(peer);
      if (logged) this.log(`tessera: message from ${printable(f.header.from) || "?"} (${peer}): ${printable(f.header.text)}`);
      void link.send({ kind: "received", logged } satisfies z.infer<typeof SendReplySchema>).then(() => closeStream(link)).catch(() => undefined);
    });
  }

  private servePing(stream: Stream, conn: Connection): void {
    const peer = conn.remotePeer.toString();
    const link = new FramedStream(stream, PingRequestSchema, PING_LIMITS, peer);
    const deadline = setTimeout(() => link.abort(new Error("ping session took too long")), PING_TIMEOUT_MS);
    link.onClose(() => clearTimeout(deadline));
    let echoes = 0;
    let received = 0;
    let ended = false;
    // A throw here makes the FramedStream reset the stream and log why.
    link.onFrame((f) => {
      if (ended) return;
      const h = f.header;
      if (h.kind === "echo") {
        if (++echoes > MAX_PING_COUNT) throw new Error(`more than ${MAX_PING_COUNT} echoes in one ping`);
        void link.send({ kind: "echo", seq: h.seq } satisfies z.infer<typeof PingReplySchema>).catch(() => undefined);
      } else if (h.kind === "bulk") {
        received += f.payload.length;
        if (received > MAX_PING_BYTES) throw new Error(`more than ${MAX_PING_BYTES} bytes in one ping`);
      } else {
        ended = true;
        void link.send({ kind: "bulk-ack", bytes: received } satisfies z.infer<typeof PingReplySchema>).then(() => closeStream(link)).catch(() => undefined);
      }
    });
  }
}
