// Named errors for the cluster core. Callers branch on the class (or `name`), never on message text:
// an OutOfOrderEvent means "buffer and ask for the gap", a StaleTermEvent means "drop it, its master
// was deposed", an InvalidMessage means "the peer sent garbage", a LogFileError means "the disk log
// is unusable or misused".

/** apply() was handed an index other than lastEventIndex + 1; the caller must buffer (see OrderedLog). */
export class OutOfOrderEvent extends Error {
  override readonly name = "OutOfOrderEvent";
  constructor(
    readonly expected: number,
    readonly got: number,
  ) {
    super(`expected event index ${expected}, got ${got}`);
  }
}

/**
 * apply() was handed an event stamped with a term older than the master already recorded in the
 * state: it was written by a deposed master and must never change the state.
 */
export class StaleTermEvent extends Error {
  override readonly name = "StaleTermEvent";
  constructor(
    readonly index: number,
    readonly eventTerm: number,
    readonly currentTerm: number,
  ) {
    super(`event ${index} carries term ${eventTerm}, but the current master's term is ${currentTerm}`);
  }
}

/** An event, indexed event or command failed schema validation (wrong shape, too large, unknown type). */
export class InvalidMessage extends Error {
  override readonly name = "InvalidMessage";
  constructor(
    readonly what: string,
    readonly issues: readonly string[],
  ) {
    super(`invalid ${what}: ${issues.slice(0, 5).join("; ")}`);
  }
}

/** A term went backwards where terms may only grow (sequencer, election). */
export class TermRegression extends Error {
  override readonly name = "TermRegression";
  constructor(
    readonly current: number,
    readonly requested: number,
  ) {
    super(`term may not go from ${current} to ${requested}`);
  }
}

/** The append-only event log file was misused (non-consecutive append) or could not be written. */
export class LogFileError extends Error {
  override readonly name = "LogFileError";
  constructor(message: string) {
    super(message);
  }
}
