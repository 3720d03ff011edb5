// `npm run bench:engine`: our prefill/decode speed against llama.cpp (node-llama-cpp) on the same
// file, same thread count, in the same run. Models are TinyLlama-1.1B-shaped random weights made by
// our own generator and cached under bench-out/. Prints one JSON object, with the machine's load
// average and its single-thread read bandwidth (a wasm probe in the same run) beside the speeds.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CpuBackend } from "../engine/backends/cpu/index.js";
import { kernelImports } from "../engine/backends/cpu/wasm-imports.js";
import { loadModel, generate } from "../engine/generate.js";
import { readGgufHeader } from "../gguf/reader.js";
import { GgmlType, typeName } from "../gguf/types.js";
import { LlamaCppReference } from "../reference/llama-cpp.js";
import { ensureModel, SHAPES } from "./bench-models.js";

interface Speed {
  prefill_tok_s: number;
  decode_tok_s: number;
}

/**
 * Single-thread read bandwidth in GB/s: the best of five passes of the wasm read probes over 256 MiB
 * (far beyond the caches), in the same kind of code and memory the kernels use. `one_stream` reads
 * front to back; `four_streams` reads four quarters together, as the decode kernels do, which keeps
 * more cache-line fills in flight and is what one thread of this machine can actually reach.
 */
function probeReadBandwidth(): { one_stream: number; four_streams: number } {
  const bytes = 256 << 20;
  const base = 1 << 20;
  const memory = new WebAssembly.Memory({ initial: (base + bytes) / 65536, maximum: 65536 });
  const module = new WebAssembly.Module(readFileSync(new URL("../engine/backends/cpu/kernels.wasm", import.meta.url)));
  const instance = new WebAssembly.Instance(module, kernelImports(memory));
  // Touch every page so the probes read memory, not the kernel's shared zero page.
  new Uint8Array(memory.buffer, base, bytes).fill(7);
  const gbs = (name: string) => {
    const probe = instance.exports[name] as (ptr: number, n: number) => number;
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      probe(base, bytes);
      best = Math.min(best, performance.now() - t0);
    }
    return bytes / (best / 1000) / 1e9;
  };
  return { one_stream: gbs("read_probe"), four_streams: gbs("read_probe_streams") };
}

/** Bytes of weights one decode step reads: every tensor but the embedding table (one row of it per token). */
async function weightBytesPerToken(path: string): Promise<number> {
  const header = await readGgufHeader(path);
  return header.tensors.filter((t) => t.name !== "token_embd.weight" || !header.tensors.some((o) => o.name === "output.weight")).reduce((n, t) => n + t.byteSize, 0);
}

function promptIds(vocab: number, bos: number | undefined, n: number): number[] {
  // A fixed pseudo-random prompt of ordinary tokens, identical for both engines.
  const ids: number[] = bos === undefined ? [] : [bos];
  let x = 12345;
  while (ids.length < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    ids.push(300 + (x % (vocab - 300)));
  }
  return ids;
}

/** Process CPU time (all threads) in seconds since `from`. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
}

async function ours(path: string, nPrompt: number, nDecode: number, threads: number): Promise<Speed & { tokens: number[]; prompt: number[]; kernels: string; cpu: Speed }> {
  const backend = new CpuBackend({ threads });
  const model = await loadModel(path, backend);
  try {
    const ids = promptIds(model.config.vocab, model.tokenizer.bos, nPrompt);
    const sampler = { temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 0, seed: 0 };
    const contextLength = nPrompt + nDecode + 8;
    // CPU time of the prompt alone (prefill and the first sample), then of the whole generation.
    const c0 = process.cpuUsage();
    await generate(model, ids, { maxTokens: 1, sampler, contextLength });
    const prefillCpu = cpuSeconds(c0);
    const c1 = process.cpuUsage();
    const r = await generate(model, ids, { maxTokens: nDecode + 1, sampler, contextLength });
    const decodeCpu = cpuSeconds(c1) - prefillCpu;
    const wasm = backend.wasm;
    const kernels = wasm ? `${wasm.relaxed ? "wasm relaxed-simd" : "wasm simd"}${wasm.u8 ? ", u8 kernels (Q8_0, Q4_K, Q5_K)" : ""}` : "typescript";
    return {
      prefill_tok_s: r.timings.prefillTokS, decode_tok_s: r.timings.decodeTokS, tokens: [...r.tokens], prompt: ids, kernels,
      cpu: { prefill_tok_s: nPrompt / prefillCpu, decode_tok_s: nDecode / decodeCpu },
    };
  } finally {
    await model.close();
    await backend.dispose();
  }
}

async function llamaCpp(path: string, ids: number[], nDecode: number, threads: number): Promise<Speed & { tokens: number[]; cpu: Speed }> {
  const ref = await LlamaCppReference.open(path, { threads, contextSize: ids.length + nDecode + 8 });
  try {
    // As for ours: the prompt alone first (each run starts from an empty sequence), for CPU time.
    const c0 = process.cpuUsage();
    await ref.greedy(ids, 1);
    const prefillCpu = cpuSeconds(c0);
    const c1 = process.cpuUsage();
    // One token more than we decode: the first comes from prefill, each later one is one decode step.
    const run = await ref.greedy(ids, nDecode + 1);
    const decodeCpu = cpuSeconds(c1) - prefillCpu;
    return {
      prefill_tok_s: ids.length / (run.prefillMs / 1000),
      decode_tok_s: nDecode / (run.decodeMs / 1000),
      tokens: run.tokens,
      cpu: { prefill_tok_s: ids.length / prefillCpu, decode_tok_s: nDecode / decodeCpu },
    };
  } finally {
    await ref.close();
  }
}

/** Index of the first differing token, or null when the two runs agree throughout. */
function firstDifference(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? null : n;
}

/** This process's peak resident set (VmHWM), in bytes; undefined where /proc is not there. */
function peakRss(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)\s*kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Peak resident memory of one generation by our engine alone (one thread), measured in a child
 * process so that neither llama.cpp nor earlier models count: against the file's size.
 */
function rssOfGeneration(path: string, nPrompt: number, nDecode: number): { peak_rss_bytes: number; file_bytes: number; ratio: number } {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--rss-of", path, "--prompt", String(nPrompt), "--decode", String(nDecode)], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(`rss child failed: ${child.stderr}`);
  const peak = Number(JSON.parse(child.stdout).peak_rss_bytes);
  const file = statSync(path).size;
  return { peak_rss_bytes: peak, file_bytes: file, ratio: peak / file };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      // Also measure peak resident memory of a generation per model (a child process each).
      rss: { type: "boolean", default: false },
      // Internal: the child process of --rss.
      "rss-of": { type: "string" },
      shape: { type: "string", default: "tinyllama" },
      types: { type: "string", default: "q8_0,q4_k" },
      // Both engines get the same count; comma-separated counts run one after the other.
      threads: { type: "string", default: "1" },
      prompt: { type: "string", default: "64" },
      decode: { type: "string", default: "16" },
      dir: { type: "string", default: "bench-out" },
    },
  });
  const shape = values.shape as keyof typeof SHAPES;
  if (!(shape in SHAPES)) throw new Error(`unknown shape ${shape}`);
  const threadCounts = values.threads.split(",").map(Number);
  if (threadCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`bad --threads ${values.threads}`);
  const nPrompt = Number(values.prompt);
  const nDecode = Number(values.decode);
  if (values["rss-of"] !== undefined) {
    await ours(values["rss-of"], nPrompt, nDecode, 1);
    process.stdout.write(JSON.stringify({ peak_rss_bytes: peakRss() ?? -1 }) + "\n");
    return;
  }
  mkdirSync(values.dir, { recursive: true });
  const types = values.types.split(",").map((t) => ({ q8_0: GgmlType.Q8_0, q4_k: GgmlType.Q4_K, q4_0: GgmlType.Q4_0, q6_k: GgmlType.Q6_K, f16: GgmlType.F16 })[t]);
  const results = [];
  const memory: object[] = [];
  const loadBefore = loadavg();
  const readGbS = probeReadBandwidth();
  for (const type of types) {
    if (type === undefined) throw new Error(`unknown type in ${values.types}`);
    const path = await ensureModel(values.dir, shape, type);
    const perToken = await weightBytesPerToken(path);
    if (values.rss) memory.push({ model: `${shape}-${typeName(type)}`, ...rssOfGeneration(path, nPrompt, nDecode) });
    for (const threads of threadCounts) {
      const a = await ours(path, nPrompt, nDecode, threads);
      const b = await llamaCpp(path, a.prompt, nDecode, threads);
      results.push({
        model: `${shape}-${typeName(type)}`,
        threads,
        prompt_tokens: nPrompt,
        decode_tokens: nDecode,
        tessera: { prefill_tok_s: a.prefill_tok_s, decode_tok_s: a.decode_tok_s, kernels: a.kernels },
        llama_cpp: { prefill_tok_s: b.prefill_tok_s, decode_tok_s: b.decode_tok_s },
        ratio: { prefill: a.prefill_tok_s / b.prefill_tok_s, decode: a.decode_tok_s / b.decode_tok_s },
        // Tokens per CPU-second (all threads): unlike wall time, barely moved by other work on the
        // machine. At one thread the best like-for-like comparison on a busy machine; at more threads
        // it measures efficiency, not the gain from parallelism.
        per_cpu_second: {
          tessera: a.cpu,
          llama_cpp: b.cpu,
          ratio: { prefill: a.cpu.prefill_tok_s / b.cpu.prefill_tok_s, decode: a.cpu.decode_tok_s / b.cpu.decode_tok_s },
        },
        // Weight bytes streamed per second while decoding, against the probe's read bandwidth.
        decode_weight_gb_s: { tessera: (perToken * a.decode_tok_s) / 1e9, llama_cpp: (perToken * b.decode_tok_s) / 1e9 },
        // The same, as a share of what `threads` threads could read at the probe's four-stream rate.
        decode_share_of_read_bandwidth: {
          tessera: (perToken * a.decode_tok_s) / 1e9 / (threads * readGbS.four_streams),
          llama_cpp: (perToken * b.decode_tok_s) / 1e9 / (threads * readGbS.four_streams),
        },
        // Random-weight models amplify last-bit arithmetic differences (see engine/parity.test.ts), so
        // greedy paths may part after a while; this says after how many tokens they did, if at all.
        greedy_tokens_equal_until: firstDifference(a.tokens, b.tokens.slice(0, a.tokens.length)),
      });
    }
  }
  const machine = {
    read_gb_s_1_thread: readGbS,
    // Other work on the machine slows both engines; ratios from one run hold up better than raw speeds.
    load_average_1min: { before: loadBefore[0], after: loadavg()[0] },
  };
  process.stdout.write(JSON.stringify({ bench: "engine", node: process.version, machine, results, ...(values.rss ? { memory } : {}) }, null, 2) + "\n");
}

main().catch((e) => {
  process.stderr.write(`bench:engine: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
