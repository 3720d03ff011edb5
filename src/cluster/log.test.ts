import { test } from "node:test";
import assert from "node:assert/strict";
import { applyAll } from "./apply.js";
import { TermRegression } from "./errors.js";
import type { Event, IndexedEvent } from "./events.js";
import { eventDigest, stateHash } from "./hash.js";
import { breaksChain, createSequencer, enterTerm, judgeChainBreak, OrderedLog, sequence, sequenceAll } from "./log.js";
import { initialState } from "./state.js";
import { deepFreeze, indexed, randomLog, seeded } from "./test-support.js";

const seen = (nodeId: string, at: number): Event => ({ type: "NodeSeen", nodeId, at });
const ev = (index: number, term = 0, at = index): IndexedEvent => ({ index, term, event: seen("a", at), origin: "m" });

test("in-order delivery is released immediately", () => {
  const log = new OrderedLog();
  assert.deepEqual(log.offer(ev(0)), { status: "accepted", ready: [ev(0)] });
  assert.deepEqual(log.offer(ev(1)).ready, [ev(1)]);
  assert.equal(log.nextIndex, 2);
  assert.deepEqual(log.missing(), []);
});

test("early events are held, gaps are reported, and a fill releases the run", () => {
  const log = new OrderedLog();
  assert.deepEqual(log.offer(ev(2)).ready, []);
  assert.deepEqual(log.offer(ev(5)).ready, []);
  assert.deepEqual(log.offer(ev(6)).ready, []);
  assert.deepEqual(log.missing(), [{ from: 0, to: 2 }, { from: 3, to: 5 }]);
  assert.deepEqual(log.offer(ev(1)).ready, []);
  assert.deepEqual(log.offer(ev(0)).ready.map((e) => e.index), [0, 1, 2]);
  assert.deepEqual(log.missing(), [{ from: 3, to: 5 }]);
  assert.deepEqual(log.offer(ev(4)).ready, []);
  assert.deepEqual(log.offer(ev(3)).ready.map((e) => e.index), [3, 4, 5, 6]);
  assert.equal(log.nextIndex, 7);
  assert.equal(log.buffered, 0);
  assert.deepEqual(log.missing(), []);
});

test("duplicates are ignored, whether held or already delivered", () => {
  const log = new OrderedLog();
  log.offer(ev(0));
  log.offer(ev(2));
  assert.equal(log.offer(ev(0)).status, "duplicate");
  assert.equal(log.offer(ev(2)).status, "duplicate");
  assert.deepEqual(log.counters, { duplicates: 2, conflicts: 0, stale: 0, droppedAhead: 0 });
  assert.deepEqual(log.offer(ev(1)).ready.map((e) => e.index), [1, 2]);
});

test("a different event at a taken index is a conflict; a higher term replaces a held one", () => {
  const log = new OrderedLog();
  log.offer(ev(0));
  assert.deepEqual(log.offer(ev(0, 0, 99)), { status: "conflict", replaced: false, ready: [] });
  log.offer(ev(2, 1, 2));
  assert.deepEqual(log.offer(ev(2, 1, 77)), { status: "conflict", replaced: false, ready: [] }, "same term: first kept");
  assert.deepEqual(log.offer(ev(2, 2, 55)), { status: "conflict", replaced: true, ready: [] }, "newer master wins");
  assert.deepEqual(log.offer(ev(2, 1, 2)), { status: "conflict", replaced: false, ready: [] }, "older master never wins back");
  assert.deepEqual(log.offer(ev(1, 1)).ready, [ev(1, 1), ev(2, 2, 55)]);
  assert.equal(log.counters.conflicts, 4);
});

test("events beyond the window are dropped and counted, but still show up in missing()", () => {
  const log = new OrderedLog({ maxAhead: 10 });
  assert.equal(log.offer(ev(9)).status, "accepted");
  assert.equal(log.offer(ev(10)).status, "too-far-ahead");
  assert.equal(log.offer(ev(5000)).status, "too-far-ahead");
  assert.equal(log.buffered, 1);
  assert.equal(log.counters.droppedAhead, 2);
  assert.deepEqual(log.missing(), [{ from: 0, to: 9 }, { from: 10, to: 5001 }]);
});

test("events older than the remembered history are stale", () => {
  const log = new OrderedLog({ history: 4 });
  for (let i = 0; i < 10; i++) log.offer(ev(i));
  assert.equal(log.offer(ev(9)).status, "duplicate");
  assert.equal(log.offer(ev(6)).status, "duplicate");
  assert.equal(log.offer(ev(5)).status, "stale");
  assert.equal(log.counters.stale, 1);
});

test("a log can start mid-way (after a restart from the log file)", () => {
  const log = new OrderedLog({ nextIndex: 100 });
  assert.equal(log.offer(ev(99)).status, "stale");
  assert.deepEqual(log.offer(ev(100)).ready, [ev(100)]);
});

test("shuffled delivery with duplicates yields the log in order, and the same state as direct application", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const original = randomLog(seed, 60);
    const rand = seeded(seed + 1000);
    const deliveries = [...original, ...original.filter(() => rand() < 0.3)].sort(() => rand() - 0.5);
    const log = new OrderedLog();
    const out: IndexedEvent[] = [];
    for (const d of deliveries) {
      out.push(...log.offer(deepFreeze(structuredClone(d))).ready);
      // Whatever is missing lies below the highest index delivered so far and is not yet delivered.
      for (const g of log.missing()) assert.ok(g.from >= log.nextIndex && g.from < g.to);
    }
    assert.deepEqual(out, original);
    assert.equal(log.counters.conflicts, 0);
    assert.equal(log.counters.duplicates, deliveries.length - original.length);
    assert.equal(stateHash(applyAll(initialState(), out)), stateHash(applyAll(initialState(), original)));
  }
});

test("sequencer: consecutive indexes, the current term and origin, each linked to the one before; pure", () => {
  const last = ev(9, 1);
  const s0 = deepFreeze(createSequencer("m", 2, last));
  const a = sequence(s0, seen("a", 1));
  assert.deepEqual(a.indexed, { index: 10, term: 2, event: seen("a", 1), origin: "m", prev: eventDigest(last) });
  assert.equal(s0.nextIndex, 10, "input unchanged");
  const batch = sequenceAll(a.state, [seen("b", 2), seen("c", 3)]);
  assert.deepEqual(batch.indexed.map((e) => e.index), [11, 12]);
  assert.deepEqual(batch.indexed.map((e) => e.prev), [eventDigest(a.indexed), eventDigest(batch.indexed[0])]);
  assert.equal(batch.state.nextIndex, 13);
  assert.equal(batch.state.prev, eventDigest(batch.indexed[1]));
  const later = enterTerm(batch.state, 3);
  assert.equal(sequence(later, seen("d", 4)).indexed.term, 3);
  assert.throws(() => enterTerm(later, 2), TermRegression);
  assert.deepEqual(sequenceAll(s0, []).indexed, []);
});

test("sequenced events apply cleanly from the empty state", () => {
  const events = randomLog(4, 30).map((e) => e.event).filter((e) => e.type !== "MasterElected");
  const { indexed: log } = sequenceAll(createSequencer("m", 0, undefined), events);
  assert.equal(applyAll(initialState(), log).lastEventIndex, events.length - 1);
  assert.deepEqual(log.map(({ prev: _, ...rest }) => rest), indexed(events, 0, 0, "m"));
  assert.equal(log[0].prev, undefined, "the first event has nothing before it");
  log.forEach((e, i) => assert.ok(!breaksChain(log[i - 1], e)));
});

test("the chain: a different event anywhere behind shows at the next link, and the later term's log stands", () => {
  const base = sequenceAll(createSequencer("old", 1, undefined), [seen("a", 1), seen("b", 2), seen("c", 3)]);
  // A master that died with one more event of its own, and the master after it, which wrote index 3 anew.
  const unpublished = sequence(base.state, seen("lost", 4)).indexed;
  const next = sequenceAll(createSequencer("new", 2, base.indexed[2]), [seen("elected", 5), seen("e", 6)]).indexed;
  assert.ok(!breaksChain(base.indexed[2], next[0]), "both logs agree up to index 2");
  assert.ok(breaksChain(unpublished, next[1]), "index 4's link names the new master's index 3");
  assert.equal(judgeChainBreak(unpublished, next[1], "new"), "ours-is-stale");
  assert.equal(judgeChainBreak(next[0], { ...unpublished, index: 4 }, "new"), "drop", "the old term's event loses");
  // The digest covers the links, so a difference further back still breaks the next link.
  const rewritten = sequenceAll(createSequencer("old", 1, undefined), [seen("a", 1), seen("x", 2), seen("c", 3)]);
  const after = sequence(rewritten.state, seen("d", 4)).indexed;
  assert.ok(breaksChain(base.indexed[2], after));
  // One term, two masters that could not see each other: the one we follow wins.
  const rival = { ...next[1], origin: "rival", term: 2 };
  assert.equal(judgeChainBreak(rival, next[1], "new"), "ours-is-stale");
  assert.equal(judgeChainBreak(next[0], rival, "new"), "drop");
  assert.ok(!breaksChain(base.indexed[2], { ...next[1], prev: undefined }), "an unlinked event (an older log) cannot be checked");
});
