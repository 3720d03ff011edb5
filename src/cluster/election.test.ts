import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compareCandidates,
  electionWinner,
  judgeMasterClaim,
  masterTimedOut,
  nextTerm,
  observeClaim,
  rankCandidates,
  shouldAcceptMaster,
  shouldStandForElection,
  shouldStepDown,
  type Candidate,
  type FollowerView,
  type MasterClaim,
} from "./election.js";
import { TermRegression } from "./errors.js";
import { seeded } from "./test-support.js";

const cand = (nodeId: string, joinedAt: number, eventsSeen: number, term = 0): Candidate => ({ nodeId, joinedAt, eventsSeen, term });
const claim = (nodeId: string, term: number, joinedAt = 100, eventsSeen = 10): MasterClaim => ({ nodeId, term, joinedAt, eventsSeen });

test("ranking: seniority first, then most events seen, then node id", () => {
  const cs = [cand("d", 200, 50), cand("c", 100, 5), cand("b", 100, 9), cand("a", 100, 9), cand("e", 50, 0)];
  assert.deepEqual(rankCandidates(cs).map((c) => c.nodeId), ["e", "a", "b", "c", "d"]);
  assert.equal(electionWinner(cs)?.nodeId, "e");
  assert.equal(electionWinner([]), null);
  assert.deepEqual(cs.map((c) => c.nodeId), ["d", "c", "b", "a", "e"], "input not reordered");
  assert.equal(compareCandidates(cs[0]!, cs[0]!), 0);
});

test("ranking is a total order: every shuffle gives the same ranking and winner", () => {
  const rand = seeded(3);
  const cs = Array.from({ length: 12 }, (_, i) => cand(`n${i}`, Math.floor(rand() * 3), Math.floor(rand() * 3)));
  const expected = rankCandidates(cs).map((c) => c.nodeId);
  for (let k = 0; k < 50; k++) {
    const shuffled = [...cs].sort(() => rand() - 0.5);
    assert.deepEqual(rankCandidates(shuffled).map((c) => c.nodeId), expected);
    assert.equal(electionWinner(shuffled)?.nodeId, expected[0]);
  }
});

test("terms only move forward", () => {
  assert.equal(nextTerm(0), 1);
  assert.equal(nextTerm(41), 42);
  assert.throws(() => nextTerm(Number.MAX_SAFE_INTEGER), TermRegression);
  assert.throws(() => nextTerm(-1), TermRegression);
});

test("a higher term is always accepted, a lower one never, even from the best-ranked node", () => {
  const current = claim("m", 5, 500, 1);
  assert.deepEqual(judgeMasterClaim(5, claim("z", 6, 900, 0), current), { accept: true, reason: "higher-term" });
  assert.deepEqual(judgeMasterClaim(5, claim("a", 4, 0, 1e6), current), { accept: false, reason: "lower-term" });
  assert.equal(shouldAcceptMaster(5, claim("a", 4, 0, 1e6), null), false);
  assert.deepEqual(judgeMasterClaim(5, claim("m", 5, 500, 1), current), { accept: true, reason: "same-master" });
  assert.deepEqual(judgeMasterClaim(5, claim("x", 5), null), { accept: true, reason: "no-master" });
});

test("two simultaneous claimants for one term: the better-ranked wins, whichever arrives first", () => {
  const senior = claim("b", 7, 100, 10);
  const junior = claim("a", 7, 200, 99);
  const start: FollowerView = { term: 6, master: claim("old", 6) };
  const v1 = observeClaim(observeClaim(start, senior), junior);
  const v2 = observeClaim(observeClaim(start, junior), senior);
  assert.deepEqual(v1, { term: 7, master: senior });
  assert.deepEqual(v2, v1);
  assert.deepEqual(judgeMasterClaim(7, junior, senior), { accept: false, reason: "worse-rank" });
  assert.deepEqual(judgeMasterClaim(7, senior, junior), { accept: true, reason: "better-rank" });
  // The claimants themselves: the junior steps down, the senior stays.
  assert.equal(shouldStepDown(junior, senior), true);
  assert.equal(shouldStepDown(senior, junior), false);
  assert.equal(shouldStepDown(senior, senior), false);
});

test("healed partition: the higher term wins on every node, in any delivery order", () => {
  // Side X elected x at term 3; side Y, which lost contact with x for longer, went to term 5 under y,
  // although x is the more senior node.
  const x = claim("x", 3, 10, 500);
  const y = claim("y", 5, 90, 20);
  const views: FollowerView[] = [
    { term: 3, master: x },
    { term: 3, master: x },
    { term: 5, master: y },
    { term: 5, master: y },
    { term: 0, master: null }, // a node that joined just now
  ];
  const rand = seeded(11);
  for (let round = 0; round < 20; round++) {
    for (const v of views) {
      const claims = rand() < 0.5 ? [x, y, x] : [y, x, y];
      const end = claims.reduce(observeClaim, v);
      assert.deepEqual(end, { term: 5, master: y });
    }
  }
  assert.equal(shouldStepDown(x, y), true);
  assert.equal(shouldStepDown(y, x), false);
});

test("random claims converge: every node ends on the same master whatever the order", () => {
  const rand = seeded(5);
  for (let trial = 0; trial < 100; trial++) {
    const claims = Array.from({ length: 6 }, (_, i) => claim(`n${i}`, Math.floor(rand() * 3), Math.floor(rand() * 3), Math.floor(rand() * 3)));
    const ends = Array.from({ length: 5 }, () => [...claims].sort(() => rand() - 0.5).reduce(observeClaim, { term: 0, master: null } as FollowerView));
    for (const e of ends) assert.deepEqual(e, ends[0]);
    const maxTerm = Math.max(...claims.map((c) => c.term));
    assert.equal(ends[0]!.term, maxTerm);
    assert.equal(ends[0]!.master?.nodeId, electionWinner(claims.filter((c) => c.term === maxTerm))?.nodeId);
  }
});

test("only the node ranked first in its view stands for election, after the master times out", () => {
  const me = cand("b", 100, 5);
  assert.equal(shouldStandForElection(me, [me, cand("c", 200, 50)]), true);
  assert.equal(shouldStandForElection(me, [cand("a", 100, 5)]), false, "equal seniority and events: lower id wins");
  assert.equal(shouldStandForElection(me, [cand("z", 50, 0)]), false);
  assert.equal(shouldStandForElection(me, []), true, "alone");
  assert.equal(masterTimedOut(1000, 3999, 3000), false);
  assert.equal(masterTimedOut(1000, 4000, 3000), true);
});
