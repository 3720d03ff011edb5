// Which tensors and bytes a shard needs, on stories260K (separate output head) and a random model with
// a tied head and rope_freqs; and the tensor manifest: its hashes equal the tensors' own, the sidecar
// is reused while the file is unchanged, and malformed manifests are refused.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openGguf, readGgufHeader } from "../gguf/reader.js";
import { STORIES_260K } from "../testing/paths.js";
import { tempDir, writeRandomQ8Model } from "./fetch-test-support.js";
import { coalesce, layerCount, shardByteRanges, shardTensorNames } from "./tensor-ranges.js";
import { computeManifest, loadOrCreateManifest, manifestMatchesHeader, manifestPath, manifestRecord, ManifestError, parseManifest } from "./tensor-manifest.js";

const layerOf = (n: string): number | undefined => (/^blk\.(\d+)\./.exec(n) ? Number(/^blk\.(\d+)\./.exec(n)![1]) : undefined);

test("stories260K: each range gets its layers' tensors, the first the embedding, the last the norm and head", async () => {
  const header = await readGgufHeader(STORIES_260K);
  const layers = layerCount(header);
  assert.equal(layers, 5);
  const middle = shardTensorNames(header, { start: 1, end: 4 });
  assert.deepEqual(new Set(middle.map(layerOf)), new Set([1, 2, 3]));
  assert.equal(middle.length, 3 * 9);
  const first = shardTensorNames(header, { start: 0, end: 2 });
  assert.ok(first.includes("token_embd.weight") && !first.includes("output.weight") && !first.includes("output_norm.weight"));
  const last = shardTensorNames(header, { start: 3, end: 5 });
  assert.ok(last.includes("output.weight") && last.includes("output_norm.weight") && !last.includes("token_embd.weight"));
  const all = shardTensorNames(header, { start: 0, end: layers });
  assert.equal(all.length, header.tensors.length);

  const ranges = shardByteRanges(header, { start: 1, end: 4 });
  assert.deepEqual(ranges.header, { start: 0, length: header.dataOffset });
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  for (const r of ranges.tensors) {
    const t = byName.get(r.name)!;
    assert.deepEqual([r.start, r.length], [header.dataOffset + t.offset, t.byteSize]);
  }
  assert.equal(ranges.totalBytes, header.dataOffset + middle.reduce((s, n) => s + byName.get(n)!.byteSize, 0));
  // Layers 1..3 lie back to back in this file, so they coalesce into one read.
  assert.equal(coalesce(ranges.tensors).length, 1);
  assert.throws(() => shardTensorNames(header, { start: 3, end: 6 }), RangeError);
  assert.throws(() => shardTensorNames(header, { start: 2, end: 2 }), RangeError);
});

test("a tied output head brings the embedding to the last stage; rope_freqs goes to every stage", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "tied.gguf");
    await writeRandomQ8Model(path, 3);
    const header = await readGgufHeader(path);
    assert.ok(!header.tensors.some((t) => t.name === "output.weight"));
    const middle = shardTensorNames(header, { start: 1, end: 2 });
    assert.ok(middle.includes("rope_freqs.weight") && !middle.includes("token_embd.weight"));
    const last = shardTensorNames(header, { start: 2, end: 3 });
    assert.ok(last.includes("token_embd.weight") && last.includes("output_norm.weight") && last.includes("rope_freqs.weight"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("manifest: per-tensor sha256 equals each tensor's bytes; the sidecar is reused until the file changes", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "m.gguf");
    await writeFile(path, await readFile(STORIES_260K));
    const manifest = await computeManifest(path);
    const whole = await readFile(path);
    assert.equal(manifest.fileSha256, createHash("sha256").update(whole).digest("hex"));
    assert.equal(manifest.header.sha256, createHash("sha256").update(whole.subarray(0, manifest.header.length)).digest("hex"));
    const file = await openGguf(path);
    for (const t of manifest.tensors) {
      assert.equal(t.sha256, createHash("sha256").update(await file.readTensor(t.name)).digest("hex"), t.name);
    }
    assert.ok(manifestMatchesHeader(manifest, file.header));
    await file.close();

    const first = await loadOrCreateManifest(path);
    assert.equal(first.sha256, manifestRecord(manifest).sha256, "the id is the sha256 of the deterministic serialisation");
    assert.deepEqual(new Uint8Array(await readFile(manifestPath(path))), first.bytes);
    // A sidecar that is newer than the file is trusted as it is: tamper with it to prove it is not recomputed.
    const doctored = JSON.parse(new TextDecoder().decode(first.bytes)) as { tensors: { sha256: string }[] };
    doctored.tensors[0].sha256 = "0".repeat(64);
    await writeFile(manifestPath(path), JSON.stringify(doctored));
    assert.equal((await loadOrCreateManifest(path)).manifest.tensors[0].sha256, "0".repeat(64));
    // Once the file is newer than its sidecar, the manifest is computed again.
    const later = new Date(Date.now() + 5000);
    await utimes(path, later, later);
    assert.equal((await loadOrCreateManifest(path)).sha256, first.sha256);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("manifest parsing refuses bad JSON, bad hashes, overlapping or out-of-file tensors, duplicates", () => {
  const good = {
    format: "tessera-tensor-manifest/1", fileSize: 100, fileSha256: "a".repeat(64),
    header: { start: 0, length: 32, sha256: "b".repeat(64) },
    tensors: [{ name: "x", start: 32, length: 32, sha256: "c".repeat(64) }, { name: "y", start: 64, length: 36, sha256: "d".repeat(64) }],
  };
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  assert.equal(parseManifest(enc(good)).manifest.tensors.length, 2);
  const bad: unknown[] = [
    { ...good, fileSha256: "A".repeat(64) },
    { ...good, tensors: [good.tensors[0], { ...good.tensors[1], start: 40 }] },
    { ...good, tensors: [good.tensors[0], { ...good.tensors[1], length: 37 }] },
    { ...good, tensors: [good.tensors[0], { ...good.tensors[1], name: "x" }] },
    { ...good, header: { ...good.header, start: 1 } },
    { ...good, extra: 1 },
  ];
  for (const b of bad) assert.throws(() => parseManifest(enc(b)), ManifestError, JSON.stringify(b));
  assert.throws(() => parseManifest(new Uint8Array([0xff, 0xfe])), ManifestError);
});
