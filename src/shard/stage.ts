// One pipeline stage's compute: a shard's Transformer plus the state of every sequence passing
// through it (its KV cache and, on the last stage, its sampler and token history). It knows nothing of
// the network: the runner feeds it steps and routes what comes out. A batch of decode steps (one token
// each, different sequences) runs as one pass over the weights.
import type { Sequence, Transformer } from "../engine/model.js";
import { Sampler } from "../engine/sampler.js";
import type { SequenceOpen } from "./protocol.js";

export interface StageStep {
  readonly seq: string;
  /** Position of the step's first token; must equal what this stage holds for the sequence. */
  readonly pos: number;
  readonly nTok: number;
  /** Token ids on the first stage, nTok × dim hidden states elsewhere. */
  readonly input: readonly number[] | Float32Array;
  /** Sample after this step (last stage only). */
  readonly sample: boolean;
  readonly open?: SequenceOpen;
}

export type StageOutput =
  | { readonly seq: string; readonly kind: "hidden"; readonly hidden: Float32Array }
  | { readonly seq: string; readonly kind: "token"; readonly token: number; readonly pos: number }
  /** The last stage ran a prompt chunk that needs no sample. */
  | { readonly seq: string; readonly kind: "none" }
  | { readonly seq: string; readonly kind: "error"; readonly message: string };

interface StageSequence {
  readonly seq: Sequence;
  readonly sampler?: Sampler;
  readonly history: number[];
}

export class Stage {
  private readonly sequences = new Map<string, StageSequence>();

  constructor(readonly transformer: Transformer) {}

  get activeSequences(): number {
    return this.sequences.size;
  }

  /**
   * Runs steps of distinct sequences. Several single-token steps run as one batch; anything else runs
   * one step at a time. A step that cannot run (unknown sequence, wrong position, bad input) yields an
   * error output for its sequence and does not disturb the others.
   */
  async run(steps: readonly StageStep[]): Promise<StageOutput[]> {
    const ready: { step: StageStep; state: StageSequence }[] = [];
    const outputs = new Map<StageStep, StageOutput>();
    for (const step of steps) {
      const checked = this.admit(step);
      if (typeof checked === "string") outputs.set(step, { seq: step.seq, kind: "error", message: checked });
      else ready.push({ step, state: checked });
    }
    const batchable = ready.length > 1 && ready.every((r) => r.step.nTok === 1) && new Set(ready.map((r) => r.step.seq)).size === ready.length;
    if (batchable) {
      try {
        const results = await this.transformer.forwardBatch(ready.map((r) => ({ input: this.single(r.step), seq: r.state.seq })));
        ready.forEach((r, i) => outputs.set(r.step, this.after(r.step, r.state, results[i])));
      } catch (e) {
        for (const r of ready) outputs.set(r.step, this.fail(r.step, e));
      }
    } else {
      for (const r of ready) {
        try {
          const result = await this.transformer.forward(r.step.input, r.step.nTok, r.state.seq);
          outputs.set(r.step, this.after(r.step, r.state, result));
        } catch (e) {
          outputs.set(r.step, this.fail(r.step, e));
        }
      }
    }
    return steps.map((s) => outputs.get(s)!);
  }

  /** Forgets a sequence (its cache is garbage once dropped). */
  free(seq: string): void {
    this.sequences.delete(seq);
  }

  /** The sequence state a step may run on, or why it may not. A refused step opens nothing. */
  private admit(step: StageStep): StageSequence | string {
    const known = this.sequences.get(step.seq);
    if (step.open && known) return `sequence ${step.seq} is already open`;
    if (step.open && step.pos !== 0) return `sequence ${step.seq} opens at position ${step.pos}, not 0`;
    if (!step.open && !known) return `sequence ${step.seq} is unknown to this stage`;
    const capacity = step.open ? Math.min(step.open.capacity, this.transformer.config.contextLength) : known!.seq.cache.capacity;
    const length = known?.seq.length ?? 0;
    if (step.pos !== length) return `sequence ${step.seq}: step at position ${step.pos}, but this stage holds ${length}`;
    if (step.pos + step.nTok > capacity) return `sequence ${step.seq}: ${step.pos + step.nTok} positions exceed its ${capacity}-token context`;
    const bad = this.badInput(step);
    if (bad) return `sequence ${step.seq}: ${bad}`;
    if (known) return known;
    const opened: StageSequence = {
      seq: this.transformer.newSequence(capacity),
      sampler: this.transformer.isLast ? new Sampler(step.open!.sampler) : undefined,
      history: this.transformer.isLast ? [...step.open!.history] : [],
    };
    this.sequences.set(step.seq, opened);
    return opened;
  }

  private badInput(step: StageStep): string | undefined {
    const { input, nTok } = step;
    if (this.transformer.isFirst !== !(input instanceof Float32Array)) return this.transformer.isFirst ? "the first stage takes token ids" : "this stage takes hidden states";
    if (!(input instanceof Float32Array)) return input.length === nTok ? undefined : `expected ${nTok} token ids, got ${input.length}`;
    const want = nTok * this.transformer.config.dim;
    if (input.length !== want) return `expected ${want} hidden values, got ${input.length}`;
    for (let i = 0; i < input.length; i++) if (!Number.isFinite(input[i])) return `hidden state holds a non-finite value at ${i}`;
    return undefined;
  }

  private single(step: StageStep): number | Float32Array {
    return step.input instanceof Float32Array ? step.input : step.input[0];
  }

  private after(step: StageStep, state: StageSequence, result: Float32Array): StageOutput {
    if (!this.transformer.isLast) return { seq: step.seq, kind: "hidden", hidden: result };
    if (!step.sample) return { seq: step.seq, kind: "none" };
    const token = state.sampler!.sample(result, state.history);
    state.history.push(token);
    return { seq: step.seq, kind: "token", token, pos: step.pos + step.nTok };
  }

  private fail(step: StageStep, e: unknown): StageOutput {
    // A forward pass that threw may have left the cache half-written: the sequence cannot go on.
    this.sequences.delete(step.seq);
    return { seq: step.seq, kind: "error", message: e instanceof Error ? e.message : String(e) };
  }
}
