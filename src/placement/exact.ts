// Exhaustive search: every ordered subset of minNodes..maxNodes candidates, depth first, so chains with a
// common prefix share their DP rows (one O(layers) row per tree node). A branch is cut when its hops plus
// the fastest possible streaming time already exceed the best chain found.
import { better, hop, TIE, type Chain, type SearchProblem } from "./search.js";
import { firstRow, lastValue, middleRow, singleValue, traceEnds } from "./split.js";

/** Exhaustive search over every ordered subset of minNodes..maxNodes candidates. */
export function exactSearch(p: SearchProblem): Chain | undefined {
  const { ctx, cands } = p;
  const n = cands.length;
  const L = ctx.layers;
  const maxK = Math.min(p.maxNodes, n, L);
  const rows = Array.from({ length: maxK }, () => new Float64Array(L + 1));
  const args = Array.from({ length: maxK }, () => new Int32Array(L + 1).fill(-1));
  const dq = new Int32Array(L + 1);
  const order: number[] = [];
  const used = new Uint8Array(n);
  let maxRate = 0;
  for (const c of cands) maxRate = Math.max(maxRate, c.rate);
  // No chain streams its weights faster than the fastest device alone could.
  const streamFloor = (ctx.streamPrefix[L]! + ctx.outputBytes) / maxRate;
  let best: Chain | undefined;
  const bound = () => (best ? best.seconds * (1 + TIE) : Infinity);

  const visit = (depth: number, hops: number): void => {
    const lastIdx = order[depth - 1]!;
    const dev = cands[lastIdx]!;
    if (depth >= p.minNodes) {
      if (depth === 1) {
        const s = singleValue(ctx, dev);
        if (s < Infinity) {
          const c: Chain = { order: [lastIdx], seconds: s, ends: [L] };
          if (better(p, c, best)) best = c;
        }
      } else {
        const back = hop(p, lastIdx, order[0]!, p.returnBytes);
        if (back !== undefined && hops + back + streamFloor <= bound()) {
          const last = lastValue(ctx, rows[depth - 2]!, dev);
          if (last.value < Infinity) {
            const c: Chain = { order: order.slice(), seconds: hops + back + last.value, ends: traceEnds(args, depth, L, last.start) };
            if (better(p, c, best)) best = c;
          }
        }
      }
    }
    if (depth >= maxK) return;
    let rowReady = false;
    for (let next = 0; next < n; next++) {
      if (used[next]) continue;
      const h = hop(p, lastIdx, next, p.hopBytes);
      if (h === undefined || hops + h + streamFloor > bound()) continue;
      if (!rowReady) {
        const any = depth === 1 ? firstRow(ctx, dev, rows[0]!) : middleRow(ctx, rows[depth - 2]!, depth - 1, dev, rows[depth - 1]!, args[depth - 1]!, dq);
        if (!any) return;
        rowReady = true;
      }
      used[next] = 1;
      order.push(next);
      visit(depth + 1, hops + h);
      order.pop();
      used[next] = 0;
    }
  };

  for (let first = 0; first < n; first++) {
    used[first] = 1;
    order.push(first);
    visit(1, 0);
    order.pop();
    used[first] = 0;
  }
  return best;
}

