// Helpers for the shard-fetch tests (not a test file itself): real libp2p hosts in this process on
// 127.0.0.1, seeded random models, and running a shard on fixed input to compare two copies of a model.
import "../net/polyfill.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHost, type TesseraHost } from "../net/host.js";
import { generateClusterKey } from "../net/cluster-key.js";
import { CpuBackend } from "../engine/backends/cpu/index.js";
import { GgmlType } from "../gguf/types.js";
import { writeGguf } from "../gguf/writer.js";
import { randomModelSpec } from "../models/random-model.js";
import { buildSyntheticVocab } from "../tokenizer/synth.js";
import type { LayerRange } from "../engine/model.js";
import { loadShard } from "./shard.js";

export async function tempDir(prefix = "tessera-shard-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Hosts of one keyed cluster, each with its own data dir, all connected; close() stops and deletes them. */
export class Cluster {
  readonly hosts: TesseraHost[] = [];
  private readonly dirs: string[] = [];
  private readonly key = generateClusterKey();

  async dir(): Promise<string> {
    const d = await tempDir();
    this.dirs.push(d);
    return d;
  }

  async start(count: number): Promise<TesseraHost[]> {
    for (let i = 0; i < count; i++) {
      const h = await createHost({ dataDir: await this.dir(), listenHost: "127.0.0.1", port: 0, clusterKey: this.key });
      this.hosts.push(h);
    }
    // Every pair connected, as in a cluster whose nodes all found each other.
    for (const [i, a] of this.hosts.entries()) for (const b of this.hosts.slice(i + 1)) await a.dial(b.multiaddrs[0]);
    return this.hosts;
  }

  async close(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.stop()));
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** A seeded random Q8_0 llama model with a tied output head and rope_freqs (the extras a shard may need). */
export async function writeRandomQ8Model(path: string, layers = 6): Promise<void> {
  await writeGguf(path, randomModelSpec({
    arch: "llama", type: GgmlType.Q8_0, dim: 256, layers, heads: 4, kvHeads: 2, ffn: 768, contextLength: 128, seed: 21,
    tokenizer: buildSyntheticVocab("spm", { size: 400, seed: 5 }), tiedEmbeddings: true, ropeFreqs: true,
  }));
}

/**
 * Runs layers `range` of the model at `path` on a fixed input (token ids for a first stage, seeded
 * hidden states otherwise), a prompt then one decode step, and returns every output it produced.
 */
export async function shardOutputs(path: string, range: LayerRange): Promise<Float32Array[]> {
  const shard = await loadShard({ modelPath: path, range }, new CpuBackend({ threads: 1 }));
  try {
    const t = shard.transformer;
    const seq = t.newSequence(32);
    const prompt = 5;
    const input = (n: number, salt: number): number[] | Float32Array => {
      if (range.start === 0) return Array.from({ length: n }, (_, i) => (i * 7 + salt) % shard.config.vocab);
      const h = new Float32Array(n * shard.config.dim);
      let s = 12345 + salt;
      for (let i = 0; i < h.length; i++) {
        s = (s * 1103515245 + 12345) >>> 0;
        h[i] = (s / 0xffffffff - 0.5) * 2;
      }
      return h;
    };
    const outs = [new Float32Array(await t.forward(input(prompt, 1), prompt, seq))];
    outs.push(new Float32Array(await t.forward(input(1, 2), 1, seq)));
    return outs;
  } finally {
    await shard.close();
  }
}

/** Exact equality of f32 arrays, bit for bit (NaN payloads and -0 included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}
