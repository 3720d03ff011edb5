// The transformer forward pass, written against Backend operations only. One model object runs a
// contiguous range of layers (a shard): the first stage also embeds tokens, the last stage also holds the
// final norm and output head. A whole model is the shard [0, layers) with both ends.
import type { Activation, AttentionShape, Backend, KvCache, RopeParams, Weight } from "./backend.js";
import type { ModelConfig } from "./config.js";

export interface LayerWeights {
  readonly attnNorm: Weight;
  readonly wq: Weight;
  readonly wk: Weight;
  readonly wv: Weight;
  readonly wo: Weight;
  readonly bq?: Weight;
  readonly bk?: Weight;
  readonly bv?: Weight;
  readonly qNorm?: Weight;
  readonly kNorm?: Weight;
  readonly ffnNorm: Weight;
  readonly gate: Weight;
  readonly up: Weight;
  readonly down: Weight;
}

export interface ShardWeights {
  /** Present on the first stage. */
  readonly embedding?: Weight;
  /** Present on the last stage: final norm and output projection (the embedding when tied). */
  readonly outputNorm?: Weight;
  readonly output?: Weight;
  readonly layers: readonly LayerWeights[];
  readonly ropeFreqFactors?: Float32Array;
}

export interface LayerRange {
  /** First layer, inclusive. */
  readonly start: number;
  /** Last layer, exclusive. */
  readonly end: number;
}

/** Activation buffers for up to `rows` tokens at once, allocated once per batch size. */
interface Scratch {
  readonly rows: number;
  readonly x: Activation; // rows × dim: the residual stream
  readonly xb: Activation; // rows × dim: normed input of a sub-layer
  readonly q: Activation; // rows × heads × headDim
  readonly k: Activation; // rows × kvHeads × headDim
  readonly v: Activation; // rows × kvHeads × headDim
  readonly att: Activation; // rows × heads × headDim: attention output
  readonly proj: Activation; // rows × dim: output of wo and down, before the residual add
  readonly gate: Activation; // rows × ffn
  readonly up: Activation; // rows × ffn
  readonly last: Activation; // 1 × dim: the row whose logits are wanted
  readonly logits: Activation; // 1 × vocab
}

export class Sequence {
  constructor(readonly cache: KvCache) {}
  /** Tokens (positions) already in this sequence's cache. */
  get length(): number {
    return this.cache.length;
  }
}

export class Transformer {
  private scratch?: Scratch;
  /** One row of q, k, v and attention output: a batch attends row by row, each to its own cache. */
  private rowScratch?: { q: Activation; k: Activation; v: Activation; att: Activation };
  /** rows × vocab logits of a batched decode step. */
  private logitsScratch?: Activation;
  private readonly rope: RopeParams;
  private readonly shape: AttentionShape;

  constructor(
    readonly config: ModelConfig,
    readonly backend: Backend,
    readonly weights: ShardWeights,
    readonly range: LayerRange,
  ) {
    if (weights.layers.length !== range.end - range.start) {
      throw new RangeError(`shard holds ${weights.layers.length} layers but its range is [${range.start}, ${range.end})`);
    }
    this.rope = { ...config.rope, freqFactors: weights.ropeFreqFactors };
    this.shape = { heads: config.heads, kvHeads: config.kvHeads, headDim: config.headDim };
  }

  get isFirst(): boolean {
    return this.weights.embedding !== undefined;
  }

  get isLast(): boolean {
    return this.weights.output !== undefined;
  }

  newSequence(capacity = this.config.contextLength): Sequence {
    const kvDim = this.config.kvHeads * this.config.headDim;
    return new Sequence(this.backend.createKvCache(this.weights.layers.length, capacity, kvDim));
  }

  private scratchFor(rows: number): Scratch {
    if (this.scratch && this.scratch.rows >= rows) return this.scratch;
    const { dim, heads, kvHeads, headDim, ffn, vocab } = this.config;
    const b = this.backend;
    this.scratch = {
      rows,
      x: b.alloc(rows * dim),
      xb: b.alloc(rows * dim),
      q: b.alloc(rows * heads * headDim),
      k: b.alloc(rows * kvHeads * headDim),
      v: b.alloc(rows * kvHeads * headDim),
      att: b.alloc(rows * heads * headDim),
      proj: b.alloc(rows * dim),
      gate: b.alloc(rows * ffn),
      up: b.alloc(rows * ffn),
      last: b.alloc(dim),
      logits: b.alloc(vocab),
    };
    return this.scratch;
  }

  /**
   * Runs a chunk of tokens through this shard and appends them to the sequence.
   * input: token ids on the first stage, or nTok × dim hidden states from the previous stage.
   * Returns the logits of the chunk's last token on the last stage, else the chunk's hidden states.
   */
  async forward(input: readonly number[] | Float32Array, nTok: number, seq: Sequence): Promise<Float32Array> {
    const { dim, vocab, rmsEps } = this.config;
    const b = this.backend;
    const s = this.scratchFor(nTok);
    const start = seq.cache.length;
    this.loadInput(input, nTok, s);
    const positions = Array.from({ length: nTok }, (_, i) => start + i);
    this.layers(s, nTok, positions, (l) => b.attention(s.q, s.k, s.v, seq.cache, l, nTok, this.shape, s.att));
    seq.cache.length = start + nTok;

    if (!this.weights.output || !this.weights.outputNorm) return b.read(s.x, nTok * dim);
    // Only the last row is normed and projected; a one-row chunk needs no copy to get it.
    if (nTok > 1) b.copy(s.x, (nTok - 1) * dim, s.last, 0, dim);
    b.rmsnorm(nTok > 1 ? s.last : s.x, this.weights.outputNorm, 1, dim, rmsEps, s.xb);
    b.matmul(this.weights.output, s.xb, 1, s.logits);
    return b.read(s.logits, vocab);
  }

  /**
   * One decode step for several sequences at once: every weight is read once for all of them, while
   * each row attends only to its own sequence's cache. Row i's result is exactly what forward() gives
   * for that sequence alone (the kernels compute every row independently, in the same order).
   * inputs[i]: a token id on the first stage, or one dim-wide hidden state.
   * Returns, per sequence, its logits on the last stage, else its hidden state.
   */
  async forwardBatch(steps: readonly { readonly input: number | Float32Array; readonly seq: Sequence }[]): Promise<Float32Array[]> {
    const n = steps.length;
    if (n === 0) return [];
    if (new Set(steps.map((st) => st.seq)).size !== n) throw new RangeError("a batch holds each sequence at most once");
    const { dim, heads, kvHeads, headDim, vocab, rmsEps } = this.config;
    const b = this.backend;
    const s = this.scratchFor(n);
    const row = this.singleRow();
    if (this.weights.embedding) {
      const ids = steps.map((st) => st.input);
      if (!ids.every((id): id is number => typeof id === "number")) throw new TypeError("the first stage takes token ids");
      this.loadInput(ids, n, s);
    } else {
      const rows = new Float32Array(n * dim);
      steps.forEach((st, i) => {
        if (!(st.input instanceof Float32Array) || st.input.length !== dim) throw new TypeError(`this stage takes 1 × ${dim} hidden states`);
        rows.set(st.input, i * dim);
      });
      this.loadInput(rows, n, s);
    }
    const qw = heads * headDim;
    const kw = kvHeads * headDim;
    this.layers(s, n, steps.map((st) => st.seq.cache.length), (l) => {
      steps.forEach((st, i) => {
        b.copy(s.q, i * qw, row.q, 0, qw);
        b.copy(s.k, i * kw, row.k, 0, kw);
        b.copy(s.v, i * kw, row.v, 0, kw);
        b.attention(row.q, row.k, row.v, st.seq.cache, l, 1, this.shape, row.att);
        b.copy(row.att, 0, s.att, i * qw, qw);
      });
    });
    for (const st of steps) st.seq.cache.length += 1;

    if (!this.weights.output || !this.weights.outputNorm) {
      const x = await b.read(s.x, n * dim);
      return steps.map((_, i) => x.slice(i * dim, (i + 1) * dim));
    }
    const logits = this.batchLogits(n);
    b.rmsnorm(s.x, this.weights.outputNorm, n, dim, rmsEps, s.xb);
    b.matmul(this.weights.output, s.xb, n, logits);
    const all = await b.read(logits, n * vocab);
    return steps.map((_, i) => all.slice(i * vocab, (i + 1) * vocab));
  }

  private singleRow(): { q: Activation; k: Activation; v: Activation; att: Activation } {
    const { heads, kvHeads, headDim } = this.config;
    this.rowScratch ??= {
      q: this.backend.alloc(heads * headDim),
      k: this.backend.alloc(kvHeads * headDim),
      v: this.backend.alloc(kvHeads * headDim),
      att: this.backend.alloc(heads * headDim),
    };
    return this.rowScratch;
  }

  private batchLogits(rows: number): Activation {
    const need = rows * this.config.vocab;
    if (!this.logitsScratch || this.logitsScratch.elements < need) this.logitsScratch = this.backend.alloc(need);
    return this.logitsScratch;
  }

  private loadInput(input: readonly number[] | Float32Array, nTok: number, s: Scratch): void {
    const dim = this.config.dim;
    if (this.weights.embedding) {
      if (input instanceof Float32Array) throw new TypeError("the first stage takes token ids");
      if (input.length !== nTok) throw new TypeError(`expected ${nTok} token ids, got ${input.length}`);
      this.backend.embed(this.weights.embedding, input, s.x);
    } else {
      if (!(input instanceof Float32Array) || input.length !== nTok * dim) throw new TypeError(`this stage takes ${nTok} × ${dim} hidden states`);
      this.backend.write(s.x, input);
    }
  }

  /** Every layer of the shard over nTok rows of s.x; `attend(l)` fills s.att from s.q, s.k, s.v. */
  private layers(s: Scratch, nTok: number, positions: readonly number[], attend: (layer: number) => void): void {
    const { dim, heads, kvHeads, headDim, ffn, rmsEps } = this.config;
    const b = this.backend;
    this.weights.layers.forEach((lw, l) => {
      // Attention sub-layer.
      b.rmsnorm(s.x, lw.attnNorm, nTok, dim, rmsEps, s.xb);
      if (!b.matmulEach?.([lw.wq, lw.wk, lw.wv], s.xb, nTok, [s.q, s.k, s.v])) {
        b.matmul(lw.wq, s.xb, nTok, s.q);
        b.matmul(lw.wk, s.xb, nTok, s.k);
        b.matmul(lw.wv, s.xb, nTok, s.v);
      }
      if (lw.bq && lw.bk && lw.bv) {
        b.addBias(s.q, lw.bq, nTok);
        b.addBias(s.k, lw.bk, nTok);
        b.addBias(s.v, lw.bv, nTok);
      }
      if (lw.qNorm && lw.kNorm) {
        b.rmsnorm(s.q, lw.qNorm, nTok * heads, headDim, rmsEps, s.q);
        b.rmsnorm(s.k, lw.kNorm, nTok * kvHeads, headDim, rmsEps, s.k);
      }
      if (!b.ropeQk?.(s.q, s.k, nTok, heads, kvHeads, headDim, positions, this.rope)) {
        b.rope(s.q, nTok, heads, headDim, positions, this.rope);
        b.rope(s.k, nTok, kvHeads, headDim, positions, this.rope);
      }
      attend(l);
      if (!b.matmulAdd?.(lw.wo, s.att, nTok, s.x)) {
        b.matmul(lw.wo, s.att, nTok, s.proj);
        b.add(s.x, s.proj, nTok * dim);
      }

      // Feed-forward sub-layer (SwiGLU).
      b.rmsnorm(s.x, lw.ffnNorm, nTok, dim, rmsEps, s.xb);
      if (!b.matmulSwiGlu?.(lw.gate, lw.up, s.xb, nTok, s.gate)) {
        b.matmul(lw.gate, s.xb, nTok, s.gate);
        b.matmul(lw.up, s.xb, nTok, s.up);
        b.siluMul(s.gate, s.up, nTok * ffn);
      }
      if (!b.matmulAdd?.(lw.down, s.gate, nTok, s.x)) {
        b.matmul(lw.down, s.gate, nTok, s.proj);
        b.add(s.x, s.proj, nTok * dim);
      }
    });
  }
}
