import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { decodeMessage, encodeMessage, TOPIC_NAMES, wireTopic } from "./topics.js";
import { MessageInvalidError, MessageTooLargeError } from "./errors.js";

const Schema = z.object({ kind: z.literal("hello"), n: z.number().int() });
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

test("the five topics have distinct versioned wire names", () => {
  assert.deepEqual([...TOPIC_NAMES], ["commands", "local_events", "global_events", "election", "connection"]);
  assert.equal(new Set(TOPIC_NAMES.map(wireTopic)).size, 5);
  assert.equal(wireTopic("election"), "tessera/1/election");
});

test("decode accepts valid JSON that matches the schema", () => {
  assert.deepEqual(decodeMessage(bytes('{"kind":"hello","n":3}'), Schema, 100), { ok: true, value: { kind: "hello", n: 3 } });
});

test("decode drops oversize (before parsing), malformed JSON, bad UTF-8 and schema failures", () => {
  assert.deepEqual(decodeMessage(bytes('{"kind":"hello","n":3}'), Schema, 10), { ok: false, reason: "oversize" });
  // Over the limit and not even JSON: still "oversize", so the size check comes first.
  assert.deepEqual(decodeMessage(bytes("x".repeat(11)), Schema, 10), { ok: false, reason: "oversize" });
  assert.deepEqual(decodeMessage(bytes("{nope"), Schema, 100), { ok: false, reason: "invalid" });
  assert.deepEqual(decodeMessage(new Uint8Array([0x22, 0xff, 0x22]), Schema, 100), { ok: false, reason: "invalid" });
  assert.deepEqual(decodeMessage(bytes('{"kind":"bye","n":3}'), Schema, 100), { ok: false, reason: "invalid" });
  assert.deepEqual(decodeMessage(bytes('{"kind":"hello","n":1.5}'), Schema, 100), { ok: false, reason: "invalid" });
});

test("encode refuses oversize and schema-invalid messages locally", () => {
  assert.equal(new TextDecoder().decode(encodeMessage({ kind: "hello", n: 1 }, Schema, 100, "t")), '{"kind":"hello","n":1}');
  assert.throws(() => encodeMessage({ kind: "hello", n: 1 }, Schema, 5, "t"), MessageTooLargeError);
  assert.throws(() => encodeMessage({ kind: "bye", n: 1 } as never, Schema, 100, "t"), MessageInvalidError);
  assert.throws(() => encodeMessage(undefined as never, Schema, 100, "t"), MessageInvalidError);
  // NaN serialises to null, which the receiver's schema would reject: caught before sending.
  assert.throws(() => encodeMessage({ kind: "hello", n: Number.NaN }, Schema, 100, "t"), MessageInvalidError);
});
