// Master election as pure functions; the networking layer supplies the views and carries the messages.
//
// The protocol (terms, after Raft, ranked as exo ranks its candidates):
// 1. Every node tracks `localTerm` (the highest term it has accepted) and the current master's claim.
// 2. Who starts an election, and when: a node whose master has timed out (masterTimedOut) looks at
//    the nodes it currently sees alive, itself included. It announces itself for term localTerm + 1
//    (nextTerm) only if it ranks first among them (shouldStandForElection); otherwise it waits for
//    the better-ranked node's announcement, and stands itself once that node times out too.
// 3. Ranking (compareCandidates): seniority first (earliest joinedAt: the longest-serving node has
//    the most complete picture), then most events seen (the most complete log, so the fewest events
//    are lost), then the node id as a deterministic final tie-break.
// 4. Accepting (judgeMasterClaim): a higher term is always accepted; a lower term never (a deposed
//    master can never come back); the same term is accepted from the master already followed, and
//    from a different claimant only when it ranks better. Together these make "accepted" a total
//    order on claims (term, then rank), so every node that receives the same claims, in any order,
//    ends on the same master. For that, a claim's credentials (joinedAt, eventsSeen) are fixed when
//    the node first announces for a term; re-announcements in the same term repeat them unchanged.
// 5. One master per term: since nodes only stand when first in their view, two claimants in one term
//    only arise when views differ (a partition, or a race); rule 4 resolves it by rank, and the loser,
//    which hears the winner's claim and accepts it, steps down (shouldStepDown). After a partition
//    heals, the side with the higher term wins everywhere; the other master steps down.
// 6. The winning master sequences MasterElected{nodeId, term} into the log as its first event of the
//    term and stamps every event with its term, so apply() refuses anything a deposed master writes.
import { TermRegression } from "./errors.js";
import type { NodeId } from "./events.js";

export interface Candidate {
  readonly nodeId: NodeId;
  /** When the node joined the cluster (ms); earlier means longer-serving. */
  readonly joinedAt: number;
  /** How many log events the node has applied. */
  readonly eventsSeen: number;
  /** The highest term the node has accepted. */
  readonly term: number;
}

/** A node's announcement that it is master for `term`, with the credentials used to rank it. */
export interface MasterClaim {
  readonly nodeId: NodeId;
  readonly term: number;
  readonly joinedAt: number;
  readonly eventsSeen: number;
}

type Ranked = Pick<Candidate, "nodeId" | "joinedAt" | "eventsSeen">;

/** Negative when `a` ranks better than `b`, positive when worse, 0 only for the same node id. */
export function compareCandidates(a: Ranked, b: Ranked): number {
  if (a.joinedAt !== b.joinedAt) return a.joinedAt < b.joinedAt ? -1 : 1;
  if (a.eventsSeen !== b.eventsSeen) return a.eventsSeen > b.eventsSeen ? -1 : 1;
  return a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0;
}

/** Candidates best first (a new array; the input is not reordered). */
export function rankCandidates<C extends Ranked>(candidates: readonly C[]): readonly C[] {
  return [...candidates].sort(compareCandidates);
}

/** The best-ranked candidate, or null when there are none. */
export function electionWinner<C extends Ranked>(candidates: readonly C[]): C | null {
  let best: C | null = null;
  for (const c of candidates) if (best === null || compareCandidates(c, best) < 0) best = c;
  return best;
}

/** The term a new election runs for. */
export function nextTerm(current: number): number {
  if (!Number.isSafeInteger(current + 1) || current < 0) throw new TermRegression(current, current + 1);
  return current + 1;
}

/** Whether the master's silence has lasted long enough to start an election. */
export function masterTimedOut(lastHeardMs: number, nowMs: number, timeoutMs: number): boolean {
  return nowMs - lastHeardMs >= timeoutMs;
}

/** Whether `self` should announce itself: only when it ranks first among itself and the peers it sees alive. */
export function shouldStandForElection(self: Ranked, alivePeers: readonly Ranked[]): boolean {
  return alivePeers.every((p) => p.nodeId === self.nodeId || compareCandidates(self, p) < 0);
}

export type ClaimVerdict =
  | { readonly accept: true; readonly reason: "higher-term" | "same-master" | "no-master" | "better-rank" }
  | { readonly accept: false; readonly reason: "lower-term" | "worse-rank" };

/**
 * Judges an announced master against the local view: `localTerm` is the highest term accepted so far
 * and `current` the claim currently followed (null when none, e.g. after a timeout within the term).
 */
export function judgeMasterClaim(localTerm: number, announced: MasterClaim, current: MasterClaim | null): ClaimVerdict {
  if (announced.term > localTerm) return { accept: true, reason: "higher-term" };
  if (announced.term < localTerm) return { accept: false, reason: "lower-term" };
  if (current === null || current.term < localTerm) return { accept: true, reason: "no-master" };
  if (current.nodeId === announced.nodeId) return { accept: true, reason: "same-master" };
  return compareCandidates(announced, current) < 0
    ? { accept: true, reason: "better-rank" }
    : { accept: false, reason: "worse-rank" };
}

/** judgeMasterClaim reduced to a yes/no. */
export function shouldAcceptMaster(localTerm: number, announced: MasterClaim, current: MasterClaim | null): boolean {
  return judgeMasterClaim(localTerm, announced, current).accept;
}

/** A master hearing another claim steps down exactly when it would accept that claim. */
export function shouldStepDown(self: MasterClaim, other: MasterClaim): boolean {
  return other.nodeId !== self.nodeId && shouldAcceptMaster(self.term, other, self);
}

/** The view of a follower: its term and the master it follows. */
export interface FollowerView {
  readonly term: number;
  readonly master: MasterClaim | null;
}

/** Processes one announcement: the new view (the same object when the claim is rejected). */
export function observeClaim(view: FollowerView, announced: MasterClaim): FollowerView {
  return shouldAcceptMaster(view.term, announced, view.master) ? { term: announced.term, master: announced } : view;
}
