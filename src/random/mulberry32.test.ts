import { test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "./mulberry32.js";

test("skipping k draws lands where k plain draws do, past 2^32 as well", () => {
  const plain = mulberry32(123);
  const seen: number[] = [];
  for (let i = 0; i < 1000; i++) seen.push(plain());
  for (const k of [0, 1, 2, 499, 999]) assert.equal(mulberry32(123, k)(), seen[k], `skip ${k}`);
  // The state wraps every 2^32 draws, so skipping 2^32 + k equals skipping k.
  assert.equal(mulberry32(123, 2 ** 32 + 7)(), seen[7]);
  assert.equal(mulberry32(123, 3 * 2 ** 32 + 999)(), seen[999]);
  assert.throws(() => mulberry32(1, -1), /cannot skip/);
  assert.throws(() => mulberry32(1, 0.5), /cannot skip/);
});
