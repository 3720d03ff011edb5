// Where a decode step's time goes on the CPU backend: after a prompt, `--decode` single-token steps
// with every backend operation timed (milliseconds and calls per token; matmuls also per weight
// shape, with the GB/s they read), and, with `--profile`, a
// CPU profile of those steps alone (not the model load) summarised as the functions with the most
// self time. Wasm kernels show as wasm-function[N]; the largest is the matmul kernel.
//   npm run build && node dist/bench/decode-ops.js --model bench-out/smollm-q8_0.gguf --threads 1 --decode 64 --profile
// Not a test: figures depend on the machine and its load.
import { Session } from "node:inspector/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Backend } from "../engine/backend.js";
import { CpuBackend } from "../engine/backends/cpu/index.js";
import { loadModel } from "../engine/generate.js";

const TIMED = ["matmul", "rmsnorm", "rope", "attention", "siluMul", "add", "copy", "embed", "read"] as const;

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

interface Totals {
  ms: number;
  calls: number;
  /** matmul only: weight bytes read, as the backend holds them. */
  bytes: number;
}

/** What a CPU backend's weight says about itself (rows × rowLength, bytes as held in memory). */
interface WeightShape {
  readonly rows: number;
  readonly rowLength: number;
  readonly bytes: number;
}

/**
 * Wraps each timed operation of `backend` so that, while `on()` holds, its calls and time add up;
 * matmuls also add up per weight shape ("matmul 2048x5632"), with the bytes they read.
 */
function timeOperations(backend: Backend, on: () => boolean): Map<string, Totals> {
  const totals = new Map<string, Totals>();
  const add = (key: string, ms: number, bytes: number) => {
    const t = totals.get(key) ?? { ms: 0, calls: 0, bytes: 0 };
    totals.set(key, { ms: t.ms + ms, calls: t.calls + 1, bytes: t.bytes + bytes });
  };
  const ops = backend as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of TIMED) {
    const original = ops[name].bind(backend);
    ops[name] = (...args: unknown[]) => {
      if (!on()) return original(...args);
      const t = performance.now();
      const result = original(...args);
      const ms = performance.now() - t;
      add(name, ms, 0);
      if (name === "matmul") {
        const w = args[0] as WeightShape;
        add(`matmul ${w.rows}x${w.rowLength}`, ms, w.bytes);
      }
      return result;
    };
  }
  return totals;
}

/** The `top` functions by share of self time in a profile. */
function selfTime(profile: Profile, top: number): { fn: string; share: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-2).join("/")}`.trim();
    self.set(key, (self.get(key) ?? 0) + profile.timeDeltas[i]);
    total += profile.timeDeltas[i];
  });
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, t]) => ({ fn, share: Number((t / total).toFixed(3)) }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: "string", default: "bench-out/tinyllama-q8_0.gguf" },
      threads: { type: "string", default: "1" },
      prompt: { type: "string", default: "64" },
      decode: { type: "string", default: "16" },
      profile: { type: "boolean", default: false },
    },
  });
  const [threads, prompt, decode] = [values.threads, values.prompt, values.decode].map(Number);
  for (const [name, n] of Object.entries({ threads, prompt, decode })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  }
  const backend = new CpuBackend({ threads });
  const model = await loadModel(resolve(values.model), backend);
  let timing = false;
  const totals = timeOperations(backend, () => timing);
  try {
    const ids = [1, ...Array.from({ length: prompt - 1 }, (_, i) => 300 + ((i * 7919) % 20000))];
    const tr = model.transformer;
    // A first round warms the engine up; the second is measured.
    const warm = tr.newSequence(prompt + 8);
    await tr.forward(ids, ids.length, warm);
    for (let k = 0; k < 4; k++) await tr.forward([500 + k], 1, warm);
    const seq = tr.newSequence(prompt + decode + 8);
    await tr.forward(ids, ids.length, seq);
    const session = values.profile ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 100 });
      await session.post("Profiler.start");
    }
    timing = true;
    const t = performance.now();
    for (let k = 0; k < decode; k++) await tr.forward([500 + k], 1, seq);
    const ms = performance.now() - t;
    timing = false;
    const profile = session ? ((await session.post("Profiler.stop")) as { profile: Profile }).profile : undefined;
    session?.disconnect();
    const ops = [...totals].filter(([name]) => !name.includes(" "));
    const shapes = [...totals].filter(([name]) => name.startsWith("matmul "));
    const timed = ops.reduce((a, [, b]) => a + b.ms, 0);
    console.log(JSON.stringify({
      bench: "decode-ops", model: values.model, threads, prompt_tokens: prompt, decode_tokens: decode,
      decode_tok_s: Number((decode / (ms / 1000)).toFixed(2)),
      ms_per_token: Number((ms / decode).toFixed(2)),
      operations: Object.fromEntries(ops.map(([name, v]) => [name, { ms_per_token: Number((v.ms / decode).toFixed(3)), calls_per_token: v.calls / decode }])),
      // Per weight shape: GB/s of the bytes the backend holds (Q8_0 on the wasm kernels: 36 per 32 values).
      matmul_by_shape: Object.fromEntries(shapes.map(([name, v]) => [name.slice("matmul ".length), {
        ms_per_token: Number((v.ms / decode).toFixed(3)), calls_per_token: v.calls / decode,
        gb_s: Number((v.bytes / (v.ms / 1000) / 1e9).toFixed(2)),
      }])),
      other_ms_per_token: Number(((ms - timed) / decode).toFixed(3)),
      ...(profile ? { self_time: selfTime(profile, 15) } : {}),
    }, null, 2));
  } finally {
    await model.close();
    await backend.dispose();
  }
}

await main();
