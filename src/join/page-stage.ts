// A stage whose layers run in a browser page: the runner on the relay node drives it like a worker
// thread (run, free, close), and it forwards each batch over the page's WebSocket. Token ids go in the
// message header; hidden states, both ways, in the payload as f32. The page's answers are checked
// against what was asked (same sequences, in order, with whole hidden states) before they are used.
import type { LayerRange } from "../engine/model.js";
import type { StageHandle } from "../runtime/runner.js";
import type { StageOutput, StageStep } from "../shard/stage.js";
import { bytesToF32, f32ToBytes } from "./frame-codec.js";
import type { PageMessage } from "./messages.js";
import type { PageSession } from "./page-session.js";

/** How long a page may take to fetch and load its layers. */
const LOAD_TIMEOUT_MS = 300_000;

export class PageStageError extends Error {
  override readonly name = "PageStageError";
}

export class PageStage implements StageHandle {
  private nextId = 1;
  private readonly waiting = new Map<number, { readonly steps: readonly StageStep[]; resolve: (o: StageOutput[]) => void; reject: (e: Error) => void }>();
  private dead: Error | undefined;
  private closed = false;
  private readonly deathListeners: ((e: Error) => void)[] = [];

  private constructor(private readonly session: PageSession, private readonly instanceId: string) {
    session.onMessage((msg, payload) => this.onMessage(msg, payload));
    session.onClose((why) => this.die(new PageStageError(`the browser device's page went away: ${why}`)));
  }

  /** Asks the page to load layers `range` of the instance's model (from this node) and waits until it has. */
  static async open(session: PageSession, instanceId: string, model: string, range: LayerRange): Promise<PageStage> {
    const stage = new PageStage(session, instanceId);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new PageStageError(`the page did not load its layers within ${LOAD_TIMEOUT_MS / 1000} s`)), LOAD_TIMEOUT_MS);
      timer.unref();
      stage.loadWaiter = {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      session.send({ kind: "load", instanceId, model: model.slice(-256), start: range.start, end: range.end });
    });
    return stage;
  }

  private loadWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;

  get deathReason(): string | undefined {
    return this.dead?.message;
  }

  onDeath(listener: (e: Error) => void): void {
    this.deathListeners.push(listener);
  }

  run(steps: readonly StageStep[]): Promise<StageOutput[]> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const hidden: Float32Array[] = [];
    const wire = steps.map((s) => {
      const base = { seq: s.seq, pos: s.pos, nTok: s.nTok, sample: s.sample, ...(s.open ? { open: s.open } : {}) };
      if (s.input instanceof Float32Array) {
        hidden.push(s.input);
        return base;
      }
      return { ...base, tokens: [...s.input] };
    });
    const all = new Float32Array(hidden.reduce((n, h) => n + h.length, 0));
    let at = 0;
    for (const h of hidden) {
      all.set(h, at);
      at += h.length;
    }
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { steps, resolve, reject });
      this.session.send({ kind: "run", instanceId: this.instanceId, id, steps: wire }, f32ToBytes(all));
    });
  }

  free(seq: string): void {
    if (!this.dead) this.session.send({ kind: "free", instanceId: this.instanceId, seq });
  }

  /** Chaos testing: a crashed page is a closed one. */
  injectCrash(): void {
    this.session.end("crash injected");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.dead && this.session.isOpen) this.session.send({ kind: "unload", instanceId: this.instanceId });
    this.die(new PageStageError("the stage was closed"), false);
  }

  /** Throws on an answer that does not fit the question: the session ends (PageSession catches it). */
  private onMessage(msg: PageMessage, payload: Uint8Array): void {
    if (!("instanceId" in msg) || msg.instanceId !== this.instanceId) return;
    if (msg.kind === "loaded") return this.loadWaiter?.resolve();
    if (msg.kind === "load-failed") return this.loadWaiter?.reject(new PageStageError(`the page could not load its layers: ${msg.message}`));
    if (msg.kind !== "ran") return;
    const waiting = this.waiting.get(msg.id);
    if (!waiting) throw new PageStageError(`an answer to batch ${msg.id}, which was not asked`);
    this.waiting.delete(msg.id);
    const { steps } = waiting;
    if (msg.outputs.length !== steps.length || msg.outputs.some((o, i) => o.seq !== steps[i].seq)) throw new PageStageError("an answer for other sequences than were asked");
    const values = bytesToF32(payload);
    let at = 0;
    const outputs: StageOutput[] = msg.outputs.map((o) => {
      if (o.kind !== "hidden") return o;
      const hidden = values.slice(at, at + o.values);
      at += o.values;
      if (hidden.length !== o.values) throw new PageStageError("hidden states shorter than announced");
      return { seq: o.seq, kind: "hidden", hidden };
    });
    if (at !== values.length) throw new PageStageError(`${values.length - at} hidden values more than announced`);
    waiting.resolve(outputs);
  }

  private die(e: Error, announce = true): void {
    if (this.dead) return;
    this.dead = e;
    this.loadWaiter?.reject(e);
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
    if (announce && !this.closed) for (const l of this.deathListeners) l(e);
  }
}
