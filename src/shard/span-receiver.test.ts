// The span receiver: bytes verified per span before marking, chunks straddling adjacent spans, and
// bytes out of order or outside the requested spans refused before anything is written.
import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { STORIES_260K } from "../testing/paths.js";
import { tempDir } from "./fetch-test-support.js";
import { PartialModel } from "./partial-model.js";
import { RangeSourceError } from "./range-source.js";
import { SpanReceiver, type ExpectedSpan } from "./span-receiver.js";
import { loadOrCreateManifest } from "./tensor-manifest.js";

test("spans are verified before marking; straddling chunks work; stray bytes are refused unwritten", async () => {
  const dir = await tempDir();
  try {
    const src = join(dir, "src.gguf");
    const data = new Uint8Array(await readFile(STORIES_260K));
    await writeFile(src, data);
    const record = await loadOrCreateManifest(src);
    const partial = await PartialModel.open(join(dir, "models"), "s.gguf", record);
    const [a, b, c] = record.manifest.tensors.slice(3, 6);
    assert.equal(a.start + a.length, b.start, "adjacent tensors in this file");
    const spans: ExpectedSpan[] = [a, b, c].map((t) => ({ name: t.name, start: t.start, length: t.length, sha256: t.sha256 }));
    const seen: [string, boolean][] = [];
    const r = new SpanReceiver(partial, spans, (s, ok) => seen.push([s.name, ok]));

    // a and b in one chunk split off-boundary: a whole, b's first part.
    const cut = b.start + 100;
    await r.sink(a.start, data.subarray(a.start, cut));
    await assert.rejects(r.sink(cut + 1, data.subarray(cut + 1, cut + 10)), RangeSourceError, "a gap");
    await assert.rejects(r.sink(0, data.subarray(0, 10)), RangeSourceError, "bytes of no requested span");
    await r.sink(cut, data.subarray(cut, b.start + b.length));
    // c with one flipped byte.
    const bad = data.slice(c.start, c.start + c.length);
    bad[7] ^= 1;
    await r.sink(c.start, bad);
    await r.flush();
    assert.deepEqual(seen.sort(), [[a.name, true], [b.name, true], [c.name, false]].sort());
    assert.deepEqual(r.failed, [c.name]);
    assert.ok(partial.has(a.name) && partial.has(b.name) && !partial.has(c.name));
    await assert.rejects(r.sink(a.start, data.subarray(a.start, a.start + 4)), RangeSourceError, "a finished span again");
    await partial.close();
    // The refused chunk at offset 0 was never written: the header region is still a hole of zeros.
    const head = new Uint8Array(await readFile(partial.path)).subarray(0, 10);
    assert.deepEqual(head, new Uint8Array(10));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
