// The index: header facts from the GGUF reader, sha256 cached by size and mtime, broken files skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, openSync, closeSync, statSync, utimesSync, writeSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { STORIES_260K, tempDir } from "../testing/paths.js";
import { ModelIndexSchema } from "./index-entry.js";
import { scanModels } from "./scan.js";
import { sidecarPath } from "./sidecar.js";

const STORIES_SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

test("scan lists each GGUF with size, sha256, architecture, types and layers; a broken one is skipped", async () => {
  const tmp = tempDir();
  try {
    mkdirSync(join(tmp.dir, "sub"));
    copyFileSync(STORIES_260K, join(tmp.dir, "sub", "s.gguf"));
    writeFileSync(join(tmp.dir, "broken.gguf"), "not a gguf at all");
    writeFileSync(join(tmp.dir, "notes.txt"), "ignored");
    const skipped: string[] = [];
    const entries = await scanModels(tmp.dir, { onSkip: (p) => skipped.push(p) });
    assert.deepEqual(skipped, [join(tmp.dir, "broken.gguf")]);
    assert.equal(entries.length, 1);
    const e = entries[0]!;
    assert.deepEqual(
      { name: e.name, file: e.file, size: e.size, sha256: e.sha256, architecture: e.architecture, layers: e.layers, tensorTypes: e.tensorTypes, tensorCount: e.tensorCount },
      { name: "sub/s.gguf", file: "s.gguf", size: 1185376, sha256: STORIES_SHA256, architecture: "llama", layers: 5, tensorTypes: ["F32"], tensorCount: 48 },
    );
    assert.ok(ModelIndexSchema.safeParse(entries).success, "entries fit the schema the node state uses");
    assert.deepEqual(await scanModels(join(tmp.dir, "missing")), []);
  } finally {
    tmp.cleanup();
  }
});

test("rescans reuse the cached sha256 while size and mtime are unchanged, and rehash when mtime moves", async () => {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, "s.gguf");
    copyFileSync(STORIES_260K, path);
    // A whole-second mtime, so that putting it back below restores it exactly (utimes has ms precision).
    const stamp = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    utimesSync(path, stamp, stamp);
    const first = await scanModels(tmp.dir);
    assert.equal(first[0]!.sha256, STORIES_SHA256);
    assert.ok(statSync(sidecarPath(path)).isFile());
    // Change the last byte but put size and mtime back: a rescan that hashed would notice, a cached one cannot.
    const { atime, mtime, size } = statSync(path);
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.from([0x5a]), 0, 1, size - 1);
    closeSync(fd);
    utimesSync(path, atime, mtime);
    assert.equal((await scanModels(tmp.dir))[0]!.sha256, STORIES_SHA256, "unchanged size+mtime: no rehash");
    utimesSync(path, atime, new Date(mtime.getTime() + 5000));
    const rehashed = (await scanModels(tmp.dir))[0]!.sha256;
    assert.notEqual(rehashed, STORIES_SHA256, "a new mtime: rehashed");
    assert.match(rehashed, /^[0-9a-f]{64}$/);
  } finally {
    tmp.cleanup();
  }
});
