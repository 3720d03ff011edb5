// A running Tessera node: the I/O shell around the pure cluster core. It keeps the replicated state by
// applying the master's ordered log, takes part in elections, and, while master, turns membership
// changes and proposed events into log entries. Timing constants are options so tests can shorten them.
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  apply, breaksChain, canonicalJson, CommandSchema, createSequencer, EventLogFile, initialState, judgeChainBreak,
  judgeMasterClaim, nextTerm, OrderedLog, sequenceAll, shouldStandForElection, stateHash, StaleTermEvent,
  type ClusterState, type Command, type Event, type IndexedEvent, type MasterClaim, type SequencerState,
} from "../cluster/index.js";
import { telemetryWorthRecording } from "../devices/telemetry-coalesce.js";
import { decidePlacement, placedRecord } from "../placement/place-instance.js";
import { planRebalance } from "../placement/rebalance.js";
import { planRecovery } from "../placement/recovery.js";
import { createHost, loadClusterKey, loadOrCreateClusterKey, saveClusterKey, type Channel, type TesseraHost } from "../net/index.js";
import { PeerTools } from "./peer-tools.js";
import {
  ElectionMessageSchema, GlobalEventsSchema, LocalEventsSchema,
  type ElectionMessage, type GlobalEvents, type Heartbeat, type LocalEvents,
} from "./messages.js";

export interface NodeOptions {
  readonly dataDir: string;
  readonly name?: string;
  readonly port?: number;
  readonly listenHost?: "127.0.0.1" | "0.0.0.0";
  readonly peers?: readonly string[];
  readonly mdns?: boolean;
  readonly broadcast?: boolean;
  /** The cluster key; when neither this nor `open` is set, the data dir's key is used (created on first start). */
  readonly clusterKey?: string;
  readonly open?: boolean;
  readonly forceMaster?: boolean;
  readonly heartbeatMs?: number;
  /** Silence after which the master is presumed gone and an election may start. */
  readonly masterTimeoutMs?: number;
  /** Silence after which the master records NodeTimedOut for a node (default 10 s). */
  readonly nodeTimeoutMs?: number;
  /**
   * How long an instance must stay much slower than planned, with a clearly better placement at hand,
   * before the master moves it (placement/rebalance.ts; default 20 s, 0 never moves one).
   */
  readonly rebalanceAfterMs?: number;
}

interface PeerView {
  readonly heartbeat: Heartbeat;
  readonly heardAt: number;
}

type Listener = (events: readonly IndexedEvent[]) => void;

/** Events per catch-up reply: well under the topic's size limit. */
const REPLY_BATCH = 256;

export class TesseraNode {
  state: ClusterState = initialState();
  /** Every applied event, in order, for catch-up replies and the /events stream. */
  readonly applied: IndexedEvent[] = [];
  readonly joinedAt = Date.now();
  readonly clusterKeyCreated: boolean;
  /** `tessera send` and `tessera ping`: messages and link measurements to one peer. */
  readonly peerTools: PeerTools;

  private term = 0;
  private master: MasterClaim | null = null;
  private lastMasterHeard = 0;
  private sequencer: SequencerState | null = null;
  private readonly peers = new Map<string, PeerView>();
  private readonly dialAttempts = new Map<string, number>();
  private readonly listeners = new Set<Listener>();
  private readonly proposedListeners = new Set<(events: readonly Event[]) => void>();
  private timers: NodeJS.Timeout[] = [];
  private lastRequest = 0;
  private stopping = false;
  private readonly startedAt = Date.now();
  private work: Promise<void> = Promise.resolve();
  private readonly strandedNoted = new Set<string>();
  /** Instances the rebalance rule has held for, since when (master only). */
  private readonly slowSince = new Map<string, number>();

  private constructor(
    readonly options: Required<Pick<NodeOptions, "heartbeatMs" | "masterTimeoutMs" | "nodeTimeoutMs">> & NodeOptions,
    readonly host: TesseraHost,
    readonly clusterKey: string | undefined,
    created: boolean,
    private readonly file: EventLogFile,
    private log: OrderedLog,
    private readonly election: Channel<ElectionMessage>,
    private readonly globalEvents: Channel<GlobalEvents>,
    private readonly localEvents: Channel<LocalEvents>,
    private readonly commands: Channel<Command>,
  ) {
    this.clusterKeyCreated = created;
    this.peerTools = new PeerTools(host, () => this.name);
  }

  static async start(opts: NodeOptions): Promise<TesseraNode> {
    const options = {
      ...opts,
      heartbeatMs: opts.heartbeatMs ?? 500,
      masterTimeoutMs: opts.masterTimeoutMs ?? 2500,
      nodeTimeoutMs: opts.nodeTimeoutMs ?? 10_000,
    };
    await mkdir(options.dataDir, { recursive: true });
    let clusterKey = options.clusterKey;
    let created = false;
    if (!options.open && clusterKey === undefined) ({ key: clusterKey, created } = await loadOrCreateClusterKey(options.dataDir));
    // A key given with --join is kept, so a restart needs no flag.
    else if (clusterKey !== undefined && (await loadClusterKey(options.dataDir)) !== clusterKey) await saveClusterKey(options.dataDir, clusterKey);
    const { log: file, recovered } = await EventLogFile.open(join(options.dataDir, "events.log"));
    const host = await createHost({
      dataDir: options.dataDir,
      listenHost: options.listenHost ?? "0.0.0.0",
      port: options.port ?? 0,
      clusterKey: options.open ? undefined : clusterKey,
      open: options.open === true,
      mdns: options.mdns ?? false,
      broadcast: options.broadcast ? {} : false,
      peers: [...(options.peers ?? [])],
    });
    const node = new TesseraNode(
      options, host, options.open ? undefined : clusterKey, created, file,
      new OrderedLog({ nextIndex: recovered.events.length === 0 ? 0 : recovered.events.at(-1)!.index + 1 }),
      host.channel("election", ElectionMessageSchema, { maxBytes: 16 * 1024 }),
      host.channel("global_events", GlobalEventsSchema, { maxBytes: 1 << 20 }),
      host.channel("local_events", LocalEventsSchema, { maxBytes: 256 * 1024 }),
      // Room for a PlaceInstance's per-layer needs (two numbers per layer).
      host.channel("commands", CommandSchema, { maxBytes: 128 * 1024 }),
    );
    // Replay the persisted log: a restarted node resumes where it stopped, and redials the members it knew.
    // A file that does not replay cleanly (its chain or terms broken) is dropped and fetched again.
    if (!recovered.events.every((e) => node.applyOne(e) === "applied")) {
      process.stderr.write("tessera: the stored event log does not replay cleanly; fetching it from the cluster\n");
      await node.resync();
    }
    for (const n of Object.values(node.state.nodes)) {
      const addr = n.addresses.find((a) => a.includes("/p2p/"));
      if (n.id !== node.nodeId && n.status === "alive" && addr) node.host.dial(addr).catch(() => undefined);
    }
    await node.peerTools.start();
    node.wire();
    return node;
  }

  get nodeId(): string {
    return this.host.peerId;
  }

  get masterId(): string | null {
    return this.master?.nodeId ?? null;
  }

  get currentTerm(): number {
    return this.term;
  }

  get isMaster(): boolean {
    return this.sequencer !== null;
  }

  get name(): string {
    return this.options.name ?? hostname();
  }

  hash(): string {
    return stateHash(this.state);
  }

  /** Proposes events: the master sequences them at once, any other node sends them to the master. */
  async propose(events: readonly Event[]): Promise<void> {
    if (events.length === 0) return;
    await this.serial(async () => {
      for (const l of this.proposedListeners) l(events);
      if (!this.isMaster) return void (await this.localEvents.publish({ origin: this.nodeId, events: [...events] } as LocalEvents));
      await this.commit(events);
      // The master's own telemetry must be heard too, not only what the log keeps of it; members ignore
      // the rest of what the master publishes here, since only a master commits local events.
      const heard = events.filter((e) => e.type === "NodeTelemetryUpdated" || e.type === "DeviceGPUStateUpdated");
      if (heard.length > 0) await this.localEvents.publish({ origin: this.nodeId, events: heard } as LocalEvents);
    });
  }

  /**
   * Vouches for a device that reaches the cluster only through this node (a browser tab on /join):
   * its heartbeat is published on the election topic as if it were its own, and heard here too, since
   * gossipsub does not deliver a node's own messages (this node may be the master). The master then
   * records it joining, timing out and leaving like any node. The relay (join/relay.ts) keeps such a
   * device out of elections: it gives it the latest possible joinedAt and no master, so it never ranks.
   */
  async relayHeartbeat(hb: Heartbeat): Promise<void> {
    if (hb.nodeId === this.nodeId || this.stopping) return;
    await this.serial(async () => {
      await this.onElection(hb);
      await this.election.publish(hb).catch(() => 0);
    });
  }

  /** Sends a command to the master (handled here when this node is the master). */
  async submit(cmd: Command): Promise<void> {
    if (this.isMaster) await this.serial(() => this.onCommand(cmd));
    else await this.commands.publish(cmd);
  }

  /**
   * Calls back with every event any member proposes (this node's own included), as it is heard and
   * before the master decides whether to log it: telemetry history sees every sample this way, while
   * the log keeps only those that matter.
   */
  onProposed(listener: (events: readonly Event[]) => void): () => void {
    this.proposedListeners.add(listener);
    return () => this.proposedListeners.delete(listener);
  }

  onApplied(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private wire(): void {
    this.election.subscribe((msg) => this.serial(() => this.onElection(msg)));
    this.globalEvents.subscribe((msg) => this.serial(() => this.receive(msg.events as readonly IndexedEvent[])));
    this.localEvents.subscribe((msg) => this.serial(async () => {
      for (const l of this.proposedListeners) l(msg.events as readonly Event[]);
      if (this.isMaster) await this.commit(msg.events as readonly Event[]);
    }));
    this.commands.subscribe((msg) => this.serial(() => this.onCommand(msg)));
    this.timers.push(setInterval(() => this.serial(() => this.tick()), this.options.heartbeatMs));
    if (this.options.forceMaster) void this.serial(() => this.becomeMaster());
  }

  /** Handlers run one at a time, so state, log and file change in a single order. */
  private serial(task: () => void | Promise<void>): Promise<void> {
    this.work = this.work.then(task).catch((e) => {
      if (!this.stopping) process.stderr.write(`tessera: ${e instanceof Error ? e.message : String(e)}\n`);
    });
    return this.work;
  }

  private heartbeat(leaving = false): Heartbeat {
    return {
      kind: "heartbeat",
      nodeId: this.nodeId,
      name: this.name.slice(0, 128),
      addresses: this.host.multiaddrs.slice(0, 32),
      joinedAt: this.joinedAt,
      eventsSeen: this.applied.length,
      lastEventIndex: this.state.lastEventIndex,
      term: this.term,
      masterId: this.masterId,
      leaving,
    };
  }

  private async tick(): Promise<void> {
    if (this.stopping) return;
    const now = Date.now();
    await this.election.publish(this.heartbeat());
    if (this.isMaster) {
      await this.manageMembership(now);
      await this.recoverInstances();
      await this.rebalanceInstances(now);
    } else if (this.shouldElect(now)) {
      await this.becomeMaster();
    }
    await this.requestMissing(now);
  }

  private alivePeers(now: number): PeerView[] {
    return [...this.peers.values()].filter((p) => now - p.heardAt < this.options.masterTimeoutMs && !p.heartbeat.leaving);
  }

  private shouldElect(now: number): boolean {
    if (this.master !== null && this.master.nodeId !== this.nodeId && now - this.lastMasterHeard < this.options.masterTimeoutMs) return false;
    // Give a new node time to hear the cluster before it stands.
    if (now - this.startedAt < this.options.masterTimeoutMs) return false;
    const me = { nodeId: this.nodeId, joinedAt: this.joinedAt, eventsSeen: this.applied.length };
    const others = this.alivePeers(now).map((p) => p.heartbeat);
    // Never stand while a live peer has seen more of the log: its events would be lost or duplicated.
    if (others.some((p) => p.lastEventIndex > this.state.lastEventIndex)) return false;
    return shouldStandForElection(me, others);
  }

  private async becomeMaster(): Promise<void> {
    const highest = Math.max(this.term, ...[...this.peers.values()].map((p) => p.heartbeat.term));
    const term = nextTerm(highest);
    const claim: MasterClaim = { nodeId: this.nodeId, term, joinedAt: this.joinedAt, eventsSeen: this.applied.length };
    this.term = term;
    this.master = claim;
    this.lastMasterHeard = Date.now();
    this.sequencer = createSequencer(this.nodeId, term, this.applied.at(-1));
    await this.election.publish({ kind: "claim", ...claim });
    await this.commit([{ type: "MasterElected", nodeId: this.nodeId, term }]);
    await this.manageMembership(Date.now());
  }

  private async onElection(msg: ElectionMessage): Promise<void> {
    const now = Date.now();
    if (msg.nodeId === this.nodeId) return;
    if (msg.kind === "heartbeat") {
      this.peers.set(msg.nodeId, { heartbeat: msg, heardAt: now });
      this.connectDirectly(msg, now);
      if (msg.leaving && this.isMaster) await this.commit([{ type: "NodeLeft", nodeId: msg.nodeId, at: now }]);
      if (msg.masterId !== msg.nodeId) return;
    }
    const claim: MasterClaim = { nodeId: msg.nodeId, term: msg.term, joinedAt: msg.joinedAt, eventsSeen: msg.eventsSeen };
    if (msg.kind === "heartbeat" && msg.leaving) return;
    const verdict = judgeMasterClaim(this.term, claim, this.master);
    if (!verdict.accept) return;
    if (this.master?.nodeId === claim.nodeId && this.term === claim.term) {
      this.lastMasterHeard = now;
      return;
    }
    const wasMaster = this.sequencer !== null;
    // Two masters in one term (they could not see each other): we may hold the loser's events.
    const rivalInTerm = this.master !== null && this.master.term === claim.term && this.master.nodeId !== claim.nodeId;
    this.term = claim.term;
    this.master = claim;
    this.lastMasterHeard = now;
    this.sequencer = null; // a better or newer master exists: stop writing
    // What we wrote as master may clash with the winner's log at the same indexes: take the winner's.
    if (wasMaster || rivalInTerm) await this.resync();
  }

  /**
   * Heartbeats relayed through other nodes name peers we have no connection to: dial them, so the mesh
   * does not hang on the node everyone first joined through (and survives its loss).
   */
  private connectDirectly(hb: Heartbeat, now: number): void {
    if (hb.leaving || this.host.peers().includes(hb.nodeId)) return;
    const last = this.dialAttempts.get(hb.nodeId) ?? 0;
    if (now - last < 5 * this.options.heartbeatMs) return;
    this.dialAttempts.set(hb.nodeId, now);
    const addr = hb.addresses.find((a) => a.includes("/p2p/"));
    if (addr) this.host.dial(addr).catch(() => undefined);
  }

  /** The master's view of who is in the cluster, written into the log as join and time-out events. */
  private async manageMembership(now: number): Promise<void> {
    const events: Event[] = [];
    const self = this.state.nodes[this.nodeId];
    if (self?.status !== "alive") {
      events.push({ type: "NodeJoined", nodeId: this.nodeId, name: this.name.slice(0, 128), addresses: this.host.multiaddrs.slice(0, 32), at: now });
    }
    for (const [id, p] of this.peers) {
      const known = this.state.nodes[id];
      const silent = now - p.heardAt;
      if (p.heartbeat.leaving) continue;
      if (silent < this.options.nodeTimeoutMs && known?.status !== "alive") {
        events.push({ type: "NodeJoined", nodeId: id, name: p.heartbeat.name, addresses: [...p.heartbeat.addresses], at: now });
      }
    }
    for (const [id, n] of Object.entries(this.state.nodes)) {
      if (id === this.nodeId || n.status !== "alive") continue;
      const p = this.peers.get(id);
      if (!p || now - p.heardAt >= this.options.nodeTimeoutMs) events.push({ type: "NodeTimedOut", nodeId: id, at: now });
    }
    if (events.length > 0) await this.commit(events);
  }

  /** Master only: numbers events, applies them here and publishes them. */
  private async commit(proposed: readonly Event[]): Promise<void> {
    if (!this.sequencer || proposed.length === 0) return;
    // Telemetry samples only enter the log when they matter (devices/telemetry-coalesce.ts).
    const events = proposed.filter((e) => e.type !== "NodeTelemetryUpdated" || telemetryWorthRecording(this.state.nodes[e.nodeId]?.telemetry, e.telemetry));
    if (events.length === 0) return;
    const { state, indexed } = sequenceAll(this.sequencer, events);
    this.sequencer = state;
    await this.receive(indexed);
    for (let i = 0; i < indexed.length; i += REPLY_BATCH) {
      await this.globalEvents.publish({ events: indexed.slice(i, i + REPLY_BATCH) } as GlobalEvents);
    }
  }

  /** Offers events to the ordered log and applies whatever became applicable, durably. */
  private async receive(events: readonly IndexedEvent[]): Promise<void> {
    const ready: IndexedEvent[] = [];
    let diverged = false;
    for (const e of events) {
      const result = this.log.offer(e);
      ready.push(...result.ready);
      // A newer master wrote a different event at an index we already applied: our suffix came from a
      // deposed master (a split at start-up or a partition). Start over from the current master's log.
      // "stale" is an index older than the ordered log remembers (after a restart, all of them).
      const mine = this.applied[e.index];
      if ((result.status === "conflict" || result.status === "stale") && mine !== undefined && judgeChainBreak(mine, e, this.masterId) === "ours-is-stale" &&
        (result.status === "conflict" || canonicalJson(mine) !== canonicalJson(e))) {
        diverged = true;
      }
    }
    if (diverged) return this.resync();
    const applied: IndexedEvent[] = [];
    for (const e of ready) {
      // Events apply strictly in order: after one is refused, the rest of the batch must wait.
      const outcome = this.applyOne(e);
      if (outcome === "ours-is-stale") return this.resync();
      if (outcome === "wait") break;
      applied.push(e);
    }
    if (applied.length === 0) return;
    await this.file.append(applied);
    for (const l of this.listeners) l(applied);
  }

  /**
   * Applies the next event in order. "wait": it cannot go there (a deposed master's, of an older term
   * or history), and the position stays open for the current master's event. "ours-is-stale": the
   * event's link shows that the log behind it differs from ours and that ours is the one to drop.
   */
  private applyOne(e: IndexedEvent): "applied" | "wait" | "ours-is-stale" {
    const held = this.applied[e.index - 1];
    if (held !== undefined && breaksChain(held, e)) {
      if (judgeChainBreak(held, e, this.masterId) === "ours-is-stale") return "ours-is-stale";
      this.log = new OrderedLog({ nextIndex: this.state.lastEventIndex + 1 });
      return "wait";
    }
    try {
      this.state = apply(this.state, e);
    } catch (err) {
      if (err instanceof StaleTermEvent) {
        this.log = new OrderedLog({ nextIndex: this.state.lastEventIndex + 1 });
        return "wait";
      }
      throw err;
    }
    this.applied.push(e);
    if (e.event.type === "MasterElected" && e.event.term >= this.term) {
      this.term = e.event.term;
      if (e.event.nodeId !== this.nodeId) this.sequencer = null;
    }
    return "applied";
  }

  /** Drops the local log and state; the missing-range requests then fetch the master's log from 0. */
  private async resync(): Promise<void> {
    this.state = initialState();
    this.applied.length = 0;
    this.log = new OrderedLog({ nextIndex: 0 });
    this.sequencer = null;
    await this.file.reset();
    this.lastRequest = 0;
  }

  /** Asks for missing log ranges: gaps in what arrived, or a peer that is ahead of us. */
  private async requestMissing(now: number): Promise<void> {
    if (now - this.lastRequest < this.options.heartbeatMs) return;
    const ahead = Math.max(-1, ...this.alivePeers(now).map((p) => p.heartbeat.lastEventIndex));
    const gaps = this.log.missing();
    const since = this.state.lastEventIndex + 1;
    if (gaps.length === 0 && ahead < since) return;
    this.lastRequest = now;
    await this.commands.publish({ type: "RequestEventLog", since, requester: this.nodeId });
  }

  private async onCommand(cmd: Command): Promise<void> {
    if (cmd.type === "CreateInstance" || cmd.type === "DeleteInstance") return this.onInstanceCommand(cmd);
    if (cmd.type === "PlaceInstance") return this.onPlaceInstance(cmd);
    if (cmd.type !== "RequestEventLog" || cmd.requester === this.nodeId) return;
    // The master answers. Every node that can answers when the master itself asks (it is behind) or
    // when no master is alive: the best-ranked node may be behind a peer and cannot stand before it
    // has caught up, so followers must be able to serve each other during an election.
    const masterAlive = this.master !== null && Date.now() - this.lastMasterHeard < this.options.masterTimeoutMs;
    if (!this.isMaster && cmd.requester !== this.masterId && masterAlive) return;
    const until = Math.min(cmd.until ?? Infinity, this.applied.length);
    for (let i = cmd.since; i < until; i += REPLY_BATCH) {
      await this.globalEvents.publish({ events: this.applied.slice(i, Math.min(until, i + REPLY_BATCH)) } as GlobalEvents);
    }
  }

  /** Master only: records an instance whose nodes are all alive, or deletes one. */
  private async onInstanceCommand(cmd: Extract<Command, { type: "CreateInstance" | "DeleteInstance" }>): Promise<void> {
    if (!this.isMaster) return;
    if (cmd.type === "DeleteInstance") {
      if (this.state.instances[cmd.instanceId]) await this.commit([{ type: "InstanceDeleted", instanceId: cmd.instanceId }]);
      return;
    }
    const missing = cmd.placement.filter((p) => this.state.nodes[p.nodeId]?.status !== "alive");
    if (this.state.instances[cmd.instanceId] || missing.length > 0) return;
    await this.commit([{ type: "InstanceCreated", instanceId: cmd.instanceId, model: cmd.model, placement: cmd.placement }]);
  }

  /** Master only: re-places solver-placed instances that lost a stage (placement/recovery.ts). */
  private async recoverInstances(): Promise<void> {
    const plan = planRecovery(this.state);
    for (const s of plan.stranded) {
      const note = `${s.instanceId}: ${s.detail}`;
      if (this.strandedNoted.has(note)) continue;
      this.strandedNoted.add(note);
      process.stderr.write(`tessera: instance ${s.instanceId} lost a stage and cannot be placed again: ${s.detail}\n`);
    }
    await this.commit(plan.events);
  }

  /** Master only: moves instances that stayed much slower than planned while a better placement exists. */
  private async rebalanceInstances(now: number): Promise<void> {
    const holdMs = this.options.rebalanceAfterMs ?? 20_000;
    if (holdMs <= 0) return;
    const plans = planRebalance(this.state);
    const slow = new Set(plans.map((p) => p.instanceId));
    for (const id of this.slowSince.keys()) if (!slow.has(id)) this.slowSince.delete(id);
    for (const p of plans) {
      const since = this.slowSince.get(p.instanceId) ?? now;
      this.slowSince.set(p.instanceId, since);
      if (now - since < holdMs) continue;
      this.slowSince.delete(p.instanceId);
      const f = (s: number) => `${(1 / s).toFixed(2)} tok/s`;
      process.stderr.write(`tessera: moving instance ${p.instanceId}: planned ${f(p.plannedSeconds)}, now ${f(p.currentSeconds)}, new placement ${f(p.betterSeconds)}\n`);
      await this.commit(p.events);
    }
  }

  /** Master only: the solver chooses the placement on the current state; nothing is recorded when none fits. */
  private async onPlaceInstance(cmd: Extract<Command, { type: "PlaceInstance" }>): Promise<void> {
    if (!this.isMaster || this.state.instances[cmd.instanceId]) return;
    const decision = decidePlacement(this.state, cmd);
    if (!decision.ok) {
      process.stderr.write(`tessera: cannot place ${cmd.model}: ${decision.detail}\n`);
      return;
    }
    await this.commit([{ type: "InstanceCreated", instanceId: cmd.instanceId, model: cmd.model, placement: decision.slices, placed: placedRecord(cmd, decision.placement) }]);
  }

  /** Leaves cleanly: tells the cluster (NodeLeft), then stops networking and closes the log. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    await this.serial(async () => {
      if (this.isMaster) await this.commit([{ type: "NodeLeft", nodeId: this.nodeId, at: Date.now() }]);
      await this.election.publish(this.heartbeat(true)).catch(() => 0);
    });
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await this.work;
    await this.peerTools.stop();
    await this.host.stop();
    await this.file.close();
  }
}
