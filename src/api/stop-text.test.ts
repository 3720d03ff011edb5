// StopText against a direct reference that checks the text a character at a time. Every way of
// splitting the text into pieces must release exactly the reference's prefix, and never any of the stop string.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../engine/sampler.js";
import { StopText } from "./stop-text.js";

/** Checks the text a character at a time: the first stop string to complete (the longest at a tie) cuts it. */
function reference(text: string, stops: readonly string[]): { out: string; stopped: boolean } {
  for (let n = 1; n <= text.length; n++) {
    const done = stops.filter((s) => text.slice(0, n).endsWith(s)).sort((a, b) => b.length - a.length);
    if (done.length > 0) return { out: text.slice(0, n - done[0].length), stopped: true };
  }
  return { out: text, stopped: false };
}

function run(pieces: readonly string[], stops: readonly string[]): { out: string; stopped: boolean; released: string[] } {
  const f = new StopText(stops);
  const released: string[] = [];
  for (const p of pieces) {
    released.push(f.push(p));
    if (f.stopped) break;
  }
  if (!f.stopped) released.push(f.flush());
  return { out: released.join(""), stopped: f.stopped, released };
}

test("a stop string split across pieces is cut out, and nothing after it is released", () => {
  const r = run(["Once upon a ti", "me, there", " was THE", " E", "ND of it"], ["THE END"]);
  assert.equal(r.out, "Once upon a time, there was ");
  assert.ok(r.stopped);
  // "THE" was held back while it could still begin the stop string.
  assert.equal(r.released[2], " was ");
});

test("a held-back prefix that turns out not to stop is released in order", () => {
  const r = run(["abc\n", "\n", "x", "y\n"], ["\n\n\n"]);
  assert.equal(r.out, "abc\n\nxy\n");
  assert.equal(r.stopped, false);
  // The last "\n" is held until the end says no stop string follows.
  assert.deepEqual(r.released, ["abc", "", "\n\nx", "y", "\n"]);
});

test("the first stop string to complete wins, however the text is split", () => {
  assert.equal(run(["xx ab", "cd"], ["bcd", "b"]).out, "xx a");
  assert.equal(run(["abcd"], ["abcd", "c"]).out, "ab");
  assert.equal(run(["a", "b", "c", "d"], ["abcd", "c"]).out, "ab");
  assert.equal(run(["xabc"], ["bc", "abc"]).out, "x");
  assert.equal(run(["one. two."], [".", "two"]).out, "one");
  assert.equal(run(["say <|im", "_end|> more"], ["<|im_end|>", "never"]).out, "say ");
});

test("random texts, stop sets and splits agree with the character-at-a-time reference", () => {
  const rng = new Rng(7);
  const pick = (n: number) => Math.floor(rng.next() * n);
  const alphabet = ["a", "b", "ab", "\n", " ", "é", "😀"];
  for (let round = 0; round < 2000; round++) {
    let text = "";
    for (let i = pick(30); i > 0; i--) text += alphabet[pick(alphabet.length)];
    const stops: string[] = [];
    for (let i = 1 + pick(4); i > 0; i--) {
      let s = "";
      for (let j = 1 + pick(4); j > 0; j--) s += alphabet[pick(alphabet.length)];
      stops.push(s);
    }
    const pieces: string[] = [];
    // Split on code points, as the stream decoder releases whole characters.
    const chars = [...text];
    for (let i = 0; i < chars.length; ) {
      const n = 1 + pick(4);
      pieces.push(chars.slice(i, i + n).join(""));
      i += n;
    }
    const got = run(pieces, stops);
    const want = reference(text, stops);
    assert.deepEqual({ out: got.out, stopped: got.stopped }, want, JSON.stringify({ pieces, stops }));
  }
});

test("no stop strings pass every piece straight through; an empty one is refused", () => {
  assert.deepEqual(run(["a", "b"], []).released, ["a", "b", ""]);
  assert.throws(() => new StopText(["x", ""]), RangeError);
});
