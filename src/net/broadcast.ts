import dgram from "node:dgram";
import { z } from "zod";
import { NetConfigError } from "./errors.js";

// LAN discovery by UDP broadcast: every node announces `{ v, peerId, port, clusterHint }` on a fixed UDP port
// and dials the senders of announces it hears. Announces carry only the public cluster hint, never the key;
// the private-network handshake (pnet) is what actually keeps strangers out.

export const DEFAULT_BROADCAST_ADDRESS = "255.255.255.255";
export const DEFAULT_BROADCAST_PORT = 52416;
export const DEFAULT_ANNOUNCE_INTERVAL_MS = 2500;
/** Datagrams above this are ignored without parsing; a real announce is ~120 bytes. */
export const MAX_ANNOUNCE_BYTES = 512;

export const AnnounceSchema = z.strictObject({
  v: z.literal(1),
  peerId: z.string().min(1).max(128).regex(/^[1-9A-HJ-NP-Za-km-z]+$/, "base58btc peer id"),
  port: z.number().int().min(1).max(65535),
  clusterHint: z.string().min(1).max(32),
});
export type Announce = z.infer<typeof AnnounceSchema>;

/** Parses one datagram; undefined for anything that is not a well-formed announce. */
export function parseAnnounce(data: Uint8Array): Announce | undefined {
  if (data.byteLength > MAX_ANNOUNCE_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch {
    return undefined;
  }
  const parsed = AnnounceSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export interface BroadcastOptions {
  /** Where announces are sent. Default 255.255.255.255; tests use 127.255.255.255. */
  address?: string;
  /** UDP port shared by all nodes. Default 52416. */
  port?: number;
  /** Local address the receiving socket binds. Default 0.0.0.0; 127.255.255.255 hears only loopback. */
  bindAddress?: string;
  intervalMs?: number;
}

export interface DiscoveredPeer {
  peerId: string;
  /** The sender's IP as seen by us, and the libp2p TCP port it announced. */
  host: string;
  port: number;
}

export interface BroadcastDiscoveryInit extends BroadcastOptions {
  self: Omit<Announce, "v">;
  onPeer: (peer: DiscoveredPeer) => void;
}

/** Sends announces on a timer and reports other nodes of the same cluster hint. Stop with stop(). */
export class BroadcastDiscovery {
  private socket: dgram.Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly address: string;
  private readonly port: number;
  private readonly bindAddress: string;
  private readonly intervalMs: number;
  private readonly payload: Buffer;
  /** Counts for diagnostics: announces accepted, datagrams ignored by reason, announces sent. */
  readonly stats = { heard: 0, invalid: 0, own: 0, otherCluster: 0, sent: 0, sendErrors: 0 };

  constructor(private readonly init: BroadcastDiscoveryInit) {
    this.address = init.address ?? DEFAULT_BROADCAST_ADDRESS;
    this.port = init.port ?? DEFAULT_BROADCAST_PORT;
    this.bindAddress = init.bindAddress ?? "0.0.0.0";
    this.intervalMs = init.intervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS;
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65535) {
      throw new NetConfigError(`broadcast port must be 1..65535, got ${this.port}`);
    }
    if (!(this.intervalMs >= 50)) throw new NetConfigError("broadcast intervalMs must be at least 50");
    const self = AnnounceSchema.parse({ v: 1, ...init.self });
    this.payload = Buffer.from(JSON.stringify(self));
  }

  async start(): Promise<void> {
    // reuseAddr: several nodes on one machine share the port, and the kernel gives each a copy of a broadcast.
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
    socket.on("message", (data, rinfo) => this.onDatagram(data, rinfo.address));
    // Errors after bind (e.g. a send to an unreachable network) must not crash the node.
    socket.on("error", () => this.stats.sendErrors++);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      socket.once("error", onError);
      socket.bind(this.port, this.bindAddress, () => {
        socket.off("error", onError);
        resolve();
      });
    });
    socket.setBroadcast(true);
    this.socket = socket;
    this.announce();
    this.timer = setInterval(() => this.announce(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private announce(): void {
    this.socket?.send(this.payload, this.port, this.address, (err) => {
      if (err) this.stats.sendErrors++;
      else this.stats.sent++;
    });
  }

  private onDatagram(data: Buffer, host: string): void {
    const ann = parseAnnounce(data);
    if (ann === undefined) {
      this.stats.invalid++;
      return;
    }
    if (ann.peerId === this.init.self.peerId) {
      this.stats.own++;
      return;
    }
    if (ann.clusterHint !== this.init.self.clusterHint) {
      this.stats.otherCluster++;
      return;
    }
    this.stats.heard++;
    try {
      this.init.onPeer({ peerId: ann.peerId, host, port: ann.port });
    } catch {
      // The callback belongs to the host; a failure there must not take down the UDP listener.
    }
  }
}
