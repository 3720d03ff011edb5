// The partial model file: names cannot leave the models directory, the file is sparse at the model's
// full size, the state survives reopening, and a partial of another manifest is started over.
import assert from "node:assert/strict";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { STORIES_260K } from "../testing/paths.js";
import { tempDir } from "./fetch-test-support.js";
import { modelFilePath, PartialModel, PartialModelError, PARTIAL_SUFFIX } from "./partial-model.js";
import { loadOrCreateManifest, manifestRecord } from "./tensor-manifest.js";

test("model file names stay inside the models directory", () => {
  assert.equal(modelFilePath("/m", "owner/repo/x.gguf"), "/m/owner/repo/x.gguf");
  for (const name of ["../x.gguf", "a/../../x", "/etc/passwd", "a//b", "./x", "a\\b", "", "x\0y", "a/.."]) {
    assert.throws(() => modelFilePath("/m", name), PartialModelError, name);
  }
});

test("a partial is sparse, remembers verified tensors across reopening, and restarts for another manifest", async () => {
  const dir = await tempDir();
  try {
    const src = join(dir, "src.gguf");
    await writeFile(src, await readFile(STORIES_260K));
    const record = await loadOrCreateManifest(src);
    const whole = await readFile(src);
    const models = join(dir, "models");

    const p = await PartialModel.open(models, "sub/stories.gguf", record);
    assert.equal(p.path, join(models, "sub", "stories.gguf") + PARTIAL_SUFFIX);
    assert.equal((await stat(p.path)).size, record.manifest.fileSize);
    assert.ok((await stat(p.path)).blocks * 512 < 64 * 1024, "a new partial takes (almost) no disk");
    const t = record.manifest.tensors[5];
    await p.writeAt(0, whole.subarray(0, record.manifest.header.length));
    await p.writeAt(t.start, whole.subarray(t.start, t.start + t.length));
    p.markHeader();
    p.markTensor(t.name);
    assert.throws(() => p.markTensor("no.such.tensor"), PartialModelError);
    await assert.rejects(p.writeAt(record.manifest.fileSize - 1, new Uint8Array(2)), PartialModelError);
    await p.commit();
    assert.equal(await p.promote(), undefined, "not complete: no promotion");
    await p.close();

    const again = await PartialModel.open(models, "sub/stories.gguf", record);
    assert.ok(again.hasHeader && again.has(t.name));
    assert.deepEqual(again.presentTensors(), [t.name]);
    assert.equal((await PartialModel.existingManifest(models, "sub/stories.gguf"))?.sha256, record.sha256);
    await again.close();

    // Another manifest under the same name (a different model) starts from nothing.
    const other = manifestRecord({ ...record.manifest, fileSha256: "f".repeat(64) });
    const fresh = await PartialModel.open(models, "sub/stories.gguf", other);
    assert.ok(!fresh.hasHeader && fresh.presentTensors().length === 0);
    await fresh.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
