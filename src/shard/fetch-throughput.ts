// `node dist/shard/fetch-throughput.js [layers]`: how fast a shard travels between two libp2p hosts of
// one keyed cluster on 127.0.0.1 (pnet + noise + yamux, as between real nodes), end to end: request,
// stream, sha256 of every tensor, write into the sparse partial file, fsync per 32 MiB batch. The model
// is a seeded random Q8_0 llama written to a temp dir; both hosts run in this one process, so the
// holder's and the fetcher's CPU work share the same cores. For scale, the same byte count is first sent
// as bare 1 MiB messages on a plain stream between the same hosts (the transport's own ceiling), before
// and after.
import "../net/polyfill.js";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { peerIdFromString } from "@libp2p/peer-id";
import type { TesseraHost } from "../net/host.js";
import { sendBytes } from "../net/stream-send.js";
import { GgmlType } from "../gguf/types.js";
import { writeGguf } from "../gguf/writer.js";
import { readGgufHeader } from "../gguf/reader.js";
import { randomModelSpec } from "../models/random-model.js";
import { buildSyntheticVocab } from "../tokenizer/synth.js";
import { Cluster } from "./fetch-test-support.js";
import { ModelCatalog } from "./model-catalog.js";
import { ModelRangeServer } from "./range-server.js";
import { fetchShard } from "./shard-fetch.js";
import { shardByteRanges } from "./tensor-ranges.js";

const BARE_PROTOCOL = "/tessera/bench-bare/1.0.0";

/** MB/s of `total` bytes pushed from `from` to `to` as 1 MiB messages on one stream, nothing else done. */
async function bareStream(from: TesseraHost, to: TesseraHost, total: number): Promise<number> {
  const piece = new Uint8Array(1024 * 1024);
  await from.node.handle(BARE_PROTOCOL, (stream) => {
    void (async () => {
      for (let sent = 0; sent < total; sent += piece.length) await sendBytes(stream, piece.subarray(0, Math.min(piece.length, total - sent)));
      await stream.close();
    })().catch(() => undefined);
  });
  const stream = await to.node.dialProtocol(peerIdFromString(from.peerId), BARE_PROTOCOL);
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    let got = 0;
    stream.addEventListener("message", (evt) => {
      got += evt.data.byteLength;
      if (got >= total) resolve();
    });
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  stream.abort(new Error("measured"));
  await from.node.unhandle(BARE_PROTOCOL);
  return total / 1e6 / s;
}

async function main(): Promise<void> {
  const layers = Number(process.argv[2] ?? 8);
  const cluster = new Cluster();
  const catalog = new ModelCatalog();
  const server = new ModelRangeServer(catalog);
  try {
    const [holder, fetcher] = await cluster.start(2);
    const model = join(await cluster.dir(), "bench.gguf");
    await writeGguf(model, randomModelSpec({
      arch: "llama", type: GgmlType.Q8_0, dim: 1024, layers, heads: 16, kvHeads: 4, ffn: 2816, contextLength: 256, seed: 3,
      tokenizer: buildSyntheticVocab("spm", { size: 400, seed: 1 }),
    }));
    const record = await catalog.add(model);
    await server.start(holder.node);
    const header = await readGgufHeader(model);
    console.log(`model: ${layers} layers, ${(header.fileSize / 1e6).toFixed(1)} MB`);
    console.log(`bare libp2p stream, same hosts: ${(await bareStream(holder, fetcher, header.fileSize)).toFixed(1)} MB/s`);
    for (const [label, range] of [["middle layers", { start: 1, end: layers - 1 }], ["all layers", { start: 0, end: layers }]] as const) {
      const modelsDir = join(await cluster.dir(), "models");
      const before = server.stats.bytesServed;
      const t0 = process.hrtime.bigint();
      const res = await fetchShard({ host: fetcher, peers: [holder.peerId], modelId: record.sha256, range, modelsDir, name: "bench.gguf" });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const bytes = server.stats.bytesServed - before;
      const need = shardByteRanges(header, range).totalBytes;
      console.log(`${label} [${range.start}, ${range.end}): ${(bytes / 1e6).toFixed(1)} MB of ${(need / 1e6).toFixed(1)} MB in ${s.toFixed(2)} s = ${(bytes / 1e6 / s).toFixed(1)} MB/s${res.complete ? " (complete, whole file re-hashed)" : ""}`);
      await rm(modelsDir, { recursive: true, force: true });
    }
    // Again, since a shared machine's load changes under a run.
    console.log(`bare libp2p stream, same hosts: ${(await bareStream(holder, fetcher, header.fileSize)).toFixed(1)} MB/s`);
  } finally {
    await server.stop();
    await cluster.close();
  }
}

await main();
