// A fingerprint of the cluster state that nodes can exchange to check they agree. JSON.stringify keeps
// insertion order, and two replicas can build equal records in different orders (a rejoin, an edge
// re-created), so the hash is taken over a canonical JSON: keys sorted at every level, arrays in order.
import { createHash } from "node:crypto";
import type { IndexedEvent } from "./events.js";
import type { ClusterState } from "./state.js";

/**
 * Canonical JSON of a JSON-shaped value: object keys sorted (by UTF-16 code units, which is what
 * Array.prototype.sort does and is the same on every platform), `undefined` fields omitted as
 * JSON.stringify does. Throws on values JSON cannot represent faithfully (NaN, Infinity, functions).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`cannot hash non-finite number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new TypeError(`cannot hash a ${typeof value}`);
}

/** sha256 (hex) of the canonical JSON of the state. Equal states give equal hashes on every node. */
export function stateHash(state: ClusterState): string {
  return createHash("sha256").update(canonicalJson(state), "utf8").digest("hex");
}

/**
 * The link to an event from the one after it (IndexedEvent.prev): 128 bits of sha256 over its canonical
 * JSON, which includes its own `prev`, so equal digests mean equal logs up to and including it.
 */
export function eventDigest(event: IndexedEvent): string {
  return createHash("sha256").update(canonicalJson(event), "utf8").digest("hex").slice(0, 32);
}
