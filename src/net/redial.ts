import type { Connection, Libp2p, PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { backoffDelay, type BackoffPolicy } from "./backoff.js";

interface Target {
  addr: Multiaddr;
  /** Known from a /p2p/ part, or learned from the first successful dial. */
  peerId: string | undefined;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  dialing: boolean;
}

/**
 * Keeps the manually configured peers connected: dials each at start, and after a failure or a lost
 * connection dials again after an exponential backoff with jitter. stop() cancels timers and dials in flight.
 */
export class ManualPeers {
  private readonly targets: Target[];
  private readonly abort = new AbortController();
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString();
    for (const t of this.targets) if (t.peerId === id) this.schedule(t);
  };

  constructor(
    private readonly node: Libp2p,
    addrs: Multiaddr[],
    private readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {
    this.targets = addrs.map((addr) => ({
      addr,
      peerId: addr.getComponents().find((c) => c.name === "p2p")?.value,
      attempt: 0,
      timer: undefined,
      dialing: false,
    }));
  }

  start(): void {
    this.node.addEventListener("peer:disconnect", this.onDisconnect);
    for (const t of this.targets) void this.dial(t);
  }

  stop(): void {
    this.abort.abort();
    this.node.removeEventListener("peer:disconnect", this.onDisconnect);
    for (const t of this.targets) clearTimeout(t.timer);
  }

  private schedule(t: Target): void {
    if (this.abort.signal.aborted || t.timer !== undefined || t.dialing) return;
    const delay = backoffDelay(t.attempt, this.policy, this.random);
    t.attempt++;
    t.timer = setTimeout(() => {
      t.timer = undefined;
      void this.dial(t);
    }, delay);
  }

  private isConnected(t: Target): boolean {
    return t.peerId !== undefined && this.node.getPeers().some((p) => p.toString() === t.peerId);
  }

  private async dial(t: Target): Promise<void> {
    if (this.abort.signal.aborted || t.dialing) return;
    if (this.isConnected(t)) {
      t.attempt = 0; // connected by other means (e.g. it dialled us); wait for a disconnect
      return;
    }
    t.dialing = true;
    let conn: Connection | undefined;
    try {
      conn = await this.node.dial(t.addr, { signal: this.abort.signal });
    } catch {
      conn = undefined;
    } finally {
      t.dialing = false;
    }
    if (this.abort.signal.aborted) return;
    if (conn === undefined) {
      this.schedule(t);
      return;
    }
    t.peerId = conn.remotePeer.toString();
    t.attempt = 0;
    // The connection may have dropped between the dial and now, with the disconnect event already gone by.
    if (!this.isConnected(t)) this.schedule(t);
  }
}
