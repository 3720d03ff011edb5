// One node's part in one instance: a stage of the pipeline. It loads its shard in a worker thread,
// links to the next stage (the last stage links back to the head), and moves work through: steps in,
// hidden states or sampled tokens out. Single-token steps of different sequences that are queued
// together run as one batch, so a stage reads its weights once for many sequences. Stage 0 also hosts
// the Head, which owns every sequence.
import { peerIdFromString } from "@libp2p/peer-id";
import { runnerKey, type ClusterState, type Event, type Instance, type PlacementSlice, type RunnerStatus } from "../cluster/index.js";
import { bytesF32, f32Bytes, FramedStream, type Frame, type TesseraHost } from "../net/index.js";
import { PIPELINE_LIMITS, PIPELINE_PROTOCOL, PipelineFrameSchema, type PipelineFrame, type StepFrame } from "../shard/protocol.js";
import type { BackendChoice } from "../engine/backends/select.js";
import type { LayerRange } from "../engine/model.js";
import { readModelHeader, type ModelHeader } from "../shard/shard.js";
import type { StageOutput, StageStep } from "../shard/stage.js";
import { StageThread } from "../shard/stage-thread.js";
import { Head, type HeadPipeline } from "./head.js";
import { loopbackLinks } from "../join/loopback-link.js";

export interface RunnerContext {
  readonly host: TesseraHost;
  readonly nodeId: string;
  /** The replicated state as this node sees it now. */
  state(): ClusterState;
  /** Proposes events to the master (RunnerStatusUpdated). */
  propose(events: readonly Event[]): Promise<void>;
  /** A file holding layers `range` of the model: the whole file, or a shard fetched from peers. */
  resolveModel(model: string, range: LayerRange): Promise<string>;
  readonly threads: number;
  readonly backend: BackendChoice;
  readonly gpu?: number;
  readonly stepTimeoutMs: number;
  /** Most sequences one decode batch may hold. */
  readonly maxBatch: number;
  /**
   * Runs this stage somewhere other than a local worker thread: a browser device's page, which this
   * node relays (join/page-stage.ts). ctx.nodeId is then the device's id, not this node's.
   */
  openStage?(range: LayerRange): Promise<StageHandle>;
  /** The peer to dial for a placement's node: itself, or the node relaying it (a browser device). */
  routeTo?(nodeId: string): string;
  /** The node relaying `nodeId`, if it is a relayed device; its links arrive from that peer. */
  relayOf?(nodeId: string): string | undefined;
  /** Hands this node's own runner a link from a runner on this same node (libp2p cannot dial itself). */
  localLink?(link: FramedStream<PipelineFrame>, hello: PipelineFrame): void;
}

/** What a runner needs of its stage's compute: a worker thread here, or a page's WebGPU through the relay. */
export type StageHandle = Pick<StageThread, "run" | "free" | "close" | "onDeath" | "injectCrash" | "deathReason">;

export interface RunnerStats {
  /** Single-token steps run, and the passes they ran in (several sequences share a pass). */
  decodeSteps: number;
  decodeBatches: number;
  largestBatch: number;
  /** Time inside the stage thread for decode passes, and for prompt chunks. */
  decodeMs: number;
  promptTokens: number;
  promptMs: number;
}

type QueueItem =
  | { readonly kind: "step"; readonly step: StageStep }
  | { readonly kind: "free"; readonly seq: string };

/** How long to keep trying to reach the next stage before the runner fails. */
const LINK_DEADLINE_MS = 30_000;
/** Grace before reporting a lost stage, so a node that is leaving cleanly is recorded as such. */
const LOSS_REPORT_DELAY_MS = 1_000;

export class InstanceRunner {
  readonly stage: number;
  readonly slice: PlacementSlice;
  readonly head: Head | undefined;
  private header: ModelHeader | undefined;
  private thread: StageHandle | undefined;
  private next: FramedStream<PipelineFrame> | undefined;
  private inbound: FramedStream<PipelineFrame> | undefined;
  private readonly queue: QueueItem[] = [];
  private pumping = false;
  private closed = false;
  private readonly active = new Set<string>();
  private reported: RunnerStatus = "idle";
  /** Loaded and linked: frames are processed rather than held. */
  private live = false;
  /** Frames that arrived before the shard finished loading. */
  private readonly early: Frame<PipelineFrame>[] = [];
  private readonly reportedLost = new Set<string>();
  /** What this stage has computed: for GET /runners, benchmarks and the dashboard. */
  readonly stats: RunnerStats = { decodeSteps: 0, decodeBatches: 0, largestBatch: 0, decodeMs: 0, promptTokens: 0, promptMs: 0 };

  constructor(
    readonly instance: Instance,
    private readonly ctx: RunnerContext,
  ) {
    this.stage = instance.placement.findIndex((p) => p.nodeId === ctx.nodeId);
    if (this.stage < 0) throw new Error(`node ${ctx.nodeId} has no slice in instance ${instance.instanceId}`);
    this.slice = instance.placement[this.stage];
    const pipeline: HeadPipeline = {
      header: () => this.modelHeader,
      enqueueTokens: (seq, pos, tokens, sample, open) => this.enqueue({ kind: "step", step: { seq, pos, nTok: tokens.length, input: [...tokens], sample, open } }),
      free: (seq) => this.enqueue({ kind: "free", seq }),
    };
    this.head = this.stage === 0 ? new Head(pipeline, ctx.stepTimeoutMs) : undefined;
  }

  get id(): string {
    return this.instance.instanceId;
  }

  get stages(): number {
    return this.instance.placement.length;
  }

  get isLast(): boolean {
    return this.stage === this.stages - 1;
  }

  get modelHeader(): ModelHeader {
    if (!this.header) throw new Error(`instance ${this.id} is still loading`);
    return this.header;
  }

  get status(): RunnerStatus {
    return this.reported;
  }

  /** Sequences this stage holds (opened and not yet freed). */
  get activeSequences(): number {
    return this.active.size;
  }

  /** Loads the shard, links to the next stage and reports each step; a failure is reported, not thrown. */
  async start(): Promise<void> {
    try {
      await this.report("loading");
      const path = await this.ctx.resolveModel(this.instance.model, { start: this.slice.start, end: this.slice.end });
      this.header = await readModelHeader(path);
      const layers = this.header.config.layers;
      const end = this.instance.placement.at(-1)!.end;
      if (end !== layers) throw new Error(`the placement covers layers [0, ${end}) but the model has ${layers}`);
      const range = { start: this.slice.start, end: this.slice.end };
      this.thread = this.ctx.openStage ? await this.ctx.openStage(range) : await StageThread.start({ modelPath: path, range, threads: this.ctx.threads, backend: this.ctx.backend, ...(this.ctx.gpu !== undefined ? { gpu: this.ctx.gpu } : {}) });
      if (this.closed) return void (await this.thread.close());
      // A thread that dies while idle is reported at once, not at the next request.
      this.thread.onDeath((e) => this.threadDied(e));
      await this.report("loaded");
      if (this.stages > 1) await this.connectNext();
      if (this.closed) return;
      await this.report("ready");
      this.live = true;
      for (const f of this.early.splice(0)) this.handle(f);
    } catch (e) {
      if (!this.closed) await this.report("failed", e instanceof Error ? e.message : String(e));
    }
  }

  /** An inbound link from the previous stage (or, at the head, from the last stage). */
  accept(link: FramedStream<PipelineFrame>, fromStage: number): void {
    const expected = (this.stage - 1 + this.stages) % this.stages;
    const from = this.instance.placement[expected].nodeId;
    // A relayed device's stage runs on its relay node, so its link comes from that peer.
    if (fromStage !== expected || (link.remotePeer !== from && link.remotePeer !== this.ctx.relayOf?.(from))) {
      link.abort(new Error(`stage ${this.stage} of ${this.id} takes its input from stage ${expected}, not from stage ${fromStage} on ${link.remotePeer}`));
      return;
    }
    this.inbound?.abort(new Error("replaced by a newer link"));
    this.inbound = link;
    link.onClose((r) => this.linkLost(link.remotePeer, r.error?.message ?? "closed"));
    link.onFrame((f) => (this.live ? this.handle(f) : this.early.push(f)));
  }

  /** A node of this instance disconnected: the pipeline through it is broken. */
  peerLost(nodeId: string, why: string): void {
    if (this.closed || nodeId === this.ctx.nodeId) return;
    const stage = this.instance.placement.findIndex((p) => p.nodeId === nodeId);
    if (stage < 0) return;
    this.head?.failAll(`stage ${stage} of instance ${this.id} (node ${nodeId}) was lost: ${why}`, true);
    // The stage after the lost one reports it (a dead node cannot), unless the log already says why
    // it is gone: a node that left shut its runners down, and one that timed out failed them.
    if ((stage + 1) % this.stages !== this.stage || this.reportedLost.has(nodeId)) return;
    this.reportedLost.add(nodeId);
    setTimeout(() => {
      const s = this.ctx.state();
      const runner = s.runners[runnerKey(this.id, nodeId)];
      if (this.closed || !runner || runner.status === "failed" || runner.status === "shutdown") return;
      const error = `stage ${stage} was lost: ${why}`.slice(0, 256);
      void this.ctx.propose([{ type: "RunnerStatusUpdated", instanceId: this.id, nodeId, status: "failed", error }]).catch(() => undefined);
    }, LOSS_REPORT_DELAY_MS).unref();
  }

  /**
   * Stops the runner: its sequences fail, its links and thread close. `shutdown` (the node is stopping)
   * first records the runner as shut down, so its neighbours do not report it as lost.
   */
  async close(shutdown = false): Promise<void> {
    if (this.closed) return;
    if (shutdown && this.reported !== "failed") await this.report("shutdown");
    this.closed = true;
    // Recoverable: when the master replaced this instance, its requests resume on the successor.
    this.head?.failAll(`instance ${this.id} was shut down`, true);
    await this.next?.close();
    await this.inbound?.close();
    await this.thread?.close();
  }

  private async connectNext(): Promise<void> {
    const target = this.instance.placement[(this.stage + 1) % this.stages].nodeId;
    const route = this.ctx.routeTo?.(target) ?? target;
    if (route === this.ctx.host.peerId && this.ctx.localLink) return this.linkLocally(target);
    const deadline = Date.now() + LINK_DEADLINE_MS;
    let lastError: unknown;
    while (!this.closed && Date.now() < deadline) {
      try {
        const stream = await this.ctx.host.node.dialProtocol(peerIdFromString(route), PIPELINE_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
        const link = new FramedStream(stream, PipelineFrameSchema, PIPELINE_LIMITS, target);
        await link.send({ kind: "hello", instanceId: this.id, stage: this.stage } satisfies PipelineFrame);
        link.onFrame(() => link.abort(new Error("a stage's outbound link carries no frames back")));
        link.onClose((r) => this.linkLost(target, r.error?.message ?? "closed"));
        this.next = link;
        return;
      } catch (e) {
        lastError = e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (!this.closed) throw new Error(`could not link to the next stage on ${target}: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }

  /** The next stage runs on this same node (its own stage, or a device it relays): an in-process link. */
  private linkLocally(target: string): void {
    const [mine, theirs] = loopbackLinks(this.ctx.nodeId, target);
    const hello: PipelineFrame = { kind: "hello", instanceId: this.id, stage: this.stage };
    mine.onFrame(() => mine.abort(new Error("a stage's outbound link carries no frames back")));
    mine.onClose((r) => this.linkLost(target, r.error?.message ?? "closed"));
    this.next = mine;
    this.ctx.localLink!(theirs, hello);
  }

  private linkLost(peer: string, why: string): void {
    if (this.closed) return;
    this.peerLost(peer, `link lost (${why})`);
  }

  /** A frame from the inbound link; a protocol violation ends that link. */
  private handle(frame: Frame<PipelineFrame>): void {
    try {
      this.onFrame(frame);
    } catch (e) {
      this.inbound?.abort(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private onFrame(frame: Frame<PipelineFrame>): void {
    const h = frame.header;
    switch (h.kind) {
      case "hello":
        throw new Error("a link says hello only once");
      case "step":
        return this.onStep(h, frame.payload);
      case "token":
        if (!this.head) throw new Error(`stage ${this.stage} received a token: tokens go to the head`);
        return this.head.onToken(h.seq, h.pos, h.token);
      case "free":
        return this.enqueue({ kind: "free", seq: h.seq });
      case "error":
        if (this.head) return this.head.fail(h.seq, h.message, h.recoverable === true);
        this.enqueue({ kind: "free", seq: h.seq });
        return void this.sendNext(h);
    }
  }

  private onStep(h: StepFrame, payload: Uint8Array): void {
    if (this.head) throw new Error("the head takes tokens, not hidden states");
    let hidden: Float32Array;
    try {
      hidden = bytesF32(payload);
    } catch (e) {
      return void this.sendNext({ kind: "error", seq: h.seq, message: `stage ${this.stage}: ${(e as Error).message}` });
    }
    this.enqueue({ kind: "step", step: { seq: h.seq, pos: h.pos, nTok: h.nTok, input: hidden, sample: h.sample, open: h.open } });
  }

  private enqueue(item: QueueItem): void {
    if (this.closed) return;
    this.queue.push(item);
    if (!this.pumping) void this.pump();
  }

  /** Takes the next item, or a batch of single-token steps of distinct sequences (order per sequence kept). */
  private takeBatch(): QueueItem[] {
    const first = this.queue.shift()!;
    if (first.kind !== "step" || first.step.nTok !== 1) return [first];
    const batch: QueueItem[] = [first];
    const seen = new Set([first.step.seq]);
    for (let i = 0; i < this.queue.length && batch.length < this.ctx.maxBatch; ) {
      const item = this.queue[i];
      const seq = item.kind === "step" ? item.step.seq : item.seq;
      if (item.kind === "step" && item.step.nTok === 1 && !seen.has(seq)) {
        batch.push(item);
        seen.add(seq);
        this.queue.splice(i, 1);
      } else {
        // Anything left behind for a sequence holds back that sequence's later items.
        seen.add(seq);
        i++;
      }
    }
    return batch;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closed && this.thread) {
        const batch = this.takeBatch();
        const steps: StageStep[] = [];
        for (const item of batch) {
          if (item.kind === "free") await this.freeHere(item.seq);
          else steps.push(item.step);
        }
        if (steps.length === 0) continue;
        for (const s of steps) if (s.open) this.active.add(s.seq);
        await this.updateRunning();
        let outputs: StageOutput[];
        try {
          const t0 = performance.now();
          outputs = await this.thread.run(steps);
          this.count(steps, performance.now() - t0);
        } catch (e) {
          // Only a dead stage thread rejects (a bad step is an error output): this runner is finished,
          // and its sequences may resume on the instance that replaces it.
          this.threadDied(e);
          for (const s of steps) this.failRecoverably(s.seq, `stage ${this.stage} (${this.ctx.nodeId}) failed: ${this.thread.deathReason ?? String(e)}`);
          continue;
        }
        steps.forEach((s, i) => this.route(s, outputs[i]));
      }
    } finally {
      this.pumping = false;
    }
  }

  private count(steps: readonly StageStep[], ms: number): void {
    const st = this.stats;
    const decode = steps[0].nTok === 1;
    if (decode) {
      st.decodeSteps += steps.length;
      st.decodeBatches += 1;
      st.decodeMs += ms;
      st.largestBatch = Math.max(st.largestBatch, steps.length);
    } else {
      st.promptTokens += steps.reduce((n, s) => n + s.nTok, 0);
      st.promptMs += ms;
    }
  }

  private route(step: StageStep, out: StageOutput): void {
    switch (out.kind) {
      case "hidden":
        return void this.sendNext({ kind: "step", seq: step.seq, pos: step.pos, nTok: step.nTok, sample: step.sample, open: step.open }, f32Bytes(out.hidden));
      case "token":
        if (this.head) return this.head.onToken(out.seq, out.pos, out.token);
        return void this.sendNext({ kind: "token", seq: out.seq, pos: out.pos, token: out.token });
      case "none":
        return;
      case "error": {
        const message = `stage ${this.stage} (${this.ctx.nodeId}): ${out.message}`.slice(0, 256);
        if (this.head) return this.head.fail(out.seq, message);
        return void this.sendNext({ kind: "error", seq: out.seq, message });
      }
    }
  }

  /** Chaos testing: crash this runner's stage thread (see StageThread.injectCrash). */
  injectCrash(): void {
    this.thread?.injectCrash();
  }

  /** The stage thread crashed: report the runner failed (once), so the master re-places the instance. */
  private threadDied(e: unknown): void {
    if (this.closed || this.reported === "failed") return;
    void this.report("failed", `stage ${this.stage} thread died: ${e instanceof Error ? e.message : String(e)}`);
  }

  private failRecoverably(seq: string, message: string): void {
    const text = message.slice(0, 256);
    if (this.head) return this.head.fail(seq, text, true);
    void this.sendNext({ kind: "error", seq, message: text, recoverable: true });
  }

  private async freeHere(seq: string): Promise<void> {
    this.thread?.free(seq);
    const wasActive = this.active.delete(seq);
    // The last stage's link leads back to the head, which has already freed the sequence.
    if (!this.isLast) await this.sendNext({ kind: "free", seq });
    if (wasActive) await this.updateRunning();
  }

  private async sendNext(frame: PipelineFrame, payload?: Uint8Array): Promise<void> {
    if (!this.next || this.next.isClosed) {
      if (frame.kind !== "free" && frame.kind !== "hello" && this.head) this.head.fail(frame.seq, `stage ${this.stage} has no link to the next stage`);
      return;
    }
    try {
      await this.next.send(frame, payload);
    } catch {
      // The close handler reports the lost link; nothing more to do for this frame.
    }
  }

  private async updateRunning(): Promise<void> {
    const want: RunnerStatus = this.active.size > 0 ? "running" : "ready";
    if ((this.reported === "ready" || this.reported === "running") && want !== this.reported) await this.report(want);
  }

  private async report(status: RunnerStatus, error?: string): Promise<void> {
    this.reported = status;
    const event: Event = error === undefined
      ? { type: "RunnerStatusUpdated", instanceId: this.id, nodeId: this.ctx.nodeId, status }
      : { type: "RunnerStatusUpdated", instanceId: this.id, nodeId: this.ctx.nodeId, status, error: error.slice(0, 256) };
    await this.ctx.propose([event]).catch(() => undefined);
  }
}
