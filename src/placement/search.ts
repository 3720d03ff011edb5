// The search's shared vocabulary: eligible devices as candidates, chains (ordered candidates with their
// split and predicted time), the problem both searches solve, and the one tie-break they share.
import { hopSeconds, type LinkLookup } from "./cost.js";
import type { SplitContext } from "./split.js";
import type { DeviceProfile } from "./types.js";

/** An eligible device as the search sees it (index = position in id order). */
export interface Candidate {
  readonly index: number;
  readonly device: DeviceProfile;
  readonly rate: number;
  readonly capacity: number;
  readonly score: number;
}

/** A chain (indices into the candidates) with its predicted seconds per token and stage ends. */
export interface Chain {
  readonly order: readonly number[];
  readonly seconds: number;
  readonly ends: readonly number[];
}

/** Everything a search needs; built once per place() call. */
export interface SearchProblem {
  readonly ctx: SplitContext;
  readonly cands: readonly Candidate[];
  readonly links: LinkLookup;
  readonly hopBytes: number;
  readonly returnBytes: number;
  readonly minNodes: number;
  readonly maxNodes: number;
}

/** Relative difference below which two predictions count as equal. */
export const TIE = 1e-12;

/** Is chain a better than chain b? Faster wins; within 1e-12 fewer stages, then seed score, then ids. */
export function better(p: SearchProblem, a: Chain, b: Chain | undefined): boolean {
  if (!b) return true;
  if (a.seconds < b.seconds * (1 - TIE)) return true;
  if (b.seconds < a.seconds * (1 - TIE)) return false;
  if (a.order.length !== b.order.length) return a.order.length < b.order.length;
  const sa = a.order.reduce((s, i) => s + p.cands[i]!.score, 0);
  const sb = b.order.reduce((s, i) => s + p.cands[i]!.score, 0);
  if (sa !== sb) return sa > sb;
  for (let i = 0; i < a.order.length; i++) if (a.order[i] !== b.order[i]) return a.order[i]! < b.order[i]!;
  for (let i = 0; i < a.ends.length; i++) if (a.ends[i] !== b.ends[i]) return a.ends[i]! < b.ends[i]!;
  return false;
}

/** Seconds of the hop from candidate i to j carrying `bytes`, or undefined when they are not linked. */
export function hop(p: SearchProblem, i: number, j: number, bytes: number): number | undefined {
  const l = p.links(p.cands[i]!.device.id, p.cands[j]!.device.id);
  return l ? hopSeconds(l, bytes) : undefined;
}

