// The HTTP fallback: a shard fetched with Range requests from a small local server (127.0.0.1) loads
// bit-identically and costs only its bytes; a server that ignores Range, a corrupt body and a missing
// manifest are clear errors.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { readdir, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { readGgufHeader } from "../gguf/reader.js";
import { STORIES_260K } from "../testing/paths.js";
import { sameBits, shardOutputs, tempDir } from "./fetch-test-support.js";
import { HttpRangeSource } from "./http-range-source.js";
import { fetchShardFrom, ShardFetchError } from "./shard-fetch.js";
import { computeManifest, manifestRecord } from "./tensor-manifest.js";
import { shardByteRanges } from "./tensor-ranges.js";

interface FileServer {
  readonly url: string;
  /** Body bytes sent so far. */
  sent: number;
  requests: number;
  close(): Promise<void>;
}

/** Serves `data` at /model.gguf; honours a single `Range: bytes=a-b` unless told not to; can flip one byte. */
async function serveFile(data: Uint8Array, opts: { ignoreRange?: boolean; corruptAt?: number } = {}): Promise<FileServer> {
  const body = new Uint8Array(data);
  if (opts.corruptAt !== undefined) body[opts.corruptAt] ^= 0x01;
  const state = { sent: 0, requests: 0 };
  const server: Server = createServer((req, res) => {
    state.requests++;
    if (req.url !== "/model.gguf") return void res.writeHead(404).end();
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (!m || opts.ignoreRange) {
      state.sent += body.length;
      return void res.writeHead(200, { "content-length": body.length }).end(body);
    }
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), body.length - 1);
    if (start > end) return void res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
    const part = body.subarray(start, end + 1);
    state.sent += part.length;
    res.writeHead(206, { "content-range": `bytes ${start}-${end}/${body.length}`, "content-length": part.length }).end(part);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/model.gguf`,
    get sent() {
      return state.sent;
    },
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  } as FileServer;
}

test("a shard over HTTP Range requests: only its bytes travel and it loads bit-identically", async () => {
  const dir = await tempDir();
  const data = new Uint8Array(await readFile(STORIES_260K));
  const record = manifestRecord(await computeManifest(STORIES_260K));
  const header = await readGgufHeader(STORIES_260K);
  const range = { start: 2, end: 5 };
  const need = shardByteRanges(header, range);
  const ok = await serveFile(data);
  const ignoring = await serveFile(data, { ignoreRange: true });
  const victim = need.tensors[3];
  const corrupt = await serveFile(data, { corruptAt: victim.start + 7 });
  try {
    const source = new HttpRangeSource(ok.url, { manifest: record.bytes });
    const res = await fetchShardFrom({ sources: [source], modelId: record.sha256, range, modelsDir: join(dir, "a"), name: "s.gguf" });
    assert.equal(ok.sent, need.totalBytes, "the server sent the header and the shard's tensors only");
    assert.equal(source.bytesReceived, need.totalBytes);
    const [want, got] = [await shardOutputs(STORIES_260K, range), await shardOutputs(res.path, range)];
    for (const [i, w] of want.entries()) assert.ok(sameBits(got[i], w), `output ${i}`);

    // A server that answers Range with the whole file is refused, and the next source is used.
    const twice = await fetchShardFrom({
      sources: [new HttpRangeSource(ignoring.url, { manifest: record.bytes }), new HttpRangeSource(ok.url)],
      modelId: record.sha256, range, modelsDir: join(dir, "b"), name: "s.gguf",
    });
    assert.match(twice.failures[0], /HTTP 200, not 206/);
    assert.equal(twice.usedSources.length, 1);

    // A corrupt byte from the mirror fails that tensor's sha256; with no other source the fetch fails.
    await assert.rejects(
      fetchShardFrom({ sources: [new HttpRangeSource(corrupt.url, { manifest: record.bytes })], modelId: record.sha256, range, modelsDir: join(dir, "c"), name: "s.gguf" }),
      (e: unknown) => e instanceof ShardFetchError && e.message.includes(`${victim.name} failed sha256 verification`),
    );
    // HTTP has no manifest of its own: without one from elsewhere there is nothing to verify against.
    await assert.rejects(
      fetchShardFrom({ sources: [new HttpRangeSource(ok.url)], modelId: record.sha256, range, modelsDir: join(dir, "d"), name: "s.gguf" }),
      /no source gave a manifest/,
    );
    assert.throws(() => new HttpRangeSource("file:///etc/passwd"), /not an http/);

    // No manifest anywhere, but the publisher's file sha256 and size: a provisional manifest from the
    // header, the shard taken on the transport's word, and the whole file checked once complete.
    const knownFile = { sha256: record.manifest.fileSha256, size: data.length };
    const sentBefore = ok.sent;
    const hub = await fetchShardFrom({ sources: [new HttpRangeSource(ok.url)], modelId: knownFile.sha256, knownFile, range, modelsDir: join(dir, "e"), name: "s.gguf" });
    assert.deepEqual([hub.verified, hub.complete], [false, false]);
    assert.equal(ok.sent - sentBefore, Math.min(data.length, 1024 * 1024) + need.totalBytes, "a header probe, then the shard");
    const hubOut = await shardOutputs(hub.path, range);
    for (const [i, w] of want.entries()) assert.ok(sameBits(hubOut[i], w), `output ${i} over HTTP without a manifest`);
    const whole = await fetchShardFrom({ sources: [new HttpRangeSource(ok.url)], modelId: knownFile.sha256, knownFile, range: { start: 0, end: 5 }, modelsDir: join(dir, "e"), name: "s.gguf" });
    assert.deepEqual([whole.verified, whole.complete, whole.manifestSha256], [true, true, record.sha256]);
    assert.deepEqual(new Uint8Array(await readFile(whole.path)), data);
    // From a corrupt mirror the whole file fails its sha256: the unverified partial is thrown away.
    await assert.rejects(
      fetchShardFrom({ sources: [new HttpRangeSource(corrupt.url)], modelId: knownFile.sha256, knownFile, range: { start: 0, end: 5 }, modelsDir: join(dir, "f"), name: "s.gguf" }),
      /hashes to [0-9a-f]{64}, not .*discarded/,
    );
    assert.deepEqual(await readdir(join(dir, "f")), []);
  } finally {
    await Promise.all([ok.close(), ignoring.close(), corrupt.close()]);
    await rm(dir, { recursive: true, force: true });
  }
});
