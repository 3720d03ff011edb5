// The /join page's reconnect policy: the backoff doubles from 0.5 s to a 10 s cap, jitter only
// shortens a pause (by at most a quarter), a schedule restarts once welcomed, and only an unexpected
// loss of a joined page is retried (not a Leave, a refusal, a first failure or a replaced tab).
import assert from "node:assert/strict";
import { test } from "node:test";
import { REPLACED_CLOSE_CODE } from "../messages.js";
import { RECONNECT_BACKOFF, ReconnectSchedule, reconnectDelay, shouldReconnect } from "./reconnect-policy.js";

test("reconnectDelay doubles from 0.5 s and stops at 10 s; with no jitter drawn the pause is the base", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 50, 10_000].map((a) => reconnectDelay(a, 0)), [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000, 10_000]);
  const custom = { initialMs: 100, maxMs: 250, factor: 3, jitter: 0 };
  assert.deepEqual([0, 1, 2, 3].map((a) => reconnectDelay(a, 0.9, custom)), [100, 250, 250, 250]);
});

test("reconnectDelay's jitter takes off up to a quarter, never adds, and is spread by the draw", () => {
  for (const attempt of [0, 3, 5, 9]) {
    const base = reconnectDelay(attempt, 0);
    const low = reconnectDelay(attempt, 0.999_999);
    assert.ok(low >= Math.floor(base * (1 - RECONNECT_BACKOFF.jitter)) && low < base, `attempt ${attempt}: ${low} vs base ${base}`);
    assert.equal(reconnectDelay(attempt, 0.5), Math.round(base * (1 - RECONNECT_BACKOFF.jitter / 2)));
  }
  assert.ok(reconnectDelay(9, 0.999_999) <= RECONNECT_BACKOFF.maxMs);
  assert.equal(reconnectDelay(1, 0.4), 900);
});

test("reconnectDelay rejects a bad attempt or draw", () => {
  assert.throws(() => reconnectDelay(-1, 0), RangeError);
  assert.throws(() => reconnectDelay(1.5, 0), RangeError);
  assert.throws(() => reconnectDelay(0, 1), RangeError);
  assert.throws(() => reconnectDelay(0, Number.NaN), RangeError);
});

test("a ReconnectSchedule walks the backoff with its draws and starts over after reset", () => {
  const draws = [0, 0.5, 0, 0, 0, 0, 0, 0.2];
  let i = 0;
  const schedule = new ReconnectSchedule(() => draws[i++ % draws.length]);
  const pauses = Array.from({ length: 8 }, () => schedule.next());
  assert.deepEqual(pauses, [500, 875, 2000, 4000, 8000, 10_000, 10_000, 9500]);
  assert.equal(schedule.attempts, 8);
  schedule.reset();
  assert.equal(schedule.attempts, 0);
  assert.equal(schedule.next(), 500);
});

test("shouldReconnect: only a joined page that lost its socket unexpectedly tries again", () => {
  const lost = { code: 1006, left: false, refused: false, joinedBefore: true };
  assert.equal(shouldReconnect(lost), true);
  assert.equal(shouldReconnect({ ...lost, code: 1008 }), true, "the node closed it (e.g. stopping): it may come back");
  assert.equal(shouldReconnect({ ...lost, code: 1001 }), true);
  assert.equal(shouldReconnect({ ...lost, left: true }), false, "the user pressed Leave");
  assert.equal(shouldReconnect({ ...lost, refused: true }), false, "a wrong key stays wrong");
  assert.equal(shouldReconnect({ ...lost, joinedBefore: false }), false, "a first connection that fails is shown, not retried");
  assert.equal(shouldReconnect({ ...lost, code: REPLACED_CLOSE_CODE }), false, "another tab of this device took over");
});
