import assert from "node:assert/strict";
import { test } from "node:test";
import { bytesToF32, decodeJoinFrame, encodeJoinFrame, f32ToBytes, JoinFrameError } from "./frame-codec.js";
import { PageMessageSchema } from "./messages.js";
import { deviceIdOf } from "./page-session.js";

test("join frames round-trip a header and an f32 payload", () => {
  const hidden = new Float32Array([1.5, -2, 3.25, Number.MIN_VALUE]);
  const frame = decodeJoinFrame(encodeJoinFrame({ kind: "ran", id: 3 }, f32ToBytes(hidden)), 1024);
  assert.deepEqual(frame.header, { kind: "ran", id: 3 });
  assert.deepEqual(bytesToF32(frame.payload), hidden);
});

test("malformed join frames are refused with JoinFrameError before anything is parsed", () => {
  const bad: [string, Uint8Array][] = [
    ["too short", new Uint8Array([1, 0])],
    ["header past the end", new Uint8Array([9, 0, 0, 0, 123])],
    ["header over the cap", new Uint8Array([0, 0, 0, 1])],
    ["not JSON", new Uint8Array([2, 0, 0, 0, 123, 123])],
    ["not UTF-8", new Uint8Array([1, 0, 0, 0, 0xff])],
  ];
  for (const [why, bytes] of bad) assert.throws(() => decodeJoinFrame(bytes, 1024), JoinFrameError, why);
  assert.throws(() => bytesToF32(new Uint8Array(6)), JoinFrameError);
});

test("page messages are validated: unknown kinds, extra fields and bad secrets are rejected", () => {
  assert.equal(PageMessageSchema.safeParse({ kind: "heartbeat" }).success, true);
  assert.equal(PageMessageSchema.safeParse({ kind: "heartbeat", extra: 1 }).success, false);
  assert.equal(PageMessageSchema.safeParse({ kind: "shutdown" }).success, false);
  assert.equal(PageMessageSchema.safeParse({ kind: "ran", instanceId: "a", id: 1, outputs: [{ seq: "s", kind: "hidden", values: -1 }] }).success, false);
  assert.equal(PageMessageSchema.safeParse({ kind: "hello", key: "", secret: "../../etc", name: "x", profile: {} }).success, false);
});

test("a device id derives from the page's secret, stably, and never reveals it", () => {
  const secret = "ab".repeat(32);
  assert.equal(deviceIdOf(secret), deviceIdOf(secret));
  assert.notEqual(deviceIdOf(secret), deviceIdOf("cd".repeat(32)));
  assert.match(deviceIdOf(secret), /^web-[0-9a-f]{40}$/);
  assert.ok(!deviceIdOf(secret).includes(secret.slice(0, 8)));
});
