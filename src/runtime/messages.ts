// What nodes say to each other on the cluster topics, validated on arrival by the net layer.
import { z } from "zod";
import { EventSchema, IndexedEventSchema, NodeIdSchema } from "../cluster/index.js";

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Time = z.number().finite().min(0);

/**
 * Sent by every node on `election` twice a second: liveness, the credentials elections rank by, and
 * which master (and term) the sender follows. A master's own heartbeat doubles as its claim.
 */
export const HeartbeatSchema = z.strictObject({
  kind: z.literal("heartbeat"),
  nodeId: NodeIdSchema,
  name: z.string().min(1).max(128),
  addresses: z.array(z.string().max(256)).max(32),
  joinedAt: Time,
  eventsSeen: Count,
  lastEventIndex: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER),
  term: Count,
  masterId: NodeIdSchema.nullable(),
  leaving: z.boolean(),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/** A node announcing itself master for a term (see cluster/election.ts for the rules). */
export const ClaimSchema = z.strictObject({
  kind: z.literal("claim"),
  nodeId: NodeIdSchema,
  term: Count,
  joinedAt: Time,
  eventsSeen: Count,
});
export type Claim = z.infer<typeof ClaimSchema>;

export const ElectionMessageSchema = z.discriminatedUnion("kind", [HeartbeatSchema, ClaimSchema]);
export type ElectionMessage = z.infer<typeof ElectionMessageSchema>;

/** The master's sequenced events, in batches (catch-up replies reuse the same message). */
export const GlobalEventsSchema = z.strictObject({ events: z.array(IndexedEventSchema).min(1).max(512) });
export type GlobalEvents = z.infer<typeof GlobalEventsSchema>;

/** Events a node proposes; only the master turns them into log entries. */
export const LocalEventsSchema = z.strictObject({ origin: NodeIdSchema, events: z.array(EventSchema).min(1).max(64) });
export type LocalEvents = z.infer<typeof LocalEventsSchema>;
