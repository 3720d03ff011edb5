// Progress display: a bar redrawn in place on a terminal, periodic plain lines otherwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { progressBar, ProgressReporter } from "./progress-view.js";

test("the bar fills with the fraction received and fits the width", () => {
  const line = progressBar({ received: 512 * 1024, total: 1024 * 1024, resumedFrom: 0 }, 2 * 1024 * 1024, 80);
  assert.equal(line, `[${"#".repeat(20)}${"-".repeat(20)}]  50%  512.0 KiB / 1.0 MiB  2.0 MiB/s`);
  assert.ok(line.length <= 80);
});

test("plain lines come every interval and once at the end; a terminal gets carriage-return redraws", () => {
  let t = 0;
  const out: string[] = [];
  const plain = new ProgressReporter({ write: (s) => out.push(s) }, 5000, () => t);
  for (t = 0; t <= 12_000; t += 1000) plain.update({ received: t * 100, total: 1_200_000, resumedFrom: 0 });
  t = 12_000;
  plain.finish();
  assert.deepEqual(out, ["41.7% (500000 of 1200000 bytes, 97.7 KiB/s)\n", "83.3% (1000000 of 1200000 bytes, 97.7 KiB/s)\n", "100.0% (1200000 of 1200000 bytes, 97.7 KiB/s)\n"]);

  const tty: string[] = [];
  const bar = new ProgressReporter({ write: (s) => tty.push(s), isTTY: true, columns: 60 }, 5000, () => t);
  for (t = 0; t < 1000; t += 10) bar.update({ received: t, total: 1000, resumedFrom: 0 });
  bar.finish();
  assert.equal(tty.length, 11, "redrawn at most every 100 ms, plus the final line");
  assert.ok(tty.every((s) => s.startsWith("\r[")));
  assert.ok(tty.at(-1)!.endsWith("\n"));
});
