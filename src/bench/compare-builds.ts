// Two (or more) builds of the engine on the same model, measured in turn: each build runs in a
// process of its own (two engines in one process were seen to slow each other unevenly), and the
// builds alternate, `--repeat` times, so that this shared machine's drift falls on all of them alike.
// A build is a directory holding a built checkout (`dist/`), e.g. an older commit:
//   git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci && npm run build)
//   node dist/bench/compare-builds.js --threads 2 /tmp/before .
// Each process runs `--rounds` times: a fresh sequence, the prompt, then `--decode` single-token steps.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

interface Speeds {
  readonly prefill_tok_s: number;
  readonly decode_tok_s: number;
}

/** Loads the engine of the build at `root` and measures it (runs in the child process). */
async function measure(root: string, model: string, threads: number, prompt: number, decode: number, rounds: number): Promise<Speeds> {
  const dist = (path: string) => pathToFileURL(resolve(root, "dist", path)).href;
  const { CpuBackend } = (await import(dist("engine/backends/cpu/index.js"))) as typeof import("../engine/backends/cpu/index.js");
  const { loadModel } = (await import(dist("engine/generate.js"))) as typeof import("../engine/generate.js");
  const backend = new CpuBackend({ threads });
  const loaded = await loadModel(model, backend);
  try {
    // A fixed prompt of ordinary token ids, the same for every build.
    const ids = [1, ...Array.from({ length: prompt - 1 }, (_, i) => 300 + ((i * 7919) % 20000))];
    let prefillMs = 0, decodeMs = 0;
    for (let r = 0; r < rounds; r++) {
      const seq = loaded.transformer.newSequence(prompt + decode + 8);
      let t = performance.now();
      await loaded.transformer.forward(ids, ids.length, seq);
      prefillMs += performance.now() - t;
      t = performance.now();
      for (let k = 0; k < decode; k++) await loaded.transformer.forward([500 + k], 1, seq);
      decodeMs += performance.now() - t;
    }
    return { prefill_tok_s: (rounds * prompt) / (prefillMs / 1000), decode_tok_s: (rounds * decode) / (decodeMs / 1000) };
  } finally {
    await loaded.close();
    await backend.dispose();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: "string", default: "bench-out/tinyllama-q8_0.gguf" },
      threads: { type: "string", default: "2" },
      prompt: { type: "string", default: "64" },
      decode: { type: "string", default: "8" },
      rounds: { type: "string", default: "3" },
      repeat: { type: "string", default: "2" },
      // Internal: measure this one build and print its JSON.
      child: { type: "boolean", default: false },
    },
  });
  const [threads, prompt, decode, rounds, repeat] = [values.threads, values.prompt, values.decode, values.rounds, values.repeat].map(Number);
  for (const [name, n] of Object.entries({ threads, prompt, decode, rounds, repeat })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  }
  const model = resolve(values.model);
  if (values.child) {
    console.log(JSON.stringify(await measure(positionals[0], model, threads, prompt, decode, rounds)));
    return;
  }
  if (positionals.length < 1) throw new Error("name at least one build directory (one holding dist/)");
  const self = new URL(import.meta.url).pathname;
  const runs = new Map<string, Speeds[]>(positionals.map((root) => [root, []]));
  for (let i = 0; i < repeat; i++) {
    for (const root of positionals) {
      const args = [self, "--child", "--model", model, "--threads", String(threads), "--prompt", String(prompt), "--decode", String(decode), "--rounds", String(rounds), root];
      const child = spawnSync(process.execPath, args, { encoding: "utf8" });
      if (child.status !== 0) throw new Error(`the build at ${root} failed: ${child.stderr.trim().split("\n").slice(-3).join(" ")}`);
      runs.get(root)!.push(JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Speeds);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(JSON.stringify({
    bench: "compare-builds", model, threads, prompt, decode, rounds, repeat,
    builds: [...runs].map(([root, r]) => ({
      root,
      prefill_tok_s: r.map((s) => Number(s.prefill_tok_s.toFixed(2))),
      decode_tok_s: r.map((s) => Number(s.decode_tok_s.toFixed(2))),
      mean: { prefill_tok_s: Number(mean(r.map((s) => s.prefill_tok_s)).toFixed(2)), decode_tok_s: Number(mean(r.map((s) => s.decode_tok_s)).toFixed(2)) },
    })),
  }, null, 2));
}

await main();
