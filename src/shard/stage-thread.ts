// The node's handle on a stage running in a worker thread (stage-worker.ts). Steps go in, outputs come
// back in the same order; hidden states are transferred, not copied.
import { Worker } from "node:worker_threads";
import type { BackendChoice } from "../engine/backends/select.js";
import type { LayerRange } from "../engine/model.js";
import type { StageOutput, StageStep } from "./stage.js";

export interface StageThreadInit {
  readonly modelPath: string;
  readonly range: LayerRange;
  readonly threads: number;
  /** Engine backend for this stage (default cpu); see engine/backends/select.ts. */
  readonly backend?: BackendChoice;
  readonly gpu?: number;
}

export type ToStage =
  | { readonly kind: "run"; readonly id: number; readonly steps: readonly StageStep[] }
  | { readonly kind: "free"; readonly seq: string }
  | { readonly kind: "crash" }
  | { readonly kind: "close" };

export type FromStage =
  | { readonly kind: "loaded"; readonly weightBytes: number }
  | { readonly kind: "load-failed"; readonly message: string }
  | { readonly kind: "ran"; readonly id: number; readonly outputs: StageOutput[] }
  | { readonly kind: "closed" };

export class StageThread {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (o: StageOutput[]) => void; reject: (e: Error) => void }>();
  private dead: Error | undefined;
  private weights = 0;
  private closing = false;
  private readonly deathListeners: ((e: Error) => void)[] = [];
  private readonly loaded: Promise<void>;

  private constructor(private readonly worker: Worker) {
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    this.loaded = new Promise((resolve, reject) => (settle = { resolve, reject }));
    // One set of listeners for the thread's whole life: Node stops delivering a worker's messages
    // once its last 'message' listener is removed, so they are never swapped.
    worker.on("message", (msg: FromStage) => {
      if (msg.kind === "loaded") {
        this.weights = msg.weightBytes;
        settle.resolve();
      } else if (msg.kind === "load-failed") {
        settle.reject(new Error(msg.message));
      } else if (msg.kind === "ran") {
        const w = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        w?.resolve(msg.outputs);
      }
    });
    const die = (e: Error) => {
      const first = this.dead === undefined;
      this.dead ??= e;
      if (first && !this.closing) for (const l of this.deathListeners) l(e);
      settle.reject(e);
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    worker.on("error", die);
    worker.on("exit", (code) => die(new Error(`stage thread exited (code ${code})`)));
  }

  /** Why the thread died, once it has. */
  get deathReason(): string | undefined {
    return this.dead?.message;
  }

  /** Called once if the thread dies other than by close(): a crash, an uncaught error, running out of memory. */
  onDeath(listener: (e: Error) => void): void {
    if (this.dead && !this.closing) listener(this.dead);
    else this.deathListeners.push(listener);
  }

  get weightBytes(): number {
    return this.weights;
  }

  /** Starts the thread and waits until its shard is loaded; rejects with the loader's error. */
  static async start(init: StageThreadInit): Promise<StageThread> {
    const thread = new StageThread(new Worker(new URL("./stage-worker.js", import.meta.url), { workerData: init }));
    try {
      await thread.loaded;
      return thread;
    } catch (e) {
      await thread.worker.terminate();
      throw e;
    }
  }

  run(steps: readonly StageStep[]): Promise<StageOutput[]> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const transfer = steps.flatMap((s) => (s.input instanceof Float32Array ? [s.input.buffer as ArrayBuffer] : []));
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ kind: "run", id, steps } satisfies ToStage, transfer);
    });
  }

  /** Chaos testing: asks the thread to crash (it does only when TESSERA_FAULT_INJECTION=1). */
  injectCrash(): void {
    if (!this.dead) this.worker.postMessage({ kind: "crash" } satisfies ToStage);
  }

  free(seq: string): void {
    if (!this.dead) this.worker.postMessage({ kind: "free", seq } satisfies ToStage);
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
    this.worker.postMessage({ kind: "close" } satisfies ToStage);
    const timer = setTimeout(() => void this.worker.terminate(), 5_000);
    await closed;
    clearTimeout(timer);
  }
}
