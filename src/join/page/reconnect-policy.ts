// When the /join page tries its socket again after losing it: a capped exponential backoff with jitter
// (many phones dropped by one restarting node must not all come back in the same instant), and which
// closes are worth retrying at all. Pure: the random draw is an argument, so tests pin it.
import { REPLACED_CLOSE_CODE } from "../messages.js";

export interface BackoffOptions {
  /** The first pause, before any jitter. */
  readonly initialMs: number;
  /** No pause is longer than this. */
  readonly maxMs: number;
  /** Each failed try multiplies the pause by this. */
  readonly factor: number;
  /** Up to this fraction of a pause is taken off at random (0: none, 1: anywhere from 0 to the pause). */
  readonly jitter: number;
}

/** 0.5 s, 1 s, 2 s, 4 s, 8 s, then 10 s, each less up to a quarter at random. */
export const RECONNECT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 10_000, factor: 2, jitter: 0.25 };

/**
 * The pause before try number `attempt` (0 for the first after a loss); `random` is a draw from [0, 1).
 * The jitter only shortens a pause, so the cap holds and a pause never drops below (1 - jitter) of its base.
 */
export function reconnectDelay(attempt: number, random: number, options: BackoffOptions = RECONNECT_BACKOFF): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
  if (!(random >= 0 && random < 1)) throw new RangeError(`random must be in [0, 1), got ${random}`);
  // Math.min before the power would overflow to Infinity for a long outage; the exponent is capped instead.
  const steps = Math.min(attempt, Math.ceil(Math.log(options.maxMs / options.initialMs) / Math.log(options.factor)) + 1);
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** steps);
  return Math.round(base * (1 - options.jitter * random));
}

/** The tries of one outage: each `next()` is the following pause; `reset()` once the page is welcomed again. */
export class ReconnectSchedule {
  private attempt = 0;

  constructor(private readonly random: () => number = Math.random, private readonly options: BackoffOptions = RECONNECT_BACKOFF) {}

  next(): number {
    return reconnectDelay(this.attempt++, this.random(), this.options);
  }

  /** How many tries this outage has had. */
  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

export interface CloseFacts {
  /** The WebSocket close code the page saw. */
  readonly code: number;
  /** The user pressed Leave. */
  readonly left: boolean;
  /** The node refused this page (a wrong cluster key): trying again cannot help. */
  readonly refused: boolean;
  /** The page was welcomed at least once: a first connection that fails is an error to show, not retry. */
  readonly joinedBefore: boolean;
}

/** Whether a closed socket should be opened again. */
export function shouldReconnect(facts: CloseFacts): boolean {
  if (facts.left || facts.refused || !facts.joinedBefore) return false;
  // The same device joined again from another tab: the newest tab keeps the place, this one stops
  // (two tabs retrying would take it from each other forever).
  return facts.code !== REPLACED_CLOSE_CODE;
}
