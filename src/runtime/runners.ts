// Keeps this node's runners in step with the cluster state: a runner starts for every instance whose
// placement names this node and stops when the instance is deleted. It also serves the two stream
// protocols (pipeline links between stages, and generate requests to a head) and routes a generate
// request from this node's API to the instance's head, wherever it runs.
import { peerIdFromString } from "@libp2p/peer-id";
import type { Stream, Connection } from "@libp2p/interface";
import { runnerKey, type DeepReadonly, type Instance } from "../cluster/index.js";
import { FramedStream, type Frame } from "../net/index.js";
import type { BackendChoice } from "../engine/backends/select.js";
import { resolveModelRef } from "../models/index.js";
import { planRecovery } from "../placement/recovery.js";
import { PIPELINE_LIMITS, PIPELINE_PROTOCOL, PipelineFrameSchema, type PipelineFrame } from "../shard/protocol.js";
import type { GenerateEvent, GenerateRequest, GenerateSink } from "./head.js";
import { GenerateEventSchema, INFER_LIMITS, INFER_PROTOCOL, InferRequestSchema, type InferRequest } from "./infer-protocol.js";
import { ModelHoldings } from "./model-holdings.js";
import type { TesseraNode } from "./node.js";
import { InstanceRunner, type RunnerContext, type StageHandle } from "./runner.js";
import type { LayerRange } from "../engine/model.js";
import type { PipelineFrame as LinkHello } from "../shard/protocol.js";

export interface RunnerOptions {
  /** Where model names that are not paths are looked up. */
  readonly modelsDir: string;
  /** Matmul threads of each stage. */
  readonly threads: number;
  readonly stepTimeoutMs: number;
  readonly maxBatch: number;
  /** The engine backend stages run on (default cpu): "auto" takes a hardware GPU when there is one. */
  readonly backend?: BackendChoice;
  /** WebGPU adapter index (`tessera info` lists them). */
  readonly gpu?: number;
}

/** How long a request whose stage was lost waits for the replacement instance to be ready. */
const RECOVERY_WAIT_MS = 60_000;

/**
 * How long the state must say "no placement is left" before a waiting request gives up: long enough for
 * a node that just (re)joined to publish its profile and become usable.
 */
const STRANDED_GRACE_MS = 10_000;

/** How long a request on a deleted instance waits to see whether it was replaced. */
const DELETED_GRACE_MS = 2_000;

/** How long a link or request may wait for this node to learn of its instance from the log. */
const INSTANCE_WAIT_MS = 10_000;

/** Browser devices whose pages connect to this node (join/relay.ts): their stages run through it. */
export interface RelayedDevices {
  /** Is this device's page connected here now? */
  relays(nodeId: string): boolean;
  /** Loads layers `range` of an instance on the device's page; the handle runs steps there. */
  openStage(deviceId: string, instanceId: string, range: LayerRange): Promise<StageHandle>;
  /** Called when a page connects or goes. */
  onChange(listener: () => void): void;
}

/** The node a relayed device's profile names as its relay (join/page-profile.ts), if any. */
function relayIn(state: { readonly nodes: Readonly<Record<string, { readonly device?: Readonly<Record<string, unknown>> }>> }, nodeId: string): string | undefined {
  const relay = state.nodes[nodeId]?.device?.["relay"];
  return typeof relay === "string" ? relay : undefined;
}

export class NoInstanceError extends Error {
  override readonly name = "NoInstanceError";
}

/** The model a path or name refers to: a file path as given, else `<modelsDir>/<name>[.gguf]`. */
/** A model's file on this node: a path, a name in the models directory, or `owner/repo[:file]` (models/model-ref.ts). */
export async function resolveModelFile(model: string, modelsDir: string): Promise<string> {
  try {
    return (await resolveModelRef(model, modelsDir)).path;
  } catch (e) {
    throw new Error(`model ${model} is not on this node: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Does `requested` (an OpenAI `model` field) name this instance: its id, its model, or the model's file name? */
export function instanceMatches(instance: Instance, requested: string): boolean {
  if (requested === instance.instanceId || requested === instance.model) return true;
  const base = instance.model.split(/[\\/]/).at(-1)!;
  return requested === base || requested === base.replace(/\.gguf$/i, "");
}

export class RunnerManager {
  private readonly runners = new Map<string, InstanceRunner>();
  private readonly ctx: RunnerContext;
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];
  /** The models this node holds, published to the cluster and served to peers; fetches shards it lacks. */
  readonly holdings: ModelHoldings;
  private relayed: RelayedDevices | undefined;

  constructor(
    readonly node: TesseraNode,
    readonly options: RunnerOptions,
  ) {
    this.holdings = new ModelHoldings(node, options.modelsDir);
    this.ctx = {
      host: node.host,
      nodeId: node.nodeId,
      state: () => node.state,
      propose: (events) => node.propose(events),
      resolveModel: (model, range) => this.holdings.shardFile(model, range),
      threads: options.threads,
      backend: options.backend ?? "cpu",
      ...(options.gpu !== undefined ? { gpu: options.gpu } : {}),
      stepTimeoutMs: options.stepTimeoutMs,
      maxBatch: options.maxBatch,
      routeTo: (nodeId) => relayIn(node.state, nodeId) ?? nodeId,
      relayOf: (nodeId) => relayIn(node.state, nodeId),
      localLink: (link, hello) => this.acceptLink(link, hello),
    };
  }

  /** Lets this node run the stages placed on browser devices that joined through it. */
  attachRelay(relayed: RelayedDevices): void {
    this.relayed = relayed;
    relayed.onChange(() => this.reconcile());
    this.reconcile();
  }

  async start(): Promise<void> {
    const libp2p = this.node.host.node;
    await libp2p.handle(PIPELINE_PROTOCOL, (stream, conn) => this.onPipelineStream(stream, conn), { maxInboundStreams: 256 });
    await libp2p.handle(INFER_PROTOCOL, (stream, conn) => this.onInferStream(stream, conn), { maxInboundStreams: 1024 });
    await this.holdings.start();
    this.unsubscribe.push(this.node.onApplied(() => this.reconcile()));
    this.unsubscribe.push(this.node.host.onPeer((e) => {
      if (!e.connected) for (const r of this.runners.values()) r.peerLost(e.peerId, "its connection closed");
    }));
    this.reconcile();
  }

  runner(instanceId: string): InstanceRunner | undefined {
    return this.runners.get(instanceId);
  }

  /** This node's runners: stage, status, the queue-free compute counters. */
  /** Chaos testing: crashes every stage thread on this node (only with TESSERA_FAULT_INJECTION=1). */
  injectCrash(): void {
    for (const r of this.runners.values()) r.injectCrash();
  }

  describe(): unknown[] {
    return [...this.runners.values()].map((r) => ({
      instance_id: r.id,
      stage: r.stage,
      stages: r.stages,
      layers: [r.slice.start, r.slice.end],
      status: r.status,
      active_sequences: r.activeSequences,
      stats: {
        decode_steps: r.stats.decodeSteps,
        decode_batches: r.stats.decodeBatches,
        largest_batch: r.stats.largestBatch,
        decode_ms: r.stats.decodeMs,
        prompt_tokens: r.stats.promptTokens,
        prompt_ms: r.stats.promptMs,
      },
    }));
  }

  /** Starts runners for new instances of this node and stops those of deleted ones. */
  private reconcile(): void {
    if (this.stopped) return;
    const { instances } = this.node.state;
    for (const inst of Object.values(instances)) {
      if (this.runners.has(inst.instanceId) || !inst.placement.some((p) => p.nodeId === this.node.nodeId)) continue;
      const runner = new InstanceRunner(inst, this.ctx);
      this.runners.set(inst.instanceId, runner);
      void runner.start();
    }
    // A slice on a browser device whose page is connected here: this node runs its runner, the page its layers.
    const relayed = this.relayed;
    for (const inst of relayed ? Object.values(instances) : []) {
      for (const p of inst.placement) {
        const key = `${inst.instanceId}@${p.nodeId}`;
        if (this.runners.has(key) || !relayed!.relays(p.nodeId)) continue;
        const ctx: RunnerContext = { ...this.ctx, nodeId: p.nodeId, openStage: (range) => relayed!.openStage(p.nodeId, inst.instanceId, range) };
        const runner = new InstanceRunner(inst, ctx);
        this.runners.set(key, runner);
        void runner.start();
      }
    }
    for (const [key, runner] of this.runners) {
      // A device's runner also goes when its page does (its stage already reported the loss).
      const pageGone = key !== runner.id && !relayed?.relays(key.slice(runner.id.length + 1));
      if (instances[runner.id] === undefined || pageGone) {
        this.runners.delete(key);
        void runner.close();
      }
    }
  }

  /** The runner of `instanceId`'s stage `stage` here: this node's own, or a relayed device's. */
  private runnerFor(instanceId: string, stage: number): InstanceRunner | undefined {
    for (const r of this.runners.values()) if (r.id === instanceId && r.stage === stage) return r;
    return undefined;
  }

  /** The runner here that takes links from stage `fromStage` (waiting while this node learns of the instance). */
  private async waitForRunner(instanceId: string, fromStage: number): Promise<InstanceRunner | undefined> {
    const deadline = Date.now() + INSTANCE_WAIT_MS;
    while (!this.stopped && Date.now() < deadline) {
      const r = [...this.runners.values()].find((x) => x.id === instanceId && x.stage === (fromStage + 1) % x.stages);
      if (r) return r;
      await new Promise((res) => setTimeout(res, 50));
    }
    return undefined;
  }

  private onPipelineStream(stream: Stream, conn: Connection): void {
    const remote = conn.remotePeer.toString();
    const link = new FramedStream(stream, PipelineFrameSchema, PIPELINE_LIMITS, remote);
    const timer = setTimeout(() => link.abort(new Error("no hello within 10 s")), INSTANCE_WAIT_MS);
    link.onFrame((first: Frame<PipelineFrame>) => {
      link.holdFrames();
      clearTimeout(timer);
      this.acceptLink(link, first.header);
    });
  }

  /** A link's hello names the instance and the sender's stage; the next stage's runner here takes it. */
  private acceptLink(link: FramedStream<PipelineFrame>, hello: LinkHello): void {
    if (hello.kind !== "hello") return link.abort(new Error(`a link must open with hello, not ${hello.kind}`));
    void this.waitForRunner(hello.instanceId, hello.stage).then((runner) => {
      if (!runner) return link.abort(new Error(`instance ${hello.instanceId} has no runner after stage ${hello.stage} on this node`));
      runner.accept(link, hello.stage);
    });
  }

  /** Serves a generate request from another node for an instance whose head runs here. */
  private onInferStream(stream: Stream, conn: Connection): void {
    const link = new FramedStream(stream, InferRequestSchema, { maxHeaderBytes: 32 * 1024 * 1024, maxPayloadBytes: 0 }, conn.remotePeer.toString());
    let seq: string | undefined;
    let runner: InstanceRunner | undefined;
    const send = (event: GenerateEvent) => {
      void link.send(event).then(() => (event.kind === "done" || event.kind === "error" ? link.close() : undefined)).catch(() => undefined);
    };
    link.onClose(() => {
      if (seq !== undefined) runner?.head?.cancel(seq);
    });
    link.onFrame((frame: Frame<InferRequest>) => {
      link.holdFrames();
      runner = this.runnerFor(frame.header.instanceId, 0);
      if (!runner?.head) return send({ kind: "error", message: `this node is not the head of instance ${frame.header.instanceId}` });
      try {
        seq = runner.head.start(frame.header.request, send);
      } catch (e) {
        send({ kind: "error", message: e instanceof Error ? e.message : String(e) });
      }
    });
  }

  /** The instance a request names, if all its runners are ready (or running). */
  findReady(model: string): { instance: Instance } | { error: string; status: number } {
    const state = this.node.state;
    let matches = Object.values(state.instances).filter((i) => instanceMatches(i, model));
    // An instance id that was replaced after a lost stage names its successor.
    if (matches.length === 0) matches = Object.values(state.instances).filter((i) => this.descendsFrom(i, model));
    if (matches.length === 0) return { status: 404, error: `no instance serves model ${model}; create one with POST /instance` };
    for (const instance of matches) {
      const ready = instance.placement.every((p) => {
        const r = state.runners[runnerKey(instance.instanceId, p.nodeId)];
        return r !== undefined && (r.status === "ready" || r.status === "running");
      });
      if (ready) return { instance };
    }
    // Lost a stage and no placement is left (recovery's own verdict): say so now rather than "not ready".
    const strandedBy = planRecovery(state).stranded.find((s) => matches.some((m) => m.instanceId === s.instanceId));
    if (strandedBy) return { status: 507, error: `instance ${strandedBy.instanceId} for ${model} lost a stage and the model no longer fits on the nodes left: ${strandedBy.detail}` };
    const states = matches[0].placement.map((p) => {
      const r = state.runners[runnerKey(matches[0].instanceId, p.nodeId)];
      return `${p.nodeId.slice(-8)}: ${r?.status ?? "unknown"}${r?.error ? ` (${r.error})` : ""}`;
    });
    return { status: 503, error: `instance ${matches[0].instanceId} for ${model} is not ready: ${states.join(", ")}` };
  }

  /**
   * Runs a generation on an instance's head, here or on another node; events go to sink, ending with
   * done or error. Aborting the signal cancels it. When a stage of a solver-placed instance is lost,
   * the request waits for the master's replacement instance and resumes there with the tokens it has
   * (Head.start's `resume`): the sink sees one stream, with a pause.
   */
  async generate(instance: Instance, request: GenerateRequest, sink: GenerateSink, signal: AbortSignal): Promise<void> {
    const produced: number[] = [...(request.resume ?? [])];
    let promptTokens: number | undefined;
    let current = instance;
    const attempt = (inst: Instance): Promise<void> =>
      this.generateOnce(inst, produced.length > 0 ? { ...request, resume: [...produced] } : request, (e) => {
        switch (e.kind) {
          case "start":
            // One start for the client: the prompt as it asked it, not the resumed one.
            if (promptTokens === undefined) {
              promptTokens = e.promptTokens;
              sink(e);
            }
            return;
          case "token":
            produced.push(e.token);
            return sink(e);
          case "done":
            return sink({ ...e, promptTokens: promptTokens ?? e.promptTokens, completionTokens: produced.length });
          case "error":
            if (!e.recoverable || !current.placed || signal.aborted) return sink(e);
            void this.resumeAfterLoss(current, signal).then((next) => {
              if (!next.ok) return sink({ kind: "error", message: `${e.message}; ${next.error}` });
              current = next.instance;
              return attempt(current).catch((err: Error) => sink({ kind: "error", message: err.message }));
            });
            return;
          default:
            return sink(e);
        }
      }, signal);
    await attempt(current);
  }

  /** Waits for the instance that replaces `lost` (following replacements of replacements) to be ready. */
  private async resumeAfterLoss(lost: Instance, signal: AbortSignal): Promise<{ ok: true; instance: Instance } | { ok: false; error: string }> {
    const deadline = Date.now() + RECOVERY_WAIT_MS;
    let goneAt: number | undefined;
    let strandedAt: number | undefined;
    while (!signal.aborted && Date.now() < deadline) {
      // The master's recovery is a pure function of the state this node shares: if it finds no placement
      // here, the master finds none either, and the request can end now with the solver's reason.
      const stranded = planRecovery(this.node.state).stranded.find((x) => x.instanceId === lost.instanceId);
      if (stranded) {
        strandedAt ??= Date.now();
        if (Date.now() - strandedAt > STRANDED_GRACE_MS) return { ok: false, error: `the model no longer fits on the nodes left: ${stranded.detail}` };
      } else {
        strandedAt = undefined;
      }
      let id = lost.instanceId;
      for (let next = this.successor(id); next; next = this.successor(id)) id = next.instanceId;
      if (id !== lost.instanceId) {
        const found = this.findReady(id);
        if ("instance" in found) return { ok: true, instance: found.instance };
      } else if (this.node.state.instances[lost.instanceId] === undefined) {
        // Deleted with no successor (a user's DELETE): give this node's log a moment to catch up, then stop.
        goneAt ??= Date.now();
        if (Date.now() - goneAt > DELETED_GRACE_MS) return { ok: false, error: `instance ${lost.instanceId} was deleted` };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { ok: false, error: `no replacement instance was ready within ${RECOVERY_WAIT_MS / 1000} s (the model may no longer fit; see the master's log)` };
  }

  private descendsFrom(instance: Instance, ancestorId: string): boolean {
    // Replacements are named <base>.r<n> (placement/recovery.ts), and a deleted ancestor leaves no record.
    const base = ancestorId.replace(/\.r\d+$/, "");
    const suffix = instance.instanceId.startsWith(`${base}.r`) ? instance.instanceId.slice(base.length + 2) : "";
    if (/^\d+$/.test(suffix)) return true;
    let id = instance.replaces;
    // The chain is as long as the replacements made; a bound keeps a corrupt log from looping.
    for (let step = 0; id !== undefined && step < 1000; step++) {
      if (id === ancestorId) return true;
      id = this.node.state.instances[id]?.replaces;
    }
    return false;
  }

  private successor(instanceId: string): Instance | undefined {
    return Object.values(this.node.state.instances).find((i) => i.replaces === instanceId);
  }

  private async generateOnce(instance: Instance, request: GenerateRequest, sink: GenerateSink, signal: AbortSignal): Promise<void> {
    const headNode = instance.placement[0].nodeId;
    if (headNode === this.node.nodeId || this.relayed?.relays(headNode)) {
      const runner = this.runnerFor(instance.instanceId, 0);
      if (!runner?.head) throw new NoInstanceError(`instance ${instance.instanceId} has no head on this node yet`);
      const seq = runner.head.start(request, sink);
      signal.addEventListener("abort", () => runner.head!.cancel(seq), { once: true });
      return;
    }
    const stream = await this.node.host.node.dialProtocol(peerIdFromString(relayIn(this.node.state, headNode) ?? headNode), INFER_PROTOCOL, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
    const link = new FramedStream(stream, GenerateEventSchema, INFER_LIMITS, headNode);
    let ended = false;
    const end = (event: GenerateEvent) => {
      if (ended) return;
      ended = true;
      sink(event);
      void link.close();
    };
    link.onFrame((f) => {
      if (ended) return;
      const e = f.header;
      if (e.kind === "done" || e.kind === "error") end(e);
      else sink(e);
    });
    // This node holds the tokens so far, so even the head's loss can be resumed on a replacement.
    link.onClose((r) => end({ kind: "error", message: `lost the instance's head (${headNode}): ${r.error?.message ?? "stream closed"}`, recoverable: true }));
    signal.addEventListener("abort", () => {
      ended = true;
      void link.close();
    }, { once: true });
    await link.send({ kind: "generate", instanceId: instance.instanceId, request } satisfies DeepReadonly<InferRequest>);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    await Promise.all([...this.runners.values()].map((r) => r.close(true)));
    this.runners.clear();
    await this.holdings.stop();
  }
}

