// Shards from peers, over real libp2p hosts in this process on 127.0.0.1 (one keyed cluster): a node
// fetches only its layers' bytes from a holder into a sparse partial file that loads bit-identically
// to the full model; a corrupt holder is caught and the next one used; hostile requests get errors and
// the holder keeps serving; an interrupted fetch resumes with only the missing tensors.
import assert from "node:assert/strict";
import { open, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { peerIdFromString } from "@libp2p/peer-id";
import { FramedStream } from "../net/framed-stream.js";
import type { Frame } from "../net/frames.js";
import { readGgufHeader } from "../gguf/reader.js";
import { STORIES_260K } from "../testing/paths.js";
import { Cluster, sameBits, shardOutputs, writeRandomQ8Model } from "./fetch-test-support.js";
import { ModelCatalog } from "./model-catalog.js";
import { PartialModel, PARTIAL_SUFFIX } from "./partial-model.js";
import { MAX_RANGES_PER_REQUEST, MODEL_RANGE_PROTOCOL, RangeResponseSchema, RESPONSE_LIMITS, type RangeResponse } from "./range-protocol.js";
import { ModelRangeServer } from "./range-server.js";
import { fetchShard, ShardFetchError, type FetchProgress } from "./shard-fetch.js";
import { loadOrCreateManifest, manifestPath } from "./tensor-manifest.js";
import { layerCount, shardByteRanges, shardTensorNames } from "./tensor-ranges.js";

async function copyStories(dir: string, name = "stories260K.gguf"): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, await readFile(STORIES_260K));
  return path;
}

async function expectSameOutputs(full: string, partial: string, range: { start: number; end: number }): Promise<void> {
  const want = await shardOutputs(full, range);
  const got = await shardOutputs(partial, range);
  assert.equal(got.length, want.length);
  for (const [i, w] of want.entries()) assert.ok(sameBits(got[i], w), `output ${i} of layers [${range.start}, ${range.end}) differs`);
}

test("the middle layers of stories260K and a random Q8_0 model come from a peer, load bit-identically, and fill in to a complete model", async (t) => {
  const cluster = new Cluster();
  const catalog = new ModelCatalog();
  const srv = new ModelRangeServer(catalog);
  try {
    const [holder, fetcher] = await cluster.start(2);
    const holderDir = await cluster.dir();
    const modelsDir = join(await cluster.dir(), "models");
    await srv.start(holder.node);
    const random = join(holderDir, "random-q8.gguf");
    await writeRandomQ8Model(random);
    for (const full of [await copyStories(holderDir), random]) {
      const record = await catalog.add(full);
      const header = await readGgufHeader(full);
      const layers = layerCount(header);
      const range = { start: 1, end: layers - 1 };
      const name = `peer/${full.split("/").at(-1)}`;
      const progress: FetchProgress[] = [];
      const served = srv.stats.bytesServed;
      const started = process.hrtime.bigint();
      const res = await fetchShard({ host: fetcher, peers: [holder.peerId], modelId: record.sha256, range, modelsDir, name, onProgress: (p) => progress.push(p) });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const need = shardByteRanges(header, range);
      t.diagnostic(`${name}: ${need.totalBytes} of ${header.fileSize} bytes in ${seconds.toFixed(3)} s (${(need.totalBytes / 1e6 / seconds).toFixed(1)} MB/s)`);

      assert.equal(res.complete, false);
      assert.equal(res.path, join(modelsDir, name) + PARTIAL_SUFFIX);
      assert.equal(srv.stats.bytesServed - served, need.totalBytes, "the holder sent the header and the shard's tensors, nothing else");
      assert.equal(res.bytesFetched, need.totalBytes);
      const files = (await readdir(modelsDir, { recursive: true })).map(String).filter((f) => f.startsWith(name));
      assert.ok(files.length > 0 && !files.some((f) => f.endsWith(".gguf")), `nothing looks like a complete model yet: ${files.join(", ")}`);
      const disk = (await stat(res.path)).blocks * 512;
      assert.equal((await stat(res.path)).size, header.fileSize);
      assert.ok(disk < header.fileSize, `partial uses ${disk} bytes of disk, the model is ${header.fileSize}`);
      assert.ok(disk <= need.totalBytes + 4096 * (need.tensors.length + 2), `partial uses ${disk} bytes of disk for a ${need.totalBytes}-byte shard`);
      const last = progress.at(-1)!;
      assert.deepEqual([last.bytesDone, last.bytesTotal, last.tensorsDone, last.tensorsTotal], [need.totalBytes, need.totalBytes, need.tensors.length, need.tensors.length]);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i].bytesDone >= progress[i - 1].bytesDone, "progress only grows on a clean fetch");
      await expectSameOutputs(full, res.path, range);

      // The first and last layers later: only the missing tensors travel, then the file is complete.
      const before = srv.stats.bytesServed;
      const rest = await fetchShard({ host: fetcher, peers: [holder.peerId], modelId: record.sha256, range: { start: 0, end: layers }, modelsDir, name });
      const already = new Set(need.tensors.map((x) => x.name));
      const missing = header.tensors.filter((x) => !already.has(x.name)).reduce((s, x) => s + x.byteSize, 0);
      assert.equal(srv.stats.bytesServed - before, missing);
      assert.equal(rest.complete, true);
      assert.equal(rest.path, join(modelsDir, name));
      assert.deepEqual(await readFile(rest.path), await readFile(full));
      assert.equal((await loadOrCreateManifest(rest.path)).sha256, record.sha256);
      await assert.rejects(stat(res.path), "the partial is gone once complete");
      await expectSameOutputs(full, rest.path, { start: 0, end: layers });
      const again = await fetchShard({ host: fetcher, peers: [holder.peerId], modelId: record.sha256, range, modelsDir, name });
      assert.deepEqual([again.complete, again.bytesFetched], [true, 0]);
    }
  } finally {
    await srv.stop();
    await cluster.close();
  }
});

test("a holder serving a corrupted tensor is caught by its sha256 and the next holder supplies it", async () => {
  const cluster = new Cluster();
  const servers: ModelRangeServer[] = [];
  try {
    const [bad, good, fetcher] = await cluster.start(3);
    const badPath = await copyStories(await cluster.dir());
    const goodPath = await copyStories(await cluster.dir());
    const record = await loadOrCreateManifest(badPath);
    const header = await readGgufHeader(badPath);
    const range = { start: 1, end: 4 };
    // Bit rot in a layer-2 tensor after the manifest was made; the mtime is put back, as rot leaves it.
    const victim = header.tensors.find((x) => x.name === "blk.2.ffn_up.weight")!;
    const { mtime } = await stat(badPath);
    const h = await open(badPath, "r+");
    const at = header.dataOffset + victim.offset + 100;
    const byte = new Uint8Array(1);
    await h.read(byte, 0, 1, at);
    await h.write(new Uint8Array([byte[0] ^ 0x40]), 0, 1, at);
    await h.close();
    await utimes(badPath, mtime, new Date(mtime.getTime() - 10_000));
    const badCatalog = new ModelCatalog();
    assert.equal((await badCatalog.add(badPath)).sha256, record.sha256, "the bad holder still offers the true manifest");
    const goodCatalog = new ModelCatalog();
    await goodCatalog.add(goodPath);
    for (const [host, catalog] of [[bad, badCatalog], [good, goodCatalog]] as const) {
      const s = new ModelRangeServer(catalog);
      await s.start(host.node);
      servers.push(s);
    }
    const modelsDir = join(await cluster.dir(), "models");
    const res = await fetchShard({ host: fetcher, peers: [bad.peerId, good.peerId], modelId: record.sha256, range, modelsDir, name: "s.gguf" });
    assert.equal(res.failures.length, 1);
    assert.match(res.failures[0], new RegExp(`${bad.peerId}.*blk\\.2\\.ffn_up\\.weight failed sha256 verification`));
    assert.deepEqual(res.usedSources, [`peer ${bad.peerId}`, `peer ${good.peerId}`]);
    assert.ok(servers[1].stats.bytesServed >= victim.byteSize, "the good holder sent at least the corrupted tensor");
    await expectSameOutputs(goodPath, res.path, range);

    // With only the bad holder, the fetch fails clearly and lists the tensor.
    const alone = join(await cluster.dir(), "models");
    await assert.rejects(
      fetchShard({ host: fetcher, peers: [bad.peerId], modelId: record.sha256, range, modelsDir: alone, name: "s.gguf" }),
      (e: unknown) => e instanceof ShardFetchError && /could not be fetched/.test(e.message) && /failed sha256 verification/.test(e.message),
    );
  } finally {
    for (const s of servers) await s.stop();
    await cluster.close();
  }
});

/** Sends requests on one raw model-range stream and reads the answers. */
class RawClient {
  private readonly frames: Frame<RangeResponse>[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(readonly link: FramedStream<RangeResponse>) {
    link.onFrame((f) => {
      this.frames.push(f);
      this.wake();
    });
    link.onClose(() => {
      this.closed = true;
      this.wake();
    });
  }

  /** The next frame, or undefined once the holder closed the stream. */
  async next(): Promise<Frame<RangeResponse> | undefined> {
    while (this.frames.length === 0 && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.frames.shift();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}

test("hostile requests get error frames and the holder keeps serving", async () => {
  const cluster = new Cluster();
  const catalog = new ModelCatalog();
  const server = new ModelRangeServer(catalog);
  try {
    const [holder, client] = await cluster.start(2);
    const path = await copyStories(await cluster.dir());
    const record = await catalog.add(path);
    await server.start(holder.node);
    const dial = async () => {
      const stream = await client.node.dialProtocol(peerIdFromString(holder.peerId), MODEL_RANGE_PROTOCOL);
      return new RawClient(new FramedStream(stream, RangeResponseSchema, RESPONSE_LIMITS, holder.peerId));
    };
    const size = record.manifest.fileSize;
    const c = await dial();
    const refused: [unknown, string][] = [
      [{ kind: "ranges", id: 1, model: record.sha256, ranges: [[0, 2 ** 40]] }, "too-large"],
      [{ kind: "ranges", id: 2, model: record.sha256, ranges: Array.from({ length: 100 }, (_, i) => [i * 1024 * 1024, 1024 * 1024]) }, "too-large"],
      [{ kind: "ranges", id: 3, model: "f".repeat(64), ranges: [[0, 10]] }, "unknown-model"],
      [{ kind: "manifest", id: 4, model: "e".repeat(64) }, "unknown-model"],
      [{ kind: "ranges", id: 5, model: record.sha256, ranges: [[size - 5, 10]] }, "out-of-bounds"],
      [{ kind: "ranges", id: 6, model: "../../../etc/passwd", ranges: [[0, 10]] }, "bad-request"],
      [{ kind: "ranges", id: 7, model: record.sha256, ranges: Array.from({ length: MAX_RANGES_PER_REQUEST + 1 }, () => [0, 1]) }, "bad-request"],
      [{ kind: "ranges", id: 8, model: record.sha256, ranges: [[-1, 10]] }, "bad-request"],
      [{ kind: "open", id: 9, path: "/etc/passwd" }, "bad-request"],
    ];
    for (const [request, code] of refused) {
      await c.link.send(request);
      const f = await c.next();
      assert.equal(f?.header.kind, "error", JSON.stringify(request).slice(0, 80));
      assert.ok(f.header.kind === "error" && f.header.code === code && f.header.id === (request as { id: number }).id, `${JSON.stringify(f.header)} for ${code}`);
    }
    // The same stream still answers a proper request.
    await c.link.send({ kind: "ranges", id: 10, model: record.manifest.fileSha256, ranges: [[0, 16]] });
    const data = await c.next();
    assert.ok(data?.header.kind === "data" && data.header.offset === 0);
    assert.deepEqual(data.payload, new Uint8Array((await readFile(path)).subarray(0, 16)));
    assert.deepEqual((await c.next())?.header, { kind: "end", id: 10, bytes: 16 });
    await c.link.close();

    // Junk that cannot be framed: an error frame, then the holder closes that stream.
    for (const junk of [new Uint8Array([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1, 2, 3]), new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b, 0x7b, 0x7b, 0x7b])]) {
      const j = await dial();
      j.link.stream.send(junk);
      const f = await j.next();
      assert.ok(f?.header.kind === "error" && f.header.code === "bad-request" && f.header.id === undefined, JSON.stringify(f?.header));
      assert.equal(await j.next(), undefined, "the holder closed the stream");
    }
    // A request with a payload (requests carry none) is junk too.
    const p = await dial();
    await p.link.send({ kind: "manifest", id: 1, model: record.sha256 }, new Uint8Array(8));
    assert.ok((await p.next())?.header.kind === "error");

    assert.ok(server.stats.errors >= refused.length + 3);
    // After all that, a real fetch from the holder works.
    const res = await fetchShard({ host: client, peers: [holder.peerId], modelId: record.sha256, range: { start: 2, end: 3 }, modelsDir: join(await cluster.dir(), "m"), name: "s.gguf" });
    await expectSameOutputs(path, res.path, { start: 2, end: 3 });
  } finally {
    await server.stop();
    await cluster.close();
  }
});

test("an interrupted fetch resumes from another holder and transfers only the missing tensors", async () => {
  const cluster = new Cluster();
  const servers: ModelRangeServer[] = [];
  try {
    const [a, b, fetcher] = await cluster.start(3);
    const full = join(await cluster.dir(), "r.gguf");
    await writeRandomQ8Model(full);
    const catalog = new ModelCatalog();
    const record = await catalog.add(full);
    for (const host of [a, b]) {
      const s = new ModelRangeServer(catalog);
      await s.start(host.node);
      servers.push(s);
    }
    const header = await readGgufHeader(full);
    const range = { start: 1, end: 5 };
    const names = shardTensorNames(header, range);
    const modelsDir = join(await cluster.dir(), "models");
    const stop = new AbortController();
    await assert.rejects(fetchShard({
      host: fetcher, peers: [a.peerId], modelId: record.sha256, range, modelsDir, name: "r.gguf", signal: stop.signal,
      onProgress: (p) => {
        if (p.tensorsDone >= 10) stop.abort(new Error("interrupted by the test"));
      },
    }), /interrupted by the test/);

    const partial = await PartialModel.open(modelsDir, "r.gguf", record);
    const present = new Set(partial.presentTensors());
    await partial.close();
    assert.ok(present.size >= 10 && present.size < names.length, `${present.size} of ${names.length} tensors present after the interruption`);
    const byName = new Map(header.tensors.map((x) => [x.name, x]));
    const missingBytes = names.filter((n) => !present.has(n)).reduce((s, n) => s + byName.get(n)!.byteSize, 0);

    const res = await fetchShard({ host: fetcher, peers: [b.peerId], modelId: record.sha256, range, modelsDir, name: "r.gguf" });
    assert.equal(servers[1].stats.bytesServed, missingBytes, "holder B sent exactly the tensors A had not delivered");
    assert.equal(servers[1].stats.manifestBytesServed, 0, "the manifest came from the partial's own state");
    assert.equal(res.bytesFetched, missingBytes);
    await expectSameOutputs(full, res.path, range);
    assert.ok(await stat(manifestPath(full)));
  } finally {
    for (const s of servers) await s.stop();
    await cluster.close();
  }
});

test("bad options are clear errors", async () => {
  const cluster = new Cluster();
  try {
    const [host, other] = await cluster.start(2);
    const modelsDir = await cluster.dir();
    const id = "a".repeat(64);
    await assert.rejects(fetchShard({ host, peers: [], modelId: "not-a-sha", range: { start: 0, end: 1 }, modelsDir }), ShardFetchError);
    await assert.rejects(fetchShard({ host, peers: [], modelId: id, range: { start: 0, end: 1 }, modelsDir, name: "../x.gguf" }), /not a plain relative path/);
    await assert.rejects(fetchShard({ host, peers: [], modelId: id, range: { start: 2, end: 2 }, modelsDir }), /empty or malformed/);
    // A peer that serves no model-range protocol at all: dropped with a reason, and the fetch fails.
    await assert.rejects(fetchShard({ host, peers: [other.peerId], modelId: id, range: { start: 0, end: 1 }, modelsDir }), (e: unknown) => e instanceof ShardFetchError && e.failures.length === 1 && e.failures[0].includes(other.peerId));
  } finally {
    await cluster.close();
  }
});

test("a holder that accepts the stream but never answers is given up on and the next one used", async () => {
  const cluster = new Cluster();
  const catalog = new ModelCatalog();
  const server = new ModelRangeServer(catalog);
  try {
    const [silent, good, fetcher] = await cluster.start(3);
    const path = await copyStories(await cluster.dir());
    const record = await catalog.add(path);
    await server.start(good.node);
    // Reads requests and says nothing: the fetcher's stall timer must fire.
    await silent.node.handle(MODEL_RANGE_PROTOCOL, (stream) => {
      stream.addEventListener("message", () => undefined);
    });
    const range = { start: 0, end: 2 };
    const res = await fetchShard({
      host: fetcher, peers: [silent.peerId, good.peerId], modelId: record.sha256, range,
      modelsDir: join(await cluster.dir(), "m"), name: "s.gguf", peerOptions: { stallMs: 500 },
    });
    assert.equal(res.failures.length, 1);
    assert.match(res.failures[0], new RegExp(`${silent.peerId}.*no data for 500 ms`));
    await expectSameOutputs(path, res.path, range);
  } finally {
    await server.stop();
    await cluster.close();
  }
});
