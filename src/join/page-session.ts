// One /join page connected to this node: it authenticates with the cluster key, gets its device id
// (derived from the secret it keeps), and from then on this node vouches for it in the cluster with
// relayed heartbeats while its socket is open and its own heartbeats keep coming. Every message from
// the page is size-capped and validated; a bad one closes that page's socket and nothing else.
import { createHash } from "node:crypto";
import type { Heartbeat } from "../runtime/messages.js";
import { decodeJoinFrame, encodeJoinFrame } from "./frame-codec.js";
import { MAX_PAGE_HEADER_BYTES, PageMessageSchema, type NodeMessage, type PageMessage, type PageProfile } from "./messages.js";
import { clusterKeyMatches } from "./serve.js";
import type { JoinWebSocket } from "./websocket.js";

/** How long a page has to say hello after connecting. */
const HELLO_TIMEOUT_MS = 10_000;
/** A page silent for this many of its heartbeat periods is no longer vouched for (a hung tab). */
const SILENT_PERIODS = 6;

/** The public device id of a page's secret: `web-` and 40 hex digits of its SHA-256. */
export function deviceIdOf(secret: string): string {
  return `web-${createHash("sha256").update(`tessera-join-device:${secret}`).digest("hex").slice(0, 40)}`;
}

export interface SessionHost {
  readonly nodeId: string;
  readonly clusterKey: string | undefined;
  readonly heartbeatMs: number;
  relayHeartbeat(hb: Heartbeat): Promise<void>;
  /** A page proved itself. */
  admitted(session: PageSession): void;
  ended(session: PageSession): void;
}

export class PageSession {
  deviceId: string | undefined;
  name = "browser";
  profile: PageProfile | undefined;
  readonly connectedAt = Date.now();
  private lastHeard = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly helloTimer: NodeJS.Timeout;
  private ended = false;
  private leaving = false;
  private readonly listeners: ((msg: PageMessage, payload: Uint8Array) => void)[] = [];
  private readonly closeListeners: ((why: string) => void)[] = [];

  constructor(private readonly socket: JoinWebSocket, private readonly host: SessionHost, private readonly warn: (m: string) => void) {
    this.helloTimer = setTimeout(() => this.end(`no hello within ${HELLO_TIMEOUT_MS / 1000} s`), HELLO_TIMEOUT_MS);
    this.helloTimer.unref();
    socket.onMessage((data) => this.receive(data));
    socket.onClose((why) => this.finish(why));
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /** Messages after the hello (heartbeats are handled here). */
  onMessage(listener: (msg: PageMessage, payload: Uint8Array) => void): void {
    this.listeners.push(listener);
  }

  onClose(listener: (why: string) => void): void {
    this.closeListeners.push(listener);
  }

  send(msg: NodeMessage, payload?: Uint8Array): void {
    if (!this.ended) this.socket.send(encodeJoinFrame(msg, payload));
  }

  /**
   * Closes the socket; the device stops being vouched for and times out (or, after `leave`, left).
   * `code` tells the page whether to come back: it reconnects after 1008, not after REPLACED_CLOSE_CODE.
   */
  end(why: string, code = 1008): void {
    if (this.ended) return;
    this.socket.close(code, why.slice(0, 100));
    this.finish(why);
  }

  private receive(data: Uint8Array): void {
    if (this.ended) return;
    let msg: PageMessage;
    let payload: Uint8Array;
    try {
      const frame = decodeJoinFrame(data, MAX_PAGE_HEADER_BYTES);
      const parsed = PageMessageSchema.safeParse(frame.header);
      if (!parsed.success) throw new Error(`bad message: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
      msg = parsed.data;
      payload = frame.payload;
    } catch (e) {
      return this.end(e instanceof Error ? e.message : String(e));
    }
    this.lastHeard = Date.now();
    if (this.deviceId === undefined) return this.hello(msg);
    if (msg.kind === "hello") return this.end("a page says hello only once");
    if (msg.kind === "leave") {
      this.leaving = true;
      void this.vouch();
      return this.end("the page left");
    }
    if (msg.kind === "heartbeat") {
      if (this.profile && msg.battery) this.profile = { ...this.profile, battery: msg.battery };
      return;
    }
    for (const l of this.listeners) {
      try {
        l(msg, payload);
      } catch (e) {
        return this.end(`a message broke the page's protocol: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private hello(msg: PageMessage): void {
    if (msg.kind !== "hello") return this.end(`a page must open with hello, not ${msg.kind}`);
    clearTimeout(this.helloTimer);
    if (!clusterKeyMatches(this.host.clusterKey, msg.key)) {
      this.send({ kind: "refused", message: "the join link's cluster key is not this cluster's" });
      return this.end("wrong cluster key");
    }
    this.deviceId = deviceIdOf(msg.secret);
    this.name = msg.name;
    this.profile = msg.profile;
    this.host.admitted(this);
    this.send({ kind: "welcome", deviceId: this.deviceId, nodeId: this.host.nodeId, heartbeatMs: this.host.heartbeatMs });
    void this.vouch();
    this.timer = setInterval(() => void this.vouch(), this.host.heartbeatMs);
    this.timer.unref();
  }

  /** One relayed heartbeat for the page, unless it has gone quiet. */
  private async vouch(): Promise<void> {
    if (this.deviceId === undefined) return;
    if (!this.leaving && Date.now() - this.lastHeard > SILENT_PERIODS * this.host.heartbeatMs) return this.end("the page stopped sending heartbeats");
    this.send({ kind: "beat" });
    // The latest possible joinedAt, no events seen and no master: a browser never ranks in an election.
    const hb: Heartbeat = {
      kind: "heartbeat", nodeId: this.deviceId, name: this.name, addresses: [], joinedAt: Number.MAX_SAFE_INTEGER,
      eventsSeen: 0, lastEventIndex: -1, term: 0, masterId: null, leaving: this.leaving,
    };
    await this.host.relayHeartbeat(hb).catch((e: unknown) => this.warn(`heartbeat for ${this.deviceId} not relayed: ${e instanceof Error ? e.message : String(e)}`));
  }

  private finish(why: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.helloTimer);
    clearInterval(this.timer);
    for (const l of this.closeListeners) l(why);
    if (this.deviceId !== undefined) this.host.ended(this);
  }
}
