// Schemas for the scalars every cluster message is built from, and for the "loose but bounded" records
// that carry device and telemetry data until the telemetry issue gives them a precise shape.
// Every value that arrives from a peer is untrusted: each string, number, list and nesting level has a
// cap, so one malformed or hostile message cannot make every node in the cluster allocate without bound.
import { z } from "zod";

export const LIMITS = {
  /** Node, instance and other ids: long enough for a libp2p peer id (52 chars) or a UUID. */
  idMaxChars: 128,
  /** Free text: display names, model names, multiaddrs, telemetry strings. */
  textMaxChars: 256,
  /** Any list (addresses, GPUs, placement slices, telemetry arrays) and any record's key count. */
  listMax: 64,
  /** Nesting depth of a loose record (a record of arrays of records is depth 3). */
  looseDepth: 4,
  /** Total values (leaves and containers) in one loose value, so 64^depth cannot happen. */
  looseMaxNodes: 4096,
  /** Milliseconds since the epoch: the largest value a JS Date accepts. */
  maxTimestampMs: 8_640_000_000_000_000,
  /** One hour: anything slower is a measurement error, not a link. */
  maxLatencyMs: 3_600_000,
  /** One petabyte per second. */
  maxThroughputBps: 1e15,
  /** Layer indexes in a placement slice. */
  maxLayer: 1_000_000,
} as const;

// Ids exclude '>' and '#' so the composite keys "from->to" (edges) and "instance#node" (runners) can
// never be ambiguous, and exclude whitespace and control characters so they print and log safely.
const ID_PATTERN = /^[A-Za-z0-9._:@+=/-]+$/;
// eslint-disable-next-line no-control-regex
const PRINTABLE = /^[^\u0000-\u001f\u007f]*$/;

export const IdSchema = z.string().min(1).max(LIMITS.idMaxChars).regex(ID_PATTERN);
export const NodeIdSchema = IdSchema;
export const InstanceIdSchema = IdSchema;
export const TextSchema = z.string().max(LIMITS.textMaxChars).regex(PRINTABLE);
export const ModelSchema = TextSchema.min(1);
export const TimestampSchema = z.number().int().min(0).max(LIMITS.maxTimestampMs);
/** Terms and log indexes: non-negative safe integers, so +1 is always exact. */
export const CounterSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER - 1);
export const LatencySchema = z.number().min(0).max(LIMITS.maxLatencyMs);
export const ThroughputSchema = z.number().min(0).max(LIMITS.maxThroughputBps);

export type LooseValue = string | number | boolean | null | readonly LooseValue[] | LooseRecord;
export interface LooseRecord {
  readonly [key: string]: LooseValue;
}

// Keys that would reach Object.prototype if a consumer ever copied the record with plain assignment.
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const LooseKeySchema = z
  .string()
  .min(1)
  .max(LIMITS.idMaxChars)
  .regex(PRINTABLE)
  .refine((k) => !FORBIDDEN_KEYS.has(k), "reserved key");

const LeafSchema = z.union([TextSchema, z.number(), z.boolean(), z.null()]);

function recordOf(inner: z.ZodType<LooseValue>): z.ZodType<LooseRecord> {
  return z
    .record(LooseKeySchema, inner)
    .refine((r) => Object.keys(r).length <= LIMITS.listMax, `at most ${LIMITS.listMax} keys`);
}

// zod has no depth limit for recursive schemas, so the nesting is unrolled: level d accepts values at
// most d containers deep.
function looseAtDepth(depth: number): z.ZodType<LooseValue> {
  if (depth === 0) return LeafSchema;
  const inner = looseAtDepth(depth - 1);
  return z.union([LeafSchema, z.array(inner).max(LIMITS.listMax), recordOf(inner)]);
}

/** Counts values in a (depth-checked) loose value, stopping early once over the budget. */
function countValues(value: LooseValue, budget: number): number {
  let count = 1;
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) {
      count += countValues(child, budget - count);
      if (count > budget) return count;
    }
  }
  return count;
}

const withinBudget = (v: LooseValue) => countValues(v, LIMITS.looseMaxNodes) <= LIMITS.looseMaxNodes;

/** A record of bounded strings, finite numbers, booleans, nulls, arrays and records. */
export const LooseRecordSchema: z.ZodType<LooseRecord> = recordOf(looseAtDepth(LIMITS.looseDepth - 1)).refine(
  withinBudget,
  `at most ${LIMITS.looseMaxNodes} values`,
);

/** A list of loose records (one per GPU), with one value budget for the whole list. */
export const LooseRecordListSchema = z
  .array(recordOf(looseAtDepth(LIMITS.looseDepth - 2)))
  .max(LIMITS.listMax)
  .refine(withinBudget, `at most ${LIMITS.looseMaxNodes} values`);
