// `npm run bench:transport`: what the libp2p stack costs for activation traffic, measured against plain TCP
// and against TLS 1.2 with a pre-shared key, all on 127.0.0.1 in this one process. For each transport:
//   - round-trip time of an 8 KiB message echoed back (one token's hidden state of a 2048-wide model, fp32),
//   - one-way throughput of 256 MiB sent as 1 MiB messages, the receiver acknowledging the byte count at the end.
// Every transport carries the same length-prefixed frames, because streams may split or coalesce chunks.
import "../net/polyfill.js"; // must stay first: libp2p 3 needs Promise.withResolvers, which Node 20 lacks
import { once } from "node:events";
import { createHash, randomFillSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import tls from "node:tls";
import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { createHost, generateClusterKey, parseClusterKey, type TesseraHost } from "../net/index.js";
import { PNET_SAFE_PIECE, sendBytes } from "../net/stream-send.js";

const RTT_BYTES = 8 * 1024;
const RTT_WARMUP = 300;
const RTT_ROUNDS = 2000;
const BULK_MSG_BYTES = 1024 * 1024;
const BULK_TOTAL_BYTES = 256 * 1024 * 1024;
const BULK_WARMUP_BYTES = 16 * 1024 * 1024;
const PROTOCOL = "/tessera/bench/1.0.0";
const PSK_IDENTITY = "tessera-bench";
const PSK_CIPHER = "PSK-AES128-GCM-SHA256";

// ---- framing: [u32 BE payload length][u8 kind][payload] ----

const HEADER = 5;
const MAX_PAYLOAD = 16 * 1024 * 1024; // a corrupt length must fail loudly, not allocate gigabytes
const enum Kind {
  Echo = 1, // send the whole frame back
  Data = 2, // count the payload bytes and drop them
  Done = 3, // reply with Ack carrying the bytes counted since the last Done
  Ack = 4,
}

function frame(kind: Kind, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out[4] = kind;
  out.set(payload, HEADER);
  return out;
}

function randomPayload(bytes: number): Uint8Array {
  return randomFillSync(new Uint8Array(bytes));
}

/**
 * Cuts a byte stream into frames. Frames whose kind `keep` accepts are delivered whole (header included, so an
 * echo can send them back as they are); the others are only counted, so bulk data costs no copy at the receiver.
 */
class FrameDecoder {
  private readonly header = new Uint8Array(HEADER);
  private headerFill = 0;
  private inBody = false;
  private kind = 0;
  private length = 0;
  private remaining = 0;
  private body: Uint8Array | undefined;
  private bodyFill = 0;

  constructor(
    private readonly keep: (kind: number) => boolean,
    private readonly onFrame: (kind: number, payloadBytes: number, whole: Uint8Array | undefined) => void,
  ) {}

  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      if (!this.inBody) {
        const take = Math.min(HEADER - this.headerFill, chunk.length - off);
        this.header.set(chunk.subarray(off, off + take), this.headerFill);
        this.headerFill += take;
        off += take;
        if (this.headerFill < HEADER) return;
        this.headerFill = 0;
        this.length = new DataView(this.header.buffer).getUint32(0);
        if (this.length > MAX_PAYLOAD) throw new Error(`frame of ${this.length} bytes exceeds ${MAX_PAYLOAD}`);
        this.kind = this.header[4];
        this.remaining = this.length;
        this.body = this.keep(this.kind) ? new Uint8Array(HEADER + this.length) : undefined;
        this.body?.set(this.header, 0);
        this.bodyFill = HEADER;
        this.inBody = true;
      }
      const take = Math.min(this.remaining, chunk.length - off);
      this.body?.set(chunk.subarray(off, off + take), this.bodyFill);
      this.bodyFill += take;
      this.remaining -= take;
      off += take;
      if (this.remaining === 0) {
        this.inBody = false;
        const whole = this.body;
        this.body = undefined;
        this.onFrame(this.kind, this.length, whole);
      }
    }
  }
}

// ---- one interface over sockets and libp2p streams ----

interface Conn {
  /** Queues bytes; returns a promise when the transport wants the caller to wait before sending more. */
  send(bytes: Uint8Array): Promise<void> | undefined;
  /** Receives every incoming chunk, in order. */
  onData(handler: (chunk: Uint8Array) => void): void;
  /** Called once when the connection is gone, so a waiting reader fails instead of hanging. */
  onClose(handler: () => void): void;
  close(): Promise<void>;
}

function socketConn(sock: net.Socket): Conn {
  // libp2p's TCP transport disables Nagle too; without this the small-message numbers would not compare.
  sock.setNoDelay(true);
  return {
    send: (bytes) => (sock.write(bytes) ? undefined : once(sock, "drain").then(() => undefined)),
    onData: (handler) => sock.on("data", handler),
    onClose: (handler) => sock.once("close", handler),
    close: async () => {
      if (sock.destroyed) return;
      const closed = once(sock, "close");
      sock.end();
      await closed;
    },
  };
}

function streamConn(stream: Stream): Conn {
  return {
    // See net/stream-send.ts for why libp2p sends go out in pieces and wait on events.
    send: (bytes) => sendBytes(stream, bytes),
    // A message is a Uint8Array or, when the muxer coalesced several, a Uint8ArrayList.
    onData: (handler) =>
      stream.addEventListener("message", (evt) => handler(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())),
    onClose: (handler) => stream.addEventListener("close", handler, { once: true }),
    close: () => stream.close(),
  };
}

/** The receiving end: echoes Echo frames, counts Data bytes, answers Done with an Ack of the count. */
function serve(conn: Conn, fail: (err: unknown) => void): void {
  let counted = 0;
  const reply = (bytes: Uint8Array): void => {
    // The client waits for each reply before sending more, so replies never pile up; only errors matter.
    conn.send(bytes)?.catch(fail);
  };
  const decoder = new FrameDecoder(
    (kind) => kind === Kind.Echo,
    (kind, payloadBytes, whole) => {
      if (kind === Kind.Echo && whole !== undefined) reply(whole);
      else if (kind === Kind.Data) counted += payloadBytes;
      else if (kind === Kind.Done) {
        const ack = new Uint8Array(8);
        new DataView(ack.buffer).setFloat64(0, counted);
        counted = 0;
        reply(frame(Kind.Ack, ack));
      } else fail(new Error(`server got unexpected frame kind ${kind}`));
    },
  );
  conn.onData((chunk) => {
    try {
      decoder.push(chunk);
    } catch (err) {
      fail(err);
    }
  });
}

/** The sending end's view of replies: one awaitable frame at a time. */
class Inbox {
  private readonly frames: Uint8Array[] = [];
  private waiter: { resolve: (f: Uint8Array) => void; reject: (err: Error) => void } | undefined;
  private closed = false;
  private readonly decoder = new FrameDecoder(
    () => true,
    (_kind, _bytes, whole) => {
      if (whole === undefined) return;
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w.resolve(whole);
      else this.frames.push(whole);
    },
  );

  constructor(conn: Conn) {
    conn.onData((chunk) => this.decoder.push(chunk));
    conn.onClose(() => {
      this.closed = true;
      this.waiter?.reject(new Error("connection closed while a reply was awaited"));
      this.waiter = undefined;
    });
  }

  next(): Promise<Uint8Array> {
    const queued = this.frames.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(new Error("connection is closed"));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }
}

// ---- measurements ----

interface Result {
  transport: string;
  detail: string;
  rtt_p50_us: number;
  rtt_p99_us: number;
  mb_per_s: number;
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function roundTrips(conn: Conn, inbox: Inbox, rounds: number): Promise<number[]> {
  const msg = frame(Kind.Echo, randomPayload(RTT_BYTES));
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await conn.send(msg);
    const back = await inbox.next();
    times.push(performance.now() - t0);
    // Catches a framing bug that would otherwise show up as a suspiciously fast transport.
    if (back.length !== msg.length || back[HEADER] !== msg[HEADER] || back[back.length - 1] !== msg[msg.length - 1]) {
      throw new Error("echo differs from the message sent");
    }
  }
  return times;
}

/** Sends `total` bytes of Data frames and waits for the receiver's Ack; returns the elapsed seconds. */
async function bulk(conn: Conn, inbox: Inbox, total: number): Promise<number> {
  const msg = frame(Kind.Data, randomPayload(BULK_MSG_BYTES));
  const done = frame(Kind.Done, new Uint8Array(0));
  const t0 = performance.now();
  for (let sent = 0; sent < total; sent += BULK_MSG_BYTES) await conn.send(msg);
  await conn.send(done);
  const ack = await inbox.next();
  const seconds = (performance.now() - t0) / 1000;
  const counted = new DataView(ack.buffer, ack.byteOffset + HEADER, 8).getFloat64(0);
  if (ack[4] !== Kind.Ack || counted !== total) throw new Error(`receiver counted ${counted} bytes, expected ${total}`);
  return seconds;
}

async function measure(transport: string, detail: string, conn: Conn): Promise<Result> {
  const inbox = new Inbox(conn);
  await roundTrips(conn, inbox, RTT_WARMUP);
  const rtt = (await roundTrips(conn, inbox, RTT_ROUNDS)).sort((a, b) => a - b);
  await bulk(conn, inbox, BULK_WARMUP_BYTES);
  const seconds = await bulk(conn, inbox, BULK_TOTAL_BYTES);
  return {
    transport,
    detail,
    rtt_p50_us: Math.round(percentile(rtt, 50) * 1000),
    rtt_p99_us: Math.round(percentile(rtt, 99) * 1000),
    mb_per_s: Math.round(BULK_TOTAL_BYTES / 1e6 / seconds),
  };
}

/** Runs `body` against a server fault too: a receiver error rejects the run instead of hanging it. */
function withServerFaults<T>(body: (fail: (err: unknown) => void) => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    body(reject).then(resolve, reject);
  });
}

// ---- the three transports ----

async function listen(server: net.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("server has no TCP address");
  return addr.port;
}

async function closeServer(server: net.Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function benchTcp(): Promise<Result> {
  const accepted: net.Socket[] = [];
  return withServerFaults(async (fail) => {
    const server = net.createServer((sock) => {
      accepted.push(sock);
      serve(socketConn(sock), fail);
    });
    const port = await listen(server);
    const sock = net.connect(port, "127.0.0.1");
    await once(sock, "connect");
    const conn = socketConn(sock);
    try {
      return await measure("raw TCP (node:net)", "plain bytes", conn);
    } finally {
      await conn.close();
      for (const s of accepted) s.destroy();
      await closeServer(server);
    }
  });
}

/** The PSK is a domain-separated hash of the cluster key, so the cluster secret itself never keys a cipher twice. */
function pskFromClusterKey(key: string): Buffer {
  return createHash("sha256").update("tessera transport psk v1\0").update(parseClusterKey(key)).digest();
}

async function benchTlsPsk(): Promise<Result> {
  const psk = pskFromClusterKey(generateClusterKey());
  const accepted: tls.TLSSocket[] = [];
  return withServerFaults(async (fail) => {
    const server = tls.createServer(
      {
        ciphers: PSK_CIPHER,
        minVersion: "TLSv1.2",
        maxVersion: "TLSv1.2", // Node offers TLS-PSK only up to 1.2
        pskCallback: (_socket, identity) => (identity === PSK_IDENTITY ? psk : null),
      },
      (sock) => {
        accepted.push(sock);
        serve(socketConn(sock), fail);
      },
    );
    server.on("tlsClientError", fail);
    const port = await listen(server);
    const sock = tls.connect({
      host: "127.0.0.1",
      port,
      ciphers: PSK_CIPHER,
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
      pskCallback: () => ({ psk, identity: PSK_IDENTITY }),
      // PSK authenticates both ends; there is no certificate whose name could be checked.
      checkServerIdentity: () => undefined,
    });
    await once(sock, "secureConnect");
    const cipher = sock.getCipher();
    const conn = socketConn(sock);
    try {
      return await measure("Node tls, PSK", `${sock.getProtocol() ?? "?"} ${cipher.standardName}`, conn);
    } finally {
      await conn.close();
      for (const s of accepted) s.destroy();
      await closeServer(server);
    }
  });
}

async function benchLibp2p(): Promise<Result> {
  const dir = await mkdtemp(join(tmpdir(), "tessera-bench-transport-"));
  const key = generateClusterKey();
  const hosts: TesseraHost[] = [];
  const inbound: Stream[] = [];
  try {
    return await withServerFaults(async (fail) => {
      for (const name of ["a", "b"]) {
        hosts.push(
          await createHost({
            dataDir: join(dir, name),
            clusterKey: key,
            listenHost: "127.0.0.1",
            port: 0,
            mdns: false,
            broadcast: false,
          }),
        );
      }
      const [a, b] = hosts;
      await b.node.handle(PROTOCOL, (stream) => {
        inbound.push(stream);
        serve(streamConn(stream), fail);
      });
      const target = b.multiaddrs.find((m) => m.includes("/ip4/127.0.0.1/"));
      if (target === undefined) throw new Error(`no loopback address among ${b.multiaddrs.join(", ")}`);
      await a.dial(target);
      const stream = await a.node.dialProtocol(peerIdFromString(b.peerId), PROTOCOL);
      const conn = streamConn(stream);
      try {
        return await measure("libp2p stream", `pnet + noise + yamux over TCP, sent in ${PNET_SAFE_PIECE / 1024} KiB pieces`, conn);
      } finally {
        await conn.close();
        for (const s of inbound) await s.close();
      }
    });
  } finally {
    for (const h of hosts) await h.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- report ----

function ratio(x: number, base: number): string {
  return `${(x / base).toFixed(2)}×`;
}

function table(results: Result[]): string {
  const base = results[0];
  const rows = [
    "| transport | wire | RTT p50 (µs) | RTT p99 (µs) | throughput (MB/s) | p50 vs TCP | p99 vs TCP | throughput vs TCP |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of results) {
    rows.push(
      `| ${r.transport} | ${r.detail} | ${r.rtt_p50_us} | ${r.rtt_p99_us} | ${r.mb_per_s} | ` +
        `${ratio(r.rtt_p50_us, base.rtt_p50_us)} | ${ratio(r.rtt_p99_us, base.rtt_p99_us)} | ${ratio(r.mb_per_s, base.mb_per_s)} |`,
    );
  }
  return rows.join("\n");
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const results = [await benchTcp(), await benchTlsPsk(), await benchLibp2p()];
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(
    `Round trip: ${RTT_BYTES} B echoed, ${RTT_ROUNDS} rounds after ${RTT_WARMUP} warm-up. ` +
      `Throughput: ${BULK_TOTAL_BYTES / 2 ** 20} MiB in ${BULK_MSG_BYTES / 2 ** 20} MiB messages, one-way, ` +
      `acknowledged at the end (MB = 10^6 bytes). All on 127.0.0.1, one process.\n\n`,
  );
  process.stdout.write(table(results) + "\n\n");
  process.stdout.write(
    JSON.stringify({
      bench: "transport",
      node: process.version,
      rtt_bytes: RTT_BYTES,
      rtt_rounds: RTT_ROUNDS,
      bulk_bytes: BULK_TOTAL_BYTES,
      bulk_msg_bytes: BULK_MSG_BYTES,
      seconds: Math.round(seconds * 10) / 10,
      results,
    }) + "\n",
  );
}

// No process.exit on success: the run must end by itself, which shows every socket and host was shut down.
main().catch((e: unknown) => {
  process.stderr.write(`bench:transport: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
