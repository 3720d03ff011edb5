// The optimal contiguous layer split for a fixed ordered chain of devices, as a dynamic programme over
// layers. Row j holds, for every l, the least streaming time for layers [0, l) on the chain's first j+1
// devices. A stage's time is (W[l] − W[m]) / rate, so row j is a sliding-window minimum of
// row[j−1][m] − W[m] / rate over the m whose layers [m, l) fit in device j's memory; that window only
// moves right as l grows, so a monotonic deque gives each row in O(layers) and a chain in
// O(devices × layers). The solver's exhaustive search extends these rows one device at a time.
import type { ModelNeeds } from "./types.js";

/** The numbers the DP needs, computed once per solve. Every byte count is a whole number. */
export interface SplitContext {
  readonly layers: number;
  /** W[l]: weight bytes of layers [0, l). */
  readonly streamPrefix: Float64Array;
  /** M[l]: weight + KV-cache bytes of layers [0, l). */
  readonly memPrefix: Float64Array;
  readonly embeddingBytes: number;
  readonly outputBytes: number;
  readonly tiedHeadBytes: number;
  readonly sharedBytes: number;
}

/** A chain member as the DP sees it: its derated rate and whole bytes it may fill. */
export interface SplitDevice {
  readonly rate: number;
  readonly capacity: number;
}

export function splitContext(n: ModelNeeds): SplitContext {
  const L = n.layers;
  const w = new Float64Array(L + 1);
  const m = new Float64Array(L + 1);
  const kvPerLayer = n.kvBytesPerTokenPerLayer * n.contextLength * n.sequences;
  for (let l = 0; l < L; l++) {
    w[l + 1] = w[l]! + n.layerBytes[l]!;
    m[l + 1] = m[l]! + n.layerBytes[l]! + kvPerLayer;
  }
  return {
    layers: L,
    streamPrefix: w,
    memPrefix: m,
    embeddingBytes: n.embeddingBytes,
    outputBytes: n.outputBytes,
    tiedHeadBytes: n.tiedHeadBytes,
    sharedBytes: n.sharedBytes,
  };
}

/** Row of the first device of a longer chain: layers [0, l) on it, when they fit. True if any fits. */
export function firstRow(ctx: SplitContext, d: SplitDevice, out: Float64Array): boolean {
  const { streamPrefix: W, memPrefix: M } = ctx;
  const avail = d.capacity - ctx.sharedBytes - ctx.embeddingBytes;
  out[0] = Infinity;
  for (let l = 1; l <= ctx.layers; l++) out[l] = M[l]! <= avail ? W[l]! / d.rate : Infinity;
  return ctx.layers >= 1 && M[1]! <= avail;
}

/**
 * Row of a middle device at chain position `position` (≥ 1): out[l] = min over feasible m of
 * prev[m] + (W[l] − W[m]) / rate; arg[l] = that m (−1 when none). True if any l is reachable.
 * `dq` is scratch of at least layers + 1 entries.
 */
export function middleRow(
  ctx: SplitContext,
  prev: Float64Array,
  position: number,
  d: SplitDevice,
  out: Float64Array,
  arg: Int32Array,
  dq: Int32Array = new Int32Array(ctx.layers + 1),
): boolean {
  const { streamPrefix: W, memPrefix: M } = ctx;
  const L = ctx.layers;
  const avail = d.capacity - ctx.sharedBytes;
  const r = d.rate;
  let any = false;
  let head = 0;
  let tail = 0;
  for (let l = 0; l <= position && l <= L; l++) {
    out[l] = Infinity;
    arg[l] = -1;
  }
  for (let l = position + 1; l <= L; l++) {
    const m = l - 1;
    if (prev[m]! < Infinity) {
      const v = prev[m]! - W[m]! / r;
      while (tail > head && prev[dq[tail - 1]!]! - W[dq[tail - 1]!]! / r >= v) tail--;
      dq[tail++] = m;
    }
    while (tail > head && M[l]! - M[dq[head]!]! > avail) head++;
    if (tail > head) {
      const best = dq[head]!;
      out[l] = prev[best]! + (W[l]! - W[best]!) / r;
      arg[l] = best;
      any = true;
    } else {
      out[l] = Infinity;
      arg[l] = -1;
    }
  }
  return any;
}

/** The last device closes the chain at layer L, holding and streaming the output head. */
export function lastValue(ctx: SplitContext, prev: Float64Array, d: SplitDevice): { value: number; start: number } {
  const { streamPrefix: W, memPrefix: M } = ctx;
  const L = ctx.layers;
  const avail = d.capacity - ctx.sharedBytes - ctx.outputBytes;
  let value = Infinity;
  let start = -1;
  // Walking m down from L − 1, the stage only grows, so stop at the first m that does not fit.
  for (let m = L - 1; m >= 1 && M[L]! - M[m]! <= avail; m--) {
    if (prev[m]! === Infinity) continue;
    const v = prev[m]! + (W[L]! - W[m]! + ctx.outputBytes) / d.rate;
    if (v < value) {
      value = v;
      start = m;
    }
  }
  return { value, start };
}

/** One device holding everything (its embedding doubles as a tied head, so that is held once). */
export function singleValue(ctx: SplitContext, d: SplitDevice): number {
  const need = ctx.memPrefix[ctx.layers]! + ctx.sharedBytes + ctx.embeddingBytes + ctx.outputBytes - ctx.tiedHeadBytes;
  return need <= d.capacity ? (ctx.streamPrefix[ctx.layers]! + ctx.outputBytes) / d.rate : Infinity;
}

/** Reusable buffers for bestSplit, so a search that scores thousands of chains does not allocate. */
export class SplitScratch {
  readonly rows: Float64Array[] = [];
  readonly args: Int32Array[] = [];
  readonly dq: Int32Array;
  constructor(readonly layers: number) {
    this.dq = new Int32Array(layers + 1);
  }
  row(j: number): Float64Array {
    while (this.rows.length <= j) this.rows.push(new Float64Array(this.layers + 1));
    return this.rows[j]!;
  }
  arg(j: number): Int32Array {
    while (this.args.length <= j) this.args.push(new Int32Array(this.layers + 1).fill(-1));
    return this.args[j]!;
  }
}

/**
 * The best split of all layers over `chain` in order, every device taking at least one layer:
 * streaming seconds per token and each stage's end layer; undefined when no split fits.
 */
export function bestSplit(ctx: SplitContext, chain: readonly SplitDevice[], scratch = new SplitScratch(ctx.layers)): { seconds: number; ends: number[] } | undefined {
  const k = chain.length;
  if (k === 0 || k > ctx.layers) return undefined;
  if (k === 1) {
    const s = singleValue(ctx, chain[0]!);
    return s < Infinity ? { seconds: s, ends: [ctx.layers] } : undefined;
  }
  if (!firstRow(ctx, chain[0]!, scratch.row(0))) return undefined;
  for (let j = 1; j < k - 1; j++) {
    if (!middleRow(ctx, scratch.row(j - 1), j, chain[j]!, scratch.row(j), scratch.arg(j), scratch.dq)) return undefined;
  }
  const last = lastValue(ctx, scratch.row(k - 2), chain[k - 1]!);
  if (last.value === Infinity) return undefined;
  return { seconds: last.value, ends: traceEnds(scratch.args, k, ctx.layers, last.start) };
}

/** Stage end layers from the DP's argmins: the last stage starts at `lastStart`. */
export function traceEnds(args: readonly Int32Array[], k: number, layers: number, lastStart: number): number[] {
  const ends = new Array<number>(k);
  ends[k - 1] = layers;
  if (k >= 2) ends[k - 2] = lastStart;
  for (let j = k - 2; j >= 1; j--) ends[j - 1] = args[j]![ends[j]!]!;
  return ends;
}
