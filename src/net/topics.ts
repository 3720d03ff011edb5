import type { GossipSub, Message } from "@libp2p/gossipsub";
import { TopicValidatorResult } from "@libp2p/gossipsub";
import type { ZodType } from "zod";
import { ChannelConflictError, MessageInvalidError, MessageTooLargeError, NetConfigError } from "./errors.js";

// Typed JSON channels over gossipsub. Every inbound message passes a size check (before any parsing), strict
// UTF-8 decoding, JSON.parse and the channel's zod schema inside gossipsub's topic validator, so a bad message
// is neither delivered nor forwarded to other peers; it is only counted.

export const TOPIC_NAMES = ["commands", "local_events", "global_events", "election", "connection"] as const;
export type TopicName = (typeof TOPIC_NAMES)[number];

/** The gossipsub topic string of a Tessera topic; versioned so a future wire change can run beside this one. */
export function wireTopic(name: TopicName): string {
  return `tessera/1/${name}`;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Largest per-channel limit; the gossipsub inbound frame limit (host.ts) leaves room above it for the RPC. */
export const MAX_CHANNEL_BYTES = 4 * 1024 * 1024;

export interface ChannelOptions {
  /** Messages whose UTF-8 JSON is larger than this are dropped (inbound) or refused (publish). */
  maxBytes?: number;
}

export interface ChannelStats {
  received: number;
  dropped_invalid: number;
  dropped_oversize: number;
  /** Handler calls that threw or rejected; the message still counts as received. */
  handler_errors: number;
}

export interface MessageMeta {
  /** Peer id of the node that signed (published) the message. */
  from: string;
}

// Returns unknown so expression-bodied arrows fit; a returned promise that rejects counts as a handler error.
export type ChannelHandler<T> = (msg: T, meta: MessageMeta) => unknown;

export interface Channel<T> {
  readonly topic: TopicName;
  /** Validates and publishes; resolves to the number of peers it was sent to. Throws on invalid/oversize. */
  publish(msg: T): Promise<number>;
  /** Adds a handler; returns a function that removes it. */
  subscribe(handler: ChannelHandler<T>): () => void;
  readonly stats: Readonly<ChannelStats>;
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; reason: "oversize" | "invalid" };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The pure inbound check: size first (cheap, before parsing), then UTF-8, JSON and schema. */
export function decodeMessage<T>(data: Uint8Array, schema: ZodType<T>, maxBytes: number): DecodeResult<T> {
  if (data.byteLength > maxBytes) return { ok: false, reason: "oversize" };
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(data));
  } catch {
    return { ok: false, reason: "invalid" };
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: "invalid" };
}

/** The outbound check: the bytes a receiver will see must pass the receiver's own check. */
export function encodeMessage<T>(msg: T, schema: ZodType<T>, maxBytes: number, topic: string): Uint8Array {
  const json = JSON.stringify(msg) as string | undefined;
  if (json === undefined) throw new MessageInvalidError(`${topic}: message is not JSON-serialisable`);
  const bytes = new TextEncoder().encode(json);
  if (bytes.byteLength > maxBytes) {
    throw new MessageTooLargeError(`${topic}: message is ${bytes.byteLength} bytes, limit ${maxBytes}`);
  }
  const parsed = schema.safeParse(JSON.parse(json));
  if (!parsed.success) throw new MessageInvalidError(`${topic}: ${parsed.error.message}`);
  return bytes;
}

interface ChannelEntry {
  topic: TopicName;
  channel: Channel<unknown>;
  schema: ZodType<unknown>;
  maxBytes: number;
  handlers: Set<ChannelHandler<unknown>>;
  stats: ChannelStats;
}

/** Owns the channels of one host: one channel per topic, each with one gossipsub subscription. */
export class ChannelRegistry {
  /** Keyed by wire topic, which is what inbound messages carry. */
  private readonly entries = new Map<string, ChannelEntry>();
  // The validator already parsed the message; the delivery path reuses that value instead of parsing twice.
  private readonly validated = new WeakMap<Message, unknown>();
  private readonly onMessage = (evt: CustomEvent<Message>): void => this.deliver(evt.detail);

  constructor(private readonly pubsub: GossipSub) {
    pubsub.addEventListener("message", this.onMessage);
  }

  /**
   * The channel for `topic`. Asking again with the same schema and limit returns the same channel (so two
   * modules can share a topic); a different schema or limit is a programming error.
   */
  channel<T>(topic: TopicName, schema: ZodType<T>, opts: ChannelOptions = {}): Channel<T> {
    if (!TOPIC_NAMES.includes(topic)) throw new NetConfigError(`unknown topic "${String(topic)}"`);
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_CHANNEL_BYTES) {
      throw new NetConfigError(`maxBytes must be an integer in 1..${MAX_CHANNEL_BYTES}`);
    }
    const wire = wireTopic(topic);
    const existing = this.entries.get(wire);
    if (existing !== undefined) {
      if (existing.schema !== schema || existing.maxBytes !== maxBytes) {
        throw new ChannelConflictError(`topic "${topic}" already has a channel with another schema or maxBytes`);
      }
      return existing.channel as Channel<T>;
    }
    const entry = this.create(topic, schema as ZodType<unknown>, maxBytes);
    this.entries.set(wire, entry);
    return entry.channel as Channel<T>;
  }

  /** Removes validators and subscriptions (the host calls this on stop). */
  close(): void {
    this.pubsub.removeEventListener("message", this.onMessage);
    for (const wire of this.entries.keys()) {
      this.pubsub.topicValidators.delete(wire);
      this.pubsub.unsubscribe(wire);
    }
    this.entries.clear();
  }

  private create(topic: TopicName, schema: ZodType<unknown>, maxBytes: number): ChannelEntry {
    const wire = wireTopic(topic);
    const stats: ChannelStats = { received: 0, dropped_invalid: 0, dropped_oversize: 0, handler_errors: 0 };
    const handlers = new Set<ChannelHandler<unknown>>();
    const pubsub = this.pubsub;

    pubsub.topicValidators.set(wire, (_peer, msg) => {
      const result = decodeMessage(msg.data, schema, maxBytes);
      if (result.ok) {
        this.validated.set(msg, result.value);
        return TopicValidatorResult.Accept;
      }
      countDrop(stats, result.reason);
      // Reject (not Ignore): the message is not forwarded, and gossipsub may score the sender down.
      return TopicValidatorResult.Reject;
    });
    pubsub.subscribe(wire);

    const channel: Channel<unknown> = {
      topic,
      async publish(msg: unknown): Promise<number> {
        const bytes = encodeMessage(msg, schema, maxBytes, topic);
        const result = await pubsub.publish(wire, bytes);
        return result.recipients.length;
      },
      subscribe(handler: ChannelHandler<unknown>): () => void {
        // Wrap so adding one function twice still gives two independent subscriptions.
        const wrapped: ChannelHandler<unknown> = (m, meta) => handler(m, meta);
        handlers.add(wrapped);
        return () => handlers.delete(wrapped);
      },
      get stats(): Readonly<ChannelStats> {
        return { ...stats };
      },
    };
    return { topic, channel, schema, maxBytes, handlers, stats };
  }

  private deliver(msg: Message): void {
    const entry = this.entries.get(msg.topic);
    if (entry === undefined) return;
    let value: unknown;
    if (this.validated.has(msg)) {
      value = this.validated.get(msg);
    } else {
      // Not seen by our validator (should not happen): check again rather than deliver unchecked data.
      const result = decodeMessage(msg.data, entry.schema, entry.maxBytes);
      if (!result.ok) {
        countDrop(entry.stats, result.reason);
        return;
      }
      value = result.value;
    }
    entry.stats.received++;
    const meta: MessageMeta = { from: msg.type === "signed" ? msg.from.toString() : "" };
    for (const handler of entry.handlers) {
      // A handler's failure is its own; it must not stop other handlers or reach gossipsub.
      try {
        const ret = handler(value, meta);
        if (ret instanceof Promise) ret.catch(() => entry.stats.handler_errors++);
      } catch {
        entry.stats.handler_errors++;
      }
    }
  }
}

function countDrop(stats: ChannelStats, reason: "oversize" | "invalid"): void {
  if (reason === "oversize") stats.dropped_oversize++;
  else stats.dropped_invalid++;
}
