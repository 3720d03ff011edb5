// Pulling from a local stand-in for the Hub (src/testing/local-hub.ts) serving ../shared/models:
// download, resume with Range (proven by the bytes the server sent), hash checks, tokens, a full disk.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { STORIES_260K, tempDir } from "../testing/paths.js";
import { startLocalHub, type LocalHub, type LocalHubOptions } from "../testing/local-hub.js";
import { partPath } from "./download.js";
import { scanDownloads } from "./downloads.js";
import { ChecksumMismatchError, DiskFullError, DownloadInterruptedError, HubError } from "./errors.js";
import { listRepoFiles, type HubConfig } from "./hub-client.js";
import { hubFilePath } from "./model-ref.js";
import { pullModel, type PullOptions } from "./pull.js";
import { scanModels } from "./scan.js";
import { readSidecar } from "./sidecar.js";

const SHARED_MODELS = dirname(STORIES_260K);
const REPO = "tessera-test/stories";
const SIZE = statSync(STORIES_260K).size;
const SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

async function withHub(options: Partial<LocalHubOptions>, body: (hub: LocalHub, dir: string, cfg: HubConfig) => Promise<void>): Promise<void> {
  const hub = await startLocalHub({ repos: { [REPO]: SHARED_MODELS }, ...options });
  const tmp = tempDir();
  try {
    await body(hub, tmp.dir, { endpoint: hub.url, token: undefined });
  } finally {
    await hub.close();
    tmp.cleanup();
  }
}

const opts = (dir: string, hub: HubConfig, extra: Partial<PullOptions> = {}): PullOptions => ({ modelsDir: dir, hub, retries: 0, retryDelayMs: 0, ...extra });
const cdnRequests = (hub: LocalHub) => hub.requests.filter((r) => r.route === "cdn");

test("pull picks stories260K.gguf, verifies it, indexes it; a second pull downloads nothing", async () => {
  await withHub({}, async (hub, dir, cfg) => {
    const r = await pullModel(REPO, opts(dir, cfg));
    const dest = hubFilePath(dir, REPO, "stories260K.gguf");
    assert.equal(r.entry.path, dest);
    assert.equal(r.entry.name, `${REPO}:stories260K.gguf`);
    assert.equal(r.entry.sha256, SHA256);
    assert.deepEqual(r.entry.hub, { repo: REPO, revision: "main", file: "stories260K.gguf" });
    assert.equal(r.bytesFetched, SIZE);
    assert.equal(hub.bytesServed(), SIZE);
    assert.ok(readFileSync(dest).equals(readFileSync(STORIES_260K)));
    assert.equal(existsSync(partPath(dest)), false);
    assert.deepEqual((await readSidecar(dest))?.hub, r.entry.hub, "the origin is remembered beside the file");
    assert.deepEqual((await scanModels(dir)).map((e) => e.name), [`${REPO}:stories260K.gguf`]);

    const again = await pullModel(`${REPO}:stories260K.gguf`, opts(dir, cfg));
    assert.equal(again.alreadyPresent, true);
    assert.equal(hub.bytesServed(), SIZE, "nothing more was sent");
  });
});

test("an interrupted pull resumes with Range: only the missing bytes are sent", async () => {
  await withHub({}, async (hub, dir, cfg) => {
    const CUT = 300_000;
    hub.cutNextResponses(CUT);
    await assert.rejects(pullModel(REPO, opts(dir, cfg)), (e: Error) => e instanceof DownloadInterruptedError && /300000 of 1185376/.test(e.message));
    const dest = hubFilePath(dir, REPO, "stories260K.gguf");
    assert.equal(existsSync(dest), false, "no complete-looking file");
    assert.equal(statSync(partPath(dest)).size, CUT);
    assert.deepEqual(await scanModels(dir), [], "a part is not a model");
    assert.deepEqual(await scanDownloads(dir), [{ name: `${REPO}:stories260K.gguf`, path: dest, receivedBytes: CUT, totalBytes: SIZE, sha256: SHA256 }]);

    const r = await pullModel(REPO, opts(dir, cfg));
    assert.equal(r.resumedFrom, CUT);
    assert.equal(r.bytesFetched, SIZE - CUT);
    const [first, second] = cdnRequests(hub);
    assert.equal(first!.range, undefined);
    assert.equal(first!.bodyBytes, CUT);
    assert.equal(second!.range, `bytes=${CUT}-`);
    assert.equal(second!.status, 206);
    assert.equal(second!.bodyBytes, SIZE - CUT, "only the rest was sent");
    assert.equal(hub.bytesServed(), SIZE);
    assert.equal(r.entry.sha256, SHA256);
    assert.ok(readFileSync(dest).equals(readFileSync(STORIES_260K)));
    assert.deepEqual(await scanDownloads(dir), [], "finished: no download left");
  });
});

test("one pull retries an interruption by itself, resuming each time", async () => {
  await withHub({}, async (hub, dir, cfg) => {
    hub.cutNextResponses(100_000, 2);
    const r = await pullModel(REPO, opts(dir, cfg, { retries: 3 }));
    assert.equal(r.attempts, 3);
    assert.deepEqual(cdnRequests(hub).map((q) => q.range), [undefined, "bytes=100000-", "bytes=200000-"]);
    assert.equal(hub.bytesServed(), SIZE);
    assert.equal(r.entry.sha256, SHA256);
  });
});

test("a server that ignores Range: the part starts over and the file is still right", async () => {
  await withHub({}, async (hub, dir, cfg) => {
    hub.cutNextResponses(50_000);
    await assert.rejects(pullModel(REPO, opts(dir, cfg)), DownloadInterruptedError);
    hub.ignoreRange(true);
    const r = await pullModel(REPO, opts(dir, cfg));
    assert.equal(r.resumedFrom, 0);
    assert.equal(cdnRequests(hub).at(-1)!.status, 200);
    assert.equal(r.entry.sha256, SHA256);
  });
});

test("a corrupted byte fails the sha256 check and leaves neither the file nor a part", async () => {
  await withHub({}, async (hub, dir, cfg) => {
    hub.corruptByte(REPO, "stories260K.gguf", 123_456);
    await assert.rejects(pullModel(REPO, opts(dir, cfg)), (e: Error) => e instanceof ChecksumMismatchError && e.message.includes(SHA256));
    const dest = hubFilePath(dir, REPO, "stories260K.gguf");
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(partPath(dest)), false);
    assert.deepEqual(await scanModels(dir), []);
  });
});

test("a file kept in git (no LFS metadata) is checked against its git blob id", async () => {
  await withHub({ lfs: () => false }, async (hub, dir, cfg) => {
    const r = await pullModel(`${REPO}:stories260K.gguf`, opts(dir, cfg));
    assert.equal(r.entry.sha256, SHA256);
    assert.equal(cdnRequests(hub).length, 0, "served straight from resolve, no redirect");
    const other = tempDir();
    try {
      hub.corruptByte(REPO, "stories260K.gguf", 7);
      await assert.rejects(pullModel(REPO, opts(other.dir, cfg)), (e: Error) => e instanceof ChecksumMismatchError && /git hash/.test(e.message));
    } finally {
      other.cleanup();
    }
  });
});

test("HF_TOKEN is sent as a bearer token; without it a private repo gives a clear error", async () => {
  await withHub({ token: "hf_secret" }, async (hub, dir, cfg) => {
    await assert.rejects(pullModel(REPO, opts(dir, cfg)), (e: Error) => e instanceof HubError && /401.*set HF_TOKEN/.test(e.message));
    await assert.rejects(pullModel(REPO, opts(dir, { ...cfg, token: "wrong" })), (e: Error) => /HF_TOKEN was not accepted/.test(e.message));
    const before = hub.requests.length;
    const r = await pullModel(REPO, opts(dir, { ...cfg, token: "hf_secret" }));
    assert.equal(r.entry.sha256, SHA256);
    const sent = hub.requests.slice(before).filter((q) => q.route !== "cdn");
    assert.deepEqual(sent.map((q) => q.route), ["tree", "resolve"]);
    for (const q of sent) assert.equal(q.authorization, "Bearer hf_secret");
  });
});

test("a full disk (a real ENOSPC from /dev/full) names needed and available bytes and removes nothing complete", async () => {
  await withHub({}, async (_hub, dir, cfg) => {
    const keep = join(dir, "kept.gguf");
    writeFileSync(keep, readFileSync(STORIES_260K));
    const dest = hubFilePath(dir, REPO, "stories260K.gguf");
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync("/dev/full", partPath(dest));
    await assert.rejects(pullModel(REPO, opts(dir, cfg)), (e: Error) => {
      assert.ok(e instanceof DiskFullError, String(e));
      assert.match(e.message, /ENOSPC/);
      assert.match(e.message, /needs 1185376 bytes \(1\.1 MiB\) more, and .* has \d+ bytes \(.*\) available/);
      assert.equal(e.neededBytes, SIZE);
      assert.ok(e.availableBytes !== undefined && e.availableBytes > 0);
      return true;
    });
    assert.equal(existsSync(dest), false, "no complete-looking file");
    assert.ok(lstatSync(partPath(dest)).isSymbolicLink(), "the part is left for a resume");
    assert.ok(readFileSync(keep).equals(readFileSync(STORIES_260K)), "a complete model is untouched");
    assert.deepEqual((await scanModels(dir)).map((e) => e.name), ["kept.gguf"]);
  });
});

test("quantisation choice, missing files and missing repos are explained", async () => {
  const repoDir = tempDir();
  const empty = tempDir();
  try {
    for (const name of ["m-F16.gguf", "m-Q8_0.gguf", "m-Q4_K_M.gguf", "mmproj-m-F16.gguf"]) symlinkSync(STORIES_260K, join(repoDir.dir, name));
    writeFileSync(join(empty.dir, "README.md"), "no weights here\n");
    await withHub({ repos: { "o/quants": repoDir.dir, "o/empty": empty.dir }, treePageSize: 2 }, async (_hub, dir, cfg) => {
      assert.equal((await listRepoFiles(cfg, "o/quants")).length, 4, "all pages of the tree are read");
      const r = await pullModel("o/quants", opts(dir, cfg));
      assert.equal(r.entry.name, "o/quants:m-Q4_K_M.gguf");
      await assert.rejects(pullModel("o/empty", opts(dir, cfg)), /o\/empty has no \.gguf file \(it holds README\.md\)/);
      await assert.rejects(pullModel("o/quants:nope.gguf", opts(dir, cfg)), /o\/quants has no file nope\.gguf; its GGUF files are m-F16\.gguf/);
      await assert.rejects(pullModel("o/missing", opts(dir, cfg)), (e: Error) => e instanceof HubError && e.status === 404);
      await assert.rejects(pullModel("./local.gguf", opts(dir, cfg)), /is a local path/);
    });
  } finally {
    repoDir.cleanup();
    empty.cleanup();
  }
});
