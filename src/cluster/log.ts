// Turning delivery into order. Gossip delivers IndexedEvents late, twice, or out of order; apply()
// accepts only the next index. OrderedLog sits between the two: it buffers what came early, drops
// duplicates, reports the gaps to fetch with RequestEventLog, and hands back runs that apply() can take.
// The master side is the Sequencer, which gives local events their global index and the current term.
// Both are deterministic: the same offers in the same order give the same results.
import { TermRegression } from "./errors.js";
import type { Event, IndexedEvent, NodeId } from "./events.js";
import { canonicalJson, eventDigest } from "./hash.js";

/** A half-open range of missing indexes [from, to), ready to become a RequestEventLog. */
export interface GapRange {
  readonly from: number;
  readonly to: number;
}

export type OfferStatus =
  /** New: buffered, and possibly released with the events it unblocked. */
  | "accepted"
  /** Same index and same content as one already held or delivered: ignored. */
  | "duplicate"
  /** Same index, different content. Kept: the held one, unless the new one has a higher term (a newer master). */
  | "conflict"
  /** Index below the remembered window: cannot be checked, ignored. */
  | "stale"
  /** Index at or beyond nextIndex + maxAhead: dropped to bound memory; it will be fetched again later. */
  | "too-far-ahead";

export interface OfferResult {
  readonly status: OfferStatus;
  /** For a conflict: whether the new event replaced a buffered (not yet delivered) one. */
  readonly replaced?: boolean;
  /** Events now deliverable in index order (nextIndex has moved past them). */
  readonly ready: readonly IndexedEvent[];
}

export interface OrderedLogCounters {
  readonly duplicates: number;
  readonly conflicts: number;
  readonly stale: number;
  readonly droppedAhead: number;
}

export interface OrderedLogOptions {
  /** The first index expected (the state's lastEventIndex + 1). Default 0. */
  readonly nextIndex?: number;
  /** How far beyond nextIndex events are buffered. Default 10000. */
  readonly maxAhead?: number;
  /** How many delivered events are remembered to tell duplicates from conflicts. Default 1024. */
  readonly history?: number;
}

const NONE: readonly IndexedEvent[] = Object.freeze([]);

export class OrderedLog {
  #next: number;
  readonly #maxAhead: number;
  readonly #historySize: number;
  /** Early events, by index; every key is in [#next, #next + #maxAhead). */
  readonly #buffer = new Map<number, { event: IndexedEvent; json: string }>();
  /** Canonical JSON of the last #historySize delivered events, by index. */
  readonly #history = new Map<number, string>();
  /** Highest index ever offered, dropped ones included: we know the log reaches at least this far. */
  #highestSeen = -1;
  #counters = { duplicates: 0, conflicts: 0, stale: 0, droppedAhead: 0 };

  constructor(options: OrderedLogOptions = {}) {
    this.#next = options.nextIndex ?? 0;
    this.#maxAhead = options.maxAhead ?? 10_000;
    this.#historySize = options.history ?? 1024;
  }

  /** The index apply() expects next. */
  get nextIndex(): number {
    return this.#next;
  }

  /** How many events are waiting for a gap to fill. */
  get buffered(): number {
    return this.#buffer.size;
  }

  get counters(): OrderedLogCounters {
    return { ...this.#counters };
  }

  offer(event: IndexedEvent): OfferResult {
    const json = canonicalJson(event);
    this.#highestSeen = Math.max(this.#highestSeen, event.index);
    if (event.index < this.#next) return this.#offerDelivered(event.index, json);
    if (event.index >= this.#next + this.#maxAhead) {
      this.#counters.droppedAhead++;
      return { status: "too-far-ahead", ready: NONE };
    }
    const held = this.#buffer.get(event.index);
    if (held !== undefined) {
      if (held.json === json) return this.#count("duplicates", "duplicate");
      this.#counters.conflicts++;
      // A higher term means a newer master rewrote this slot; the older master's entry is void.
      const replaced = event.term > held.event.term;
      if (replaced) this.#buffer.set(event.index, { event, json });
      return { status: "conflict", replaced, ready: NONE };
    }
    this.#buffer.set(event.index, { event, json });
    return { status: "accepted", ready: this.#drain() };
  }

  /**
   * The indexes to fetch, as [from, to) ranges in increasing order: the holes between nextIndex and the
   * highest index ever offered. An event dropped as too far ahead is itself inside the last range, so
   * it is fetched again once the log has caught up to it.
   */
  missing(): readonly GapRange[] {
    const held = [...this.#buffer.keys()].sort((a, b) => a - b);
    const gaps: GapRange[] = [];
    let expect = this.#next;
    for (const index of held) {
      if (index > expect) gaps.push({ from: expect, to: index });
      expect = index + 1;
    }
    if (this.#highestSeen >= expect) gaps.push({ from: expect, to: this.#highestSeen + 1 });
    return gaps;
  }

  #offerDelivered(index: number, json: string): OfferResult {
    const seen = this.#history.get(index);
    if (seen === undefined) return this.#count("stale", "stale");
    if (seen === json) return this.#count("duplicates", "duplicate");
    // Already applied: nothing can be undone here; the caller learns that the log diverged.
    this.#counters.conflicts++;
    return { status: "conflict", replaced: false, ready: NONE };
  }

  #count(counter: "duplicates" | "stale", status: OfferStatus): OfferResult {
    this.#counters[counter]++;
    return { status, ready: NONE };
  }

  #drain(): readonly IndexedEvent[] {
    const ready: IndexedEvent[] = [];
    for (let held = this.#buffer.get(this.#next); held !== undefined; held = this.#buffer.get(this.#next)) {
      this.#buffer.delete(this.#next);
      this.#history.set(this.#next, held.json);
      this.#history.delete(this.#next - this.#historySize);
      ready.push(held.event);
      this.#next++;
    }
    return ready;
  }
}

/**
 * The master's numbering state: the next global index, its term, its own id (the events' origin) and
 * the digest of the event before nextIndex (undefined for an empty log), which the next event carries.
 */
export interface SequencerState {
  readonly nextIndex: number;
  readonly term: number;
  readonly origin: NodeId;
  readonly prev: string | undefined;
}

/** `last` is the newest event of the log the master takes over (undefined when it is empty). */
export function createSequencer(origin: NodeId, term: number, last: IndexedEvent | undefined): SequencerState {
  return { origin, term, nextIndex: last === undefined ? 0 : last.index + 1, prev: last === undefined ? undefined : eventDigest(last) };
}

/** Stamps one event with the next index, the current term and the link to the one before. Pure. */
export function sequence(seq: SequencerState, event: Event): { state: SequencerState; indexed: IndexedEvent } {
  const indexed: IndexedEvent = seq.prev === undefined
    ? { index: seq.nextIndex, term: seq.term, event, origin: seq.origin }
    : { index: seq.nextIndex, term: seq.term, event, origin: seq.origin, prev: seq.prev };
  return { state: { ...seq, nextIndex: seq.nextIndex + 1, prev: eventDigest(indexed) }, indexed };
}

/** Stamps a batch with consecutive indexes, each linked to the one before. */
export function sequenceAll(
  seq: SequencerState,
  events: readonly Event[],
): { state: SequencerState; indexed: readonly IndexedEvent[] } {
  const indexed: IndexedEvent[] = [];
  let state = seq;
  for (const event of events) {
    const step = sequence(state, event);
    indexed.push(step.indexed);
    state = step.state;
  }
  return { state, indexed };
}

/** Whether `next` names, as the event before it, something other than `held` (the one we hold there). */
export function breaksChain(held: IndexedEvent | undefined, next: IndexedEvent): boolean {
  return held !== undefined && next.prev !== undefined && next.index === held.index + 1 && eventDigest(held) !== next.prev;
}

/**
 * Two logs differ behind `next`: whose history stands? As in Raft, the later term: "ours-is-stale" when
 * `next` comes from a newer term than our event before it (our suffix was written by a master that was
 * superseded, e.g. one that died before publishing it), or from the same term but by the master we
 * follow while ours was not (two masters in one term: the loser's events). Otherwise `next` is the
 * older history, a deposed master's late event, and is dropped.
 */
export function judgeChainBreak(held: IndexedEvent, next: IndexedEvent, masterId: NodeId | null): "ours-is-stale" | "drop" {
  if (next.term > held.term) return "ours-is-stale";
  if (next.term === held.term && next.origin === masterId && held.origin !== masterId) return "ours-is-stale";
  return "drop";
}

/** Moves the sequencer to a newly won term; terms never go back. */
export function enterTerm(seq: SequencerState, term: number): SequencerState {
  if (term < seq.term) throw new TermRegression(seq.term, term);
  return { ...seq, term };
}
