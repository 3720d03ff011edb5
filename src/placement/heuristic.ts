// The search for clusters too large to enumerate: every single device, then a chain grown greedily in
// order of derated rate (each device inserted where it helps most, kept only if it helps, or while the
// model does not fit yet), then best-improvement local search (remove, insert, replace, swap) until no
// move helps. Each candidate chain is scored with the exact split DP, so only the choice and order of
// devices is heuristic. Its measured gap to the optimum is in docs/placement.md and brute-force.test.ts.
import { better, hop, type Chain, type SearchProblem } from "./search.js";
import { bestSplit, SplitScratch } from "./split.js";

/** Upper bound on local-search rounds; each round must strictly improve, so this is a safety net. */
const MAX_ROUNDS = 200;
/** Local search also starts from each of this many fastest devices alone. */
const MULTI_STARTS = 4;

/** The chain in this order with its best split and hops, or undefined if it cannot run. */
export function evaluateChain(p: SearchProblem, order: readonly number[], scratch?: SplitScratch): Chain | undefined {
  if (order.length < p.minNodes || order.length > p.maxNodes) return undefined;
  let hops = 0;
  for (let i = 0; i + 1 < order.length; i++) {
    const h = hop(p, order[i]!, order[i + 1]!, p.hopBytes);
    if (h === undefined) return undefined;
    hops += h;
  }
  if (order.length > 1) {
    const back = hop(p, order[order.length - 1]!, order[0]!, p.returnBytes);
    if (back === undefined) return undefined;
    hops += back;
  }
  const split = bestSplit(p.ctx, order.map((i) => p.cands[i]!), scratch);
  return split ? { order: [...order], seconds: hops + split.seconds, ends: split.ends } : undefined;
}

function withInserted(order: readonly number[], at: number, x: number): number[] {
  return [...order.slice(0, at), x, ...order.slice(at)];
}

/** All chains one move away from `order`: remove, insert, replace, relocate or swap one device. */
function* neighbours(p: SearchProblem, order: readonly number[]): Generator<number[]> {
  const inChain = new Set(order);
  const unused = p.cands.map((c) => c.index).filter((i) => !inChain.has(i));
  const k = order.length;
  if (k > p.minNodes) for (let i = 0; i < k; i++) yield [...order.slice(0, i), ...order.slice(i + 1)];
  if (k < p.maxNodes) for (const u of unused) for (let at = 0; at <= k; at++) yield withInserted(order, at, u);
  for (let i = 0; i < k; i++) {
    for (const u of unused) {
      const o = [...order];
      o[i] = u;
      yield o;
    }
  }
  for (let i = 0; i < k; i++) {
    const without = [...order.slice(0, i), ...order.slice(i + 1)];
    for (let at = 0; at < k; at++) if (at !== i && at !== i - 1) yield withInserted(without, at, order[i]!);
  }
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const o = [...order];
      o[i] = order[j]!;
      o[j] = order[i]!;
      yield o;
    }
  }
}

/**
 * How far an order is from running: 0 when it runs; otherwise 1 + 1e15 per missing link or missing
 * node + the bytes its devices lack in total, so local search can walk from a broken chain to one that runs.
 */
function penalty(p: SearchProblem, order: readonly number[]): number {
  let broken = Math.max(0, p.minNodes - order.length) + Math.max(0, order.length - p.maxNodes);
  for (let i = 0; i + 1 < order.length; i++) if (hop(p, order[i]!, order[i + 1]!, 0) === undefined) broken++;
  if (order.length > 1 && hop(p, order[order.length - 1]!, order[0]!, 0) === undefined) broken++;
  const { ctx } = p;
  const need = ctx.memPrefix[ctx.layers]! + ctx.sharedBytes + ctx.embeddingBytes + ctx.outputBytes - ctx.tiedHeadBytes;
  const room = order.reduce((s, i) => s + p.cands[i]!.capacity, 0);
  return 1 + broken * 1e15 + Math.max(0, need - room);
}

interface Scored {
  readonly order: readonly number[];
  readonly chain: Chain | undefined;
  readonly penalty: number;
}

/** Scores seen in this search, by order (the descents from several starts revisit many chains), and DP buffers. */
interface Memo {
  readonly seen: Map<string, Scored>;
  readonly scratch: SplitScratch;
}

function scored(p: SearchProblem, order: readonly number[], memo: Memo): Scored {
  const key = order.join(",");
  const seen = memo.seen.get(key);
  if (seen) return seen;
  const chain = evaluateChain(p, order, memo.scratch);
  const s = { order, chain, penalty: chain ? 0 : penalty(p, order) };
  memo.seen.set(key, s);
  return s;
}

/** Strictly better: runs where the other does not, or is faster, or is nearer to running. */
function improves(a: Scored, b: Scored): boolean {
  if (a.chain && b.chain) return a.chain.seconds < b.chain.seconds * (1 - 1e-12);
  return a.penalty < b.penalty;
}

/** Best-improvement descent over neighbours() until no move improves (or MAX_ROUNDS). */
function descend(p: SearchProblem, from: Scored, memo: Memo): Scored {
  let here = from;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let move: Scored | undefined;
    for (const o of neighbours(p, here.order)) {
      const s = scored(p, o, memo);
      if (!improves(s, here)) continue;
      if (!move || improves(s, move) || (s.chain && move.chain && better(p, s.chain, move.chain))) move = s;
    }
    if (!move) break;
    here = move;
  }
  return here;
}

export function heuristicSearch(p: SearchProblem): Chain | undefined {
  const memo: Memo = { seen: new Map(), scratch: new SplitScratch(p.ctx.layers) };
  let best: Chain | undefined;
  const consider = (c: Chain | undefined) => {
    if (c && better(p, c, best)) best = c;
  };
  // 1. Every device alone: the guarantee that we are never slower than the best single device.
  if (p.minNodes <= 1) for (const c of p.cands) consider(evaluateChain(p, [c.index], memo.scratch));
  const singleBest: Chain | undefined = best;

  // 2. Grow chains: fastest devices first, and roomiest first (for models that need many devices).
  const byRate = [...p.cands].sort((a, b) => b.rate - a.rate || b.score - a.score || a.index - b.index);
  const byRoom = [...p.cands].sort((a, b) => b.capacity - a.capacity || b.rate - a.rate || a.index - b.index);
  const grown = [grow(p, byRate.map((c) => c.index), memo), grow(p, byRoom.map((c) => c.index), memo)];
  for (const g of grown) consider(g.chain);

  // 3. Local search from the best single device, from each grown chain and from the fastest devices.
  const starts: Scored[] = [...grown];
  if (singleBest) starts.push(scored(p, singleBest.order, memo));
  // Also from each of the fastest few devices alone (fitting or not): descent then builds chains around them.
  for (const c of byRate.slice(0, MULTI_STARTS)) if (c.index !== singleBest?.order[0]) starts.push(scored(p, [c.index], memo));
  for (const s of starts) consider(descend(p, s, memo).chain);
  return best;
}

/**
 * Offers each device in turn at every position of the chain; keeps it where it helps most, if it helps,
 * and unconditionally (where its links allow) while the chain does not fit or is under minNodes.
 */
function grow(p: SearchProblem, offer: readonly number[], memo: Memo): Scored {
  let order: number[] = [];
  let current: Chain | undefined;
  for (const x of offer) {
    if (order.length >= p.maxNodes) break;
    let bestHere: Chain | undefined;
    let linkedAt: number[] | undefined;
    for (let at = 0; at <= order.length; at++) {
      const tryOrder = withInserted(order, at, x);
      const ev = scored(p, tryOrder, memo).chain;
      if (ev && better(p, ev, bestHere)) bestHere = ev;
      if (!linkedAt && linked(p, tryOrder)) linkedAt = tryOrder;
    }
    if (!current) {
      // Nothing runs yet: take the device where it fits best, else wherever its links allow, else skip it.
      if (bestHere) order = [...bestHere.order];
      else if (linkedAt) order = linkedAt;
      current = bestHere;
    } else if (bestHere && bestHere.seconds < current.seconds * (1 - 1e-12)) {
      order = [...bestHere.order];
      current = bestHere;
    }
  }
  return current ? { order, chain: current, penalty: 0 } : scored(p, order, memo);
}

/** Can the chain pass the hidden state along and the token back? */
function linked(p: SearchProblem, order: readonly number[]): boolean {
  for (let i = 0; i + 1 < order.length; i++) if (hop(p, order[i]!, order[i + 1]!, 0) === undefined) return false;
  return order.length < 2 || hop(p, order[order.length - 1]!, order[0]!, 0) !== undefined;
}
