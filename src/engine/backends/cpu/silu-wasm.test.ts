// The wasm SwiGLU activation against ops.siluMul (the TypeScript reference) on random values, f32
// edge values and odd lengths, and split across threads.
import assert from "node:assert/strict";
import { test } from "node:test";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import * as ops from "./ops.js";
import { WasmKernels } from "./wasm-kernels.js";

const EDGES = [0, -0, Infinity, -Infinity, NaN, 1e-30, -1e-30, 88, -88, 104, -104, 110, -110, 130, -130, 800, -800, 3.4e38, -3.4e38, 1.4e-45];

function reference(gate: Float32Array, up: Float32Array): Float32Array {
  const out = gate.slice();
  ops.siluMul(out, up, out.length);
  return out;
}

test("wasm silu(gate) * up matches the TypeScript on random and edge values", () => {
  const kernels = WasmKernels.load();
  const rand = seededRandom(31);
  let exact = 0, total = 0;
  for (const [n, spread] of [[5632, 1], [1001, 5], [37, 50], [3, 1]] as const) {
    const gate = randomNormals(rand, n, spread);
    const up = randomNormals(rand, n, 1);
    const want = reference(gate, up);
    const got = gate.slice();
    kernels.siluMul(got, up, n);
    for (let i = 0; i < n; i++) {
      total++;
      if (Object.is(got[i], want[i])) exact++;
      // e^x from the kernel's polynomial may differ from Math.exp in the last f64 bits; after the f32 roundings that is at most one f32 step.
      assert.ok(Math.abs(got[i] - want[i]) <= 1.2e-7 * Math.abs(want[i]), `n=${n} element ${i}: wasm ${got[i]} vs TS ${want[i]}`);
    }
  }
  assert.ok(exact / total > 0.999, `only ${exact} of ${total} outputs are bit-identical`);
  const gate = Float32Array.from(EDGES), up = Float32Array.from(EDGES.map((_, i) => (i % 3) - 1.5));
  const got = gate.slice();
  kernels.siluMul(got, up, gate.length);
  assert.deepEqual([...got], [...reference(gate, up)]);
});

test("silu(gate) * up split across 2 and 3 threads equals one thread bit for bit", async () => {
  const pools = [1, 2, 3].map((threads) => WasmKernels.load({ threads, minParallelWork: 0 }));
  try {
    const rand = seededRandom(32);
    for (const n of [5632, 4099, 7]) {
      const gate = randomNormals(rand, n, 3), up = randomNormals(rand, n, 1);
      const outs = pools.map((k) => {
        const g = gate.slice();
        k.siluMul(g, up, n);
        return g;
      });
      assert.notDeepEqual(outs[0], gate);
      assert.deepEqual(outs[1], outs[0], `n=${n}: 2 threads differ from 1`);
      assert.deepEqual(outs[2], outs[0], `n=${n}: 3 threads differ from 1`);
    }
  } finally {
    await Promise.all(pools.map((k) => k.dispose()));
  }
});
