// The node side of /join: accepts page WebSockets on /join/socket, keeps one session per browser
// device, publishes each device's profile once the master has recorded it joining, and opens the
// proxy stages (page-stage.ts) that let this node's runners place layers on a page.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Event } from "../cluster/index.js";
import type { LayerRange } from "../engine/model.js";
import type { TesseraNode } from "../runtime/node.js";
import type { StageHandle } from "../runtime/runner.js";
import type { RelayedDevices } from "../runtime/runners.js";
import { JOIN_SOCKET_PATH, MAX_PAGE_FRAME_BYTES, REPLACED_CLOSE_CODE } from "./messages.js";
import { pageProfileRecord } from "./page-profile.js";
import { PageSession } from "./page-session.js";
import { PageStage, PageStageError } from "./page-stage.js";
import { acceptWebSocket } from "./websocket.js";

/** Pages one node relays at most; more are refused at the handshake. */
const MAX_PAGES = 64;
const PROFILE_RETRY_MS = 2_000;

export class JoinRelay implements RelayedDevices {
  private readonly sessions = new Map<string, PageSession>();
  private readonly pending = new Set<PageSession>();
  private readonly profileSentAt = new Map<string, number>();
  private readonly off: () => void;
  private readonly timer: NodeJS.Timeout;
  private readonly changeListeners: (() => void)[] = [];

  constructor(private readonly node: TesseraNode, private readonly warn: (m: string) => void = (m) => process.stderr.write(`tessera: join: ${m}\n`)) {
    this.off = node.onApplied(() => this.publishProfiles());
    // Also on a timer: a lost proposal is retried even when no other event arrives.
    this.timer = setInterval(() => this.publishProfiles(), PROFILE_RETRY_MS);
    this.timer.unref();
  }

  /** An HTTP upgrade: /join/socket becomes a page session; anything else is refused. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    socket.on("error", () => undefined);
    if (path !== JOIN_SOCKET_PATH || this.sessions.size + this.pending.size >= MAX_PAGES) {
      socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const ws = acceptWebSocket(req, socket, head, MAX_PAGE_FRAME_BYTES);
    if (!ws) return;
    const session = new PageSession(ws, {
      nodeId: this.node.nodeId,
      clusterKey: this.node.clusterKey,
      heartbeatMs: this.node.options.heartbeatMs,
      relayHeartbeat: (hb) => this.node.relayHeartbeat(hb),
      admitted: (s) => this.admit(s),
      ended: (s) => this.end(s),
    }, this.warn);
    this.pending.add(session);
    session.onClose(() => this.pending.delete(session));
  }

  /** The live session of a device this node relays. */
  session(deviceId: string): PageSession | undefined {
    return this.sessions.get(deviceId);
  }

  relays(deviceId: string): boolean {
    return this.sessions.has(deviceId);
  }

  /** Has the device's page load layers `range` of the instance; its runner (on this node) drives it. */
  async openStage(deviceId: string, instanceId: string, range: LayerRange): Promise<StageHandle> {
    const session = this.sessions.get(deviceId);
    if (!session) throw new PageStageError(`browser device ${deviceId} is not connected to this node`);
    const model = this.node.state.instances[instanceId]?.model ?? instanceId;
    return PageStage.open(session, instanceId, model, range);
  }

  /** Called when a page joins or leaves, so runners can start or stop its stages. */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  private admit(s: PageSession): void {
    this.pending.delete(s);
    const id = s.deviceId!;
    // The same device again (a reloaded tab, a page reconnecting before this node noticed its old
    // socket die, a second tab): the newest socket wins, and the old one is closed with a code that
    // tells its page not to reconnect (two tabs would otherwise take the device from each other
    // forever). The old socket's stages die with it and their runners report failed, exactly as when
    // a page goes away: the pipelines through them are broken (their neighbours' links are gone), so
    // the device serves the instances placed on it after it came back, not the ones before.
    const old = this.sessions.get(id);
    this.sessions.set(id, s);
    old?.end("the same device connected again", REPLACED_CLOSE_CODE);
    this.profileSentAt.delete(id);
    this.publishProfiles();
    this.changed();
  }

  private changed(): void {
    for (const l of this.changeListeners) l();
  }

  private end(s: PageSession): void {
    const id = s.deviceId!;
    if (this.sessions.get(id) !== s) return;
    this.sessions.delete(id);
    this.changed();
  }

  /** Proposes each page's profile while the state lacks this session's (the master must have it joined first). */
  private publishProfiles(): void {
    const now = Date.now();
    const events: Event[] = [];
    for (const [id, s] of this.sessions) {
      const known = this.node.state.nodes[id];
      if (known?.status !== "alive" || !s.profile) continue;
      if (known.device?.["collectedAt"] === s.connectedAt) continue;
      if (now - (this.profileSentAt.get(id) ?? -Infinity) < PROFILE_RETRY_MS) continue;
      this.profileSentAt.set(id, now);
      events.push({ type: "NodeProfileUpdated", nodeId: id, profile: pageProfileRecord(s.profile, this.node.nodeId, s.connectedAt) });
    }
    if (events.length > 0) void this.node.propose(events).catch((e: unknown) => this.warn(`profile not published: ${e instanceof Error ? e.message : String(e)}`));
  }

  stop(): void {
    this.off();
    clearInterval(this.timer);
    for (const s of [...this.sessions.values(), ...this.pending]) s.end("the node is stopping");
  }
}
