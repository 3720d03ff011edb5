// The store's edges: leftovers of a crash, a part of another version, a download already in progress,
// a directory that cannot be written, and what rm will and will not delete.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { STORIES_260K, tempDir } from "../testing/paths.js";
import { startLocalHub, type LocalHub } from "../testing/local-hub.js";
import { partMetaPath, partPath } from "./download.js";
import { DownloadBusyError, ModelRefError, ModelsDirNotWritableError } from "./errors.js";
import type { HubConfig } from "./hub-client.js";
import { hubFilePath } from "./model-ref.js";
import { pullModel } from "./pull.js";
import { removeModel } from "./remove.js";
import { scanModels } from "./scan.js";

const REPO = "tessera-test/stories";
const SIZE = statSync(STORIES_260K).size;
const SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

async function withHub(body: (hub: LocalHub, dir: string, cfg: HubConfig) => Promise<void>): Promise<void> {
  const hub = await startLocalHub({ repos: { [REPO]: dirname(STORIES_260K) } });
  const tmp = tempDir();
  try {
    await body(hub, tmp.dir, { endpoint: hub.url, token: undefined });
  } finally {
    await hub.close();
    tmp.cleanup();
  }
}

const cdnRequests = (hub: LocalHub) => hub.requests.filter((r) => r.route === "cdn");

test("a crash after the last byte but before the rename: the part is verified and renamed, nothing is fetched", async () => {
  await withHub(async (hub, dir, cfg) => {
    hub.cutNextResponses(10_000);
    await assert.rejects(pullModel(REPO, { modelsDir: dir, hub: cfg, retries: 0 }));
    const dest = hubFilePath(dir, REPO, "stories260K.gguf");
    copyFileSync(STORIES_260K, partPath(dest)); // as if every byte had arrived when the process died
    const r = await pullModel(REPO, { modelsDir: dir, hub: cfg, retries: 0 });
    assert.equal(r.bytesFetched, 0);
    assert.equal(r.entry.sha256, SHA256);
    assert.equal(cdnRequests(hub).length, 1, "only the first, cut, transfer");
    assert.equal(existsSync(partPath(dest)), false);
    assert.equal(existsSync(partMetaPath(dest)), false);
  });
});

test("a part of another version of the file is not continued", async () => {
  await withHub(async (hub, dir, cfg) => {
    hub.cutNextResponses(10_000);
    await assert.rejects(pullModel(REPO, { modelsDir: dir, hub: cfg, retries: 0 }));
    const dest = hubFilePath(dir, REPO, "stories260K.gguf");
    writeFileSync(partMetaPath(dest), JSON.stringify({ size: SIZE, sha256: "0".repeat(64) }));
    const r = await pullModel(REPO, { modelsDir: dir, hub: cfg, retries: 0 });
    assert.equal(r.resumedFrom, 0);
    assert.equal(cdnRequests(hub).at(-1)!.range, undefined);
    assert.equal(r.entry.sha256, SHA256);
  });
});

test("a part longer than the file starts over", async () => {
  await withHub(async (hub, dir, cfg) => {
    hub.cutNextResponses(10_000);
    await assert.rejects(pullModel(REPO, { modelsDir: dir, hub: cfg, retries: 0 }));
    const dest = hubFilePath(dir, REPO, "stories260K.gguf");
    truncateSync(partPath(dest), SIZE + 10);
    const r = await pullModel(REPO, { modelsDir: dir, hub: cfg, retries: 0 });
    assert.equal(r.resumedFrom, 0);
    assert.ok(readFileSync(dest).equals(readFileSync(STORIES_260K)));
  });
});

test("a live download lock refuses a second pull; a dead one is taken over", async () => {
  await withHub(async (_hub, dir, cfg) => {
    const dest = hubFilePath(dir, REPO, "stories260K.gguf");
    mkdirSync(dirname(dest), { recursive: true });
    const lock = join(dirname(dest), ".stories260K.gguf.lock");
    writeFileSync(lock, `${process.ppid}\n`); // the test runner: alive
    await assert.rejects(pullModel(REPO, { modelsDir: dir, hub: cfg }), (e: Error) => e instanceof DownloadBusyError && e.message.includes(String(process.ppid)));
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    writeFileSync(lock, `${dead}\n`);
    const r = await pullModel(REPO, { modelsDir: dir, hub: cfg });
    assert.equal(r.entry.sha256, SHA256);
    assert.equal(existsSync(lock), false, "released");
  });
});

test("a models directory that cannot be written is one clear error", async () => {
  await withHub(async (_hub, _dir, cfg) => {
    // sysfs refuses new folders to everyone, root included.
    await assert.rejects(pullModel(REPO, { modelsDir: "/sys/kernel/tessera-models-test", hub: cfg }), (e: Error) => e instanceof ModelsDirNotWritableError && /^cannot write to \/sys\/kernel\/tessera-models-test\/tessera-test\/stories: /.test(e.message));
  });
});

test("rm deletes one model with its sidecar and part, prunes empty folders, and refuses the rest", async () => {
  const tmp = tempDir();
  try {
    const repo = join(tmp.dir, "o", "r");
    mkdirSync(repo, { recursive: true });
    copyFileSync(STORIES_260K, join(repo, "a.gguf"));
    copyFileSync(STORIES_260K, join(repo, "b.gguf"));
    writeFileSync(join(repo, "c.gguf.part"), "half");
    await scanModels(tmp.dir); // writes sidecars
    await assert.rejects(removeModel("o/r", tmp.dir), (e: Error) => e instanceof ModelRefError && /holds 2 files/.test(e.message));
    await assert.rejects(removeModel(STORIES_260K, tmp.dir), /outside the models directory/);
    const partOnly = await removeModel("o/r:c.gguf", tmp.dir);
    assert.equal(partOnly.bytes, 4, "an unfinished pull is cancelled by name");
    assert.deepEqual(await removeModel("o/r:a.gguf", tmp.dir), { name: "o/r/a.gguf", path: join(repo, "a.gguf"), bytes: SIZE });
    assert.equal(existsSync(join(repo, ".a.gguf.tessera.json")), false);
    await removeModel("o/r", tmp.dir); // now unambiguous
    assert.equal(existsSync(join(tmp.dir, "o")), false, "empty owner/repo folders are pruned");
    assert.ok(existsSync(tmp.dir), "the models directory itself stays");
    symlinkSync(STORIES_260K, join(tmp.dir, "linked.gguf"));
    await removeModel("linked", tmp.dir);
    assert.ok(existsSync(STORIES_260K), "removing a symlinked model removes the link, not its target");
  } finally {
    tmp.cleanup();
  }
});
