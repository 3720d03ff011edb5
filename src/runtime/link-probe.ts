// Measures the links from this node to each connected member: round-trip time and a throughput
// estimate, over one short stream of a small protocol, at start, whenever a member appears without an
// edge from us, and then every `intervalMs`. Results go into the log as TopologyEdgeCreated (when the
// state has no such edge: a measurement alone never creates one) and GPUBandwidthMeasured.
//
// The protocol, on one stream: the client sends an 8-byte header (payload bytes N, echo rounds R, both
// u32 big-endian), then R single bytes, each of which the server echoes at once (the round-trip times),
// then N payload bytes, which the server answers with one byte once all have arrived. libp2p's ping
// service would give the round trip too, but in whole milliseconds (Date.now), which reads 0 on a LAN or
// loopback; timing our own echo with performance.now() resolves microseconds.
import { peerIdFromString } from "@libp2p/peer-id";
import type { Stream } from "@libp2p/interface";
import { EventSchema, LIMITS, type ClusterState, type Event, type IndexedEvent } from "../cluster/index.js";
import { ByteQueue } from "../net/byte-queue.js";
import { sendBytes } from "../net/stream-send.js";
import type { TesseraHost } from "../net/index.js";

export const PROBE_PROTOCOL = "/tessera/link-probe/1.0.0";
export const DEFAULT_PROBE_BYTES = 256 * 1024;
export const DEFAULT_PROBE_INTERVAL_MS = 30_000;
/** The most a server accepts in one probe (a probe is a sample, not a load test). */
export const MAX_PROBE_BYTES = 4 * 1024 * 1024;
const ECHO_ROUNDS = 5;
const MAX_ECHO_ROUNDS = 16;
const HEADER_BYTES = 8;
const PROBE_TIMEOUT_MS = 10_000;
/** A member found without an edge from us is probed at once, but not more often than this. */
const NEWCOMER_RETRY_MS = 5_000;

export interface LinkMeasurement {
  readonly to: string;
  /** Median round-trip time of the echo rounds, ms. */
  readonly latencyMs: number;
  /** Bytes per second. */
  readonly throughputBps: number;
  readonly at: number;
}

// ---- pure parts ----

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Bytes per second of a timed transfer. The clock ran from the first byte sent to the acknowledgement
 * received, which is the transfer plus one round trip (the last byte's way there, the answer's way
 * back); that round trip is taken off when it is clearly smaller than the whole, so a fast link is not
 * reported as slow merely because it is far.
 */
export function throughputEstimate(bytes: number, elapsedMs: number, rttMs: number): number {
  const transferMs = elapsedMs > 2 * rttMs ? elapsedMs - rttMs : elapsedMs;
  const bps = bytes / (Math.max(transferMs, 1e-3) / 1000);
  return Math.min(bps, LIMITS.maxThroughputBps);
}

/** Alive members other than `self` that this node has a connection to, in a stable order. */
export function probeTargets(state: ClusterState, self: string, connected: readonly string[]): string[] {
  if (state.nodes[self]?.status !== "alive") return [];
  const linked = new Set(connected);
  return Object.values(state.nodes)
    .filter((n) => n.id !== self && n.status === "alive" && linked.has(n.id))
    .map((n) => n.id)
    .sort();
}

/** The events that record a measurement: the edge first when the state has none, then the figures. */
export function linkEvents(state: ClusterState, self: string, m: LinkMeasurement): Event[] {
  const latencyMs = Math.min(Math.max(m.latencyMs, 0), LIMITS.maxLatencyMs);
  const throughputBps = Math.min(Math.max(m.throughputBps, 0), LIMITS.maxThroughputBps);
  const events: Event[] = [];
  if (state.edges[`${self}->${m.to}`] === undefined) events.push({ type: "TopologyEdgeCreated", from: self, to: m.to, latencyMs, throughputBps });
  events.push({ type: "GPUBandwidthMeasured", from: self, to: m.to, latencyMs, throughputBps, at: Math.round(m.at) });
  return events.filter((e) => EventSchema.safeParse(e).success);
}

// ---- the wire ----

/** Bytes arriving on a stream, taken a given count at a time. */
class ByteReader {
  private readonly queue = new ByteQueue();
  private waiter: { n: number; resolve: () => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(stream: Stream) {
    stream.addEventListener("message", (evt) => {
      this.queue.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray());
      this.wake();
    });
    stream.addEventListener("close", () => this.fail(new Error("the stream closed")));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    if (w === undefined) return;
    if (this.queue.buffered >= w.n) {
      this.waiter = undefined;
      w.resolve();
    } else if (this.failure) {
      this.waiter = undefined;
      w.reject(this.failure);
    }
  }

  /** Resolves once `n` bytes are buffered; rejects when the stream ends first. */
  private async need(n: number): Promise<void> {
    if (this.queue.buffered >= n) return;
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => {
      this.waiter = { n, resolve, reject };
    });
  }

  /** Reads exactly `n` bytes. */
  async read(n: number): Promise<Uint8Array> {
    await this.need(n);
    return this.queue.take(n);
  }

  /** Consumes `n` bytes whose values do not matter (echo replies, the timed payload). */
  async skip(n: number): Promise<void> {
    await this.need(n);
    this.queue.skip(n);
  }
}

/** The server side: echoes the rounds, counts the payload, acknowledges it. */
export async function serveProbe(stream: Stream): Promise<void> {
  const reader = new ByteReader(stream);
  const timer = setTimeout(() => stream.abort(new Error("link probe took too long")), PROBE_TIMEOUT_MS);
  try {
    const header = new DataView((await reader.read(HEADER_BYTES)).buffer);
    const bytes = header.getUint32(0);
    const rounds = header.getUint32(4);
    if (bytes > MAX_PROBE_BYTES || rounds > MAX_ECHO_ROUNDS) throw new Error(`link probe of ${bytes} bytes and ${rounds} rounds refused`);
    for (let i = 0; i < rounds; i++) await sendBytes(stream, await reader.read(1));
    await reader.skip(bytes);
    await sendBytes(stream, new Uint8Array([1]));
    await stream.close();
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)));
  } finally {
    clearTimeout(timer);
  }
}

/** The client side: one probe of `peer`, over a connection that already exists. */
export async function probeLink(host: TesseraHost, peer: string, bytes = DEFAULT_PROBE_BYTES): Promise<LinkMeasurement> {
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  const stream = await host.node.dialProtocol(peerIdFromString(peer), PROBE_PROTOCOL, { signal });
  const abort = () => stream.abort(new Error("link probe timed out"));
  signal.addEventListener("abort", abort);
  try {
    const reader = new ByteReader(stream);
    const header = new Uint8Array(HEADER_BYTES);
    new DataView(header.buffer).setUint32(0, bytes);
    new DataView(header.buffer).setUint32(4, ECHO_ROUNDS);
    await sendBytes(stream, header);
    const rtts: number[] = [];
    for (let i = 0; i < ECHO_ROUNDS; i++) {
      const t0 = performance.now();
      await sendBytes(stream, new Uint8Array([i]));
      await reader.skip(1);
      rtts.push(performance.now() - t0);
    }
    const latencyMs = median(rtts);
    // Random bytes: a link that compresses must not look faster than it is.
    const payload = crypto.getRandomValues(new Uint8Array(Math.min(bytes, 65536)));
    const t0 = performance.now();
    for (let sent = 0; sent < bytes; sent += payload.length) await sendBytes(stream, payload.subarray(0, Math.min(payload.length, bytes - sent)));
    await reader.skip(1);
    const elapsed = performance.now() - t0;
    await stream.close();
    return { to: peer, latencyMs, throughputBps: throughputEstimate(bytes, elapsed, latencyMs), at: Date.now() };
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)));
    throw e;
  } finally {
    signal.removeEventListener("abort", abort);
  }
}

// ---- the prober ----

export interface ProbeNode {
  readonly nodeId: string;
  readonly state: ClusterState;
  readonly host: TesseraHost;
  propose(events: readonly Event[]): Promise<void>;
  onApplied(listener: (events: readonly IndexedEvent[]) => void): () => void;
}

export interface LinkProberOptions {
  /** Between full rounds, ms (default 30 s). */
  readonly intervalMs?: number;
  readonly bytes?: number;
  /** Called with each failed probe (default: nothing; a peer may have just gone). */
  readonly onError?: (peer: string, error: unknown) => void;
}

export class LinkProber {
  private timer: NodeJS.Timeout | undefined;
  private off: (() => void) | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly queued = new Set<string>();
  private readonly lastTried = new Map<string, number>();
  private stopped = false;
  readonly intervalMs: number;

  constructor(private readonly node: ProbeNode, private readonly options: LinkProberOptions = {}) {
    this.intervalMs = options.intervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  }

  async start(): Promise<void> {
    await this.node.host.node.handle(PROBE_PROTOCOL, (stream) => void serveProbe(stream), { maxInboundStreams: 4 });
    this.off = this.node.onApplied(() => this.probeNewcomers());
    this.timer = setInterval(() => this.round(), this.intervalMs);
    this.round();
  }

  /** Probes every target now (each at most once in the queue). */
  round(): void {
    for (const peer of probeTargets(this.node.state, this.node.nodeId, this.node.host.peers())) this.enqueue(peer);
  }

  /** Members that have no edge from us yet are probed without waiting for the next round. */
  private probeNewcomers(): void {
    const now = Date.now();
    for (const peer of probeTargets(this.node.state, this.node.nodeId, this.node.host.peers())) {
      if (this.node.state.edges[`${this.node.nodeId}->${peer}`] !== undefined) continue;
      if (now - (this.lastTried.get(peer) ?? 0) < NEWCOMER_RETRY_MS) continue;
      this.enqueue(peer);
    }
  }

  /** Probes run one at a time, so that two transfers never share (and halve) the same uplink. */
  private enqueue(peer: string): void {
    if (this.stopped || this.queued.has(peer)) return;
    this.queued.add(peer);
    this.lastTried.set(peer, Date.now());
    this.queue = this.queue.then(async () => {
      this.queued.delete(peer);
      if (this.stopped) return;
      try {
        const m = await probeLink(this.node.host, peer, this.options.bytes);
        // The state may have moved on while we measured: only a member still alive gets an edge.
        if (this.stopped || !probeTargets(this.node.state, this.node.nodeId, this.node.host.peers()).includes(peer)) return;
        await this.node.propose(linkEvents(this.node.state, this.node.nodeId, m));
      } catch (e) {
        this.options.onError?.(peer, e);
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.off?.();
    await this.queue;
    await this.node.host.node.unhandle(PROBE_PROTOCOL).catch(() => undefined);
  }
}
