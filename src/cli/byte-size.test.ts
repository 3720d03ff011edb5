import { test } from "node:test";
import assert from "node:assert/strict";
import { parseByteSize } from "./byte-size.js";

test("parseByteSize reads bytes and binary units, and refuses anything else", () => {
  assert.equal(parseByteSize("4096"), 4096);
  assert.equal(parseByteSize("8GiB"), 8 * 2 ** 30);
  assert.equal(parseByteSize("512M"), 512 * 2 ** 20);
  assert.equal(parseByteSize("1.5g"), 1.5 * 2 ** 30);
  assert.equal(parseByteSize(" 2 KB "), 2048);
  for (const bad of ["", "lots", "-1G", "1e9", "5 PB", "9".repeat(30)]) assert.equal(parseByteSize(bad), undefined, bad);
});
