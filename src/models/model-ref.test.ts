// Model names and the models directory: Hub names, local paths, and where each lands on disk.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { STORIES_260K, tempDir } from "../testing/paths.js";
import { ModelNotFoundError, ModelRefError } from "./errors.js";
import { resolveModelDir } from "./model-dir.js";
import { hubFilePath, parseModelRef, resolveModelRef } from "./model-ref.js";
import { pickGgufFile } from "./pick-file.js";

test("the models directory: flag, then TESSERA_MODELS_DIR, then <data dir>/models", () => {
  const home = "/home/u";
  assert.equal(resolveModelDir({ flag: "/m", env: { TESSERA_MODELS_DIR: "/e" }, home }), "/m");
  assert.equal(resolveModelDir({ env: { TESSERA_MODELS_DIR: "~/e" }, home }), "/home/u/e");
  assert.equal(resolveModelDir({ env: {}, home }), "/home/u/.tessera/models");
  assert.equal(resolveModelDir({ env: {}, home, dataDir: "/data" }), "/data/models");
  assert.equal(resolveModelDir({ flag: "", env: { TESSERA_MODELS_DIR: "" }, home }), "/home/u/.tessera/models");
});

test("names: owner/repo[:file] is the Hub, anything path-like is a path", () => {
  assert.deepEqual(parseModelRef("ggml-org/models"), { kind: "hub", repo: "ggml-org/models", file: undefined });
  assert.deepEqual(parseModelRef("ggml-org/models:tinyllamas/stories260K.gguf"), { kind: "hub", repo: "ggml-org/models", file: "tinyllamas/stories260K.gguf" });
  assert.deepEqual(parseModelRef("/abs/m.gguf"), { kind: "path", path: "/abs/m.gguf" });
  assert.deepEqual(parseModelRef("./m"), { kind: "path", path: "./m" });
  assert.deepEqual(parseModelRef("sub/m.gguf"), { kind: "path", path: "sub/m.gguf" });
  assert.deepEqual(parseModelRef("stories260K"), { kind: "path", path: "stories260K" });
  for (const bad of ["", "a/b:../x.gguf", "a/b:/x.gguf", "a/b:x.bin", "-a/b:x.gguf", "a/b/c:x.gguf", "a/b:x//y.gguf"]) {
    assert.throws(() => parseModelRef(bad), ModelRefError, bad);
  }
  assert.equal(hubFilePath("/m", "o/r", "q/f.gguf"), "/m/o/r/q/f.gguf");
});

test("pick: Q4_K_M, then Q8_0, then the smallest; never a split part or projector", () => {
  const f = (path: string, size: number) => ({ path, size });
  assert.equal(pickGgufFile([f("m-Q8_0.gguf", 8), f("m-Q4_K_M.gguf", 5), f("m-Q2_K.gguf", 3)])?.path, "m-Q4_K_M.gguf");
  assert.equal(pickGgufFile([f("m-Q8_0.gguf", 8), f("m-F16.gguf", 16), f("README.md", 1)])?.path, "m-Q8_0.gguf");
  assert.equal(pickGgufFile([f("m-F16.gguf", 16), f("m-Q6_K.gguf", 6), f("mmproj-m.gguf", 1)])?.path, "m-Q6_K.gguf");
  assert.equal(pickGgufFile([f("m-q4_k_m-00001-of-00002.gguf", 4), f("m.Q8_0.gguf", 8)])?.path, "m.Q8_0.gguf");
  assert.equal(pickGgufFile([f("README.md", 1)]), undefined);
});

test("resolve: a pulled name, a bare repo, a name in the dir, a path; else a clear not-found", async () => {
  const tmp = tempDir();
  try {
    const repoDir = join(tmp.dir, "o", "r");
    mkdirSync(repoDir, { recursive: true });
    symlinkSync(STORIES_260K, join(repoDir, "s-Q8_0.gguf"));
    writeFileSync(join(repoDir, "s-Q8_0.gguf.part"), "partial");
    symlinkSync(STORIES_260K, join(tmp.dir, "local.gguf"));
    assert.deepEqual(await resolveModelRef("o/r:s-Q8_0.gguf", tmp.dir), { path: join(repoDir, "s-Q8_0.gguf"), name: "o/r:s-Q8_0.gguf" });
    assert.deepEqual(await resolveModelRef("o/r", tmp.dir), { path: join(repoDir, "s-Q8_0.gguf"), name: "o/r:s-Q8_0.gguf" });
    assert.deepEqual(await resolveModelRef("local", tmp.dir), { path: join(tmp.dir, "local.gguf"), name: "local.gguf" });
    assert.deepEqual(await resolveModelRef(STORIES_260K, tmp.dir), { path: STORIES_260K, name: STORIES_260K });
    await assert.rejects(resolveModelRef("o/other", tmp.dir), (e: Error) => e instanceof ModelNotFoundError && /tessera models pull o\/other/.test(e.message));
    await assert.rejects(resolveModelRef("o/r:missing.gguf", tmp.dir), ModelNotFoundError);
  } finally {
    tmp.cleanup();
  }
});
