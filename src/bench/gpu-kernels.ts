// `node dist/bench/gpu-kernels.js [--types q8_0,q4_k] [--shapes 64x4,128x4,256x2] [--subgroups both|on|off]`:
// on a machine with a GPU, the fixed costs of issuing a dispatch (through the backend and as bare
// WebGPU calls), of running a tiny one and of a read-back; then the weight bytes per second of the
// decode-step matvec for each workgroup shape on TinyLlama's matrix sizes, by wall clock and, where the
// adapter has timestamps, by GPU time. Each size cycles through enough copies of its matrix to exceed
// the GPU's caches, as a decode step does. Prints one JSON object per line.
import { parseArgs } from "node:util";
import { BufferUsage, ShaderStage } from "../engine/backends/webgpu/gpu-constants.js";
import { weightBytes } from "../engine/backends/webgpu/benchmark.js";
import { WebGpuBackend } from "../engine/backends/webgpu/index.js";
import type { MatvecShape } from "../engine/backends/webgpu/wgsl/matmul.js";
import { randomNormals, seededRandom } from "../gguf/quants/seeded-random.js";
import { GgmlType, typeName } from "../gguf/types.js";

const TYPES: Record<string, GgmlType> = { q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0, q4_k: GgmlType.Q4_K, q6_k: GgmlType.Q6_K };
/** [rows, cols]: attention q/o, FFN gate/up, FFN down, output head. */
const SIZES: readonly [number, number][] = [[2048, 2048], [5632, 2048], [2048, 5632], [32000, 2048]];
/** Bytes of weights each size cycles through: beyond the largest last-level cache of current GPUs. */
const CYCLE_BYTES = 256e6;

/** Uploads one size's copies once, then times each shape on them: wall time per matvec, and GPU time where timestamps exist. */
async function matvecRates(backend: WebGpuBackend, shapes: readonly MatvecShape[], type: GgmlType, rows: number, cols: number, iterations: number): Promise<Record<string, unknown>[]> {
  const bytes = weightBytes(type, rows, cols);
  const copies = Math.max(1, Math.min(64, Math.ceil(CYCLE_BYTES / bytes.length)));
  const ws = Array.from({ length: copies }, (_, i) => backend.uploadWeight({ name: `w${i}`, type, dims: [cols, rows] }, bytes));
  const x = backend.alloc(cols);
  const y = backend.alloc(rows);
  backend.write(x, randomNormals(seededRandom(8), cols));
  const lines: Record<string, unknown>[] = [];
  const all = () => {
    for (let i = 0; i < iterations; i++) backend.matmul(ws[i % copies], x, 1, y);
  };
  for (const shape of shapes) {
    backend.setMatvecShape(shape);
    for (const w of ws) backend.matmul(w, x, 1, y);
    await backend.read(y, 1);
    const t0 = performance.now();
    all();
    await backend.read(y, 1);
    const s = (performance.now() - t0) / 1000;
    const gpu = await backend.gpuSeconds(all);
    lines.push({
      shape: backend.matvecShape, type: typeName(type), rows, cols, copies,
      wall_us_per_matvec: (s / iterations) * 1e6, wall_gb_s: (bytes.length * iterations) / s / 1e9,
      ...(gpu === undefined ? {} : { gpu_us_per_matvec: (gpu / iterations) * 1e6, gpu_gb_s: (bytes.length * iterations) / gpu / 1e9 }),
    });
  }
  for (const w of ws) backend.releaseWeight(w);
  return lines;
}

/** Host microseconds per dispatch of bare WebGPU calls (set pipeline, bind group with a dynamic offset, dispatch). */
function rawDispatchMicros(device: GPUDevice, n: number): number {
  const code = `@group(0) @binding(0) var<uniform> p: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { if (g.x < p.x) { b[g.x] += 1.0; } }`;
  const layout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: ShaderStage.COMPUTE, buffer: { type: "uniform", hasDynamicOffset: true } },
      { binding: 1, visibility: ShaderStage.COMPUTE, buffer: { type: "storage" } },
    ],
  });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
  });
  const uniform = device.createBuffer({ size: 256 * 256, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  const storage = device.createBuffer({ size: 8192, usage: BufferUsage.STORAGE });
  const group = device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer: uniform, size: 16 } }, { binding: 1, resource: { buffer: storage } }] });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group, [256 * (i & 255)]);
    pass.dispatchWorkgroups(32);
  }
  const us = ((performance.now() - t0) / n) * 1000;
  pass.end();
  device.queue.submit([encoder.finish()]);
  return us;
}

/** Fixed costs: issuing dispatches (host side), running them (tiny adds), and one read-back round trip. */
async function overheads(submitEvery: number): Promise<Record<string, unknown>> {
  const backend = await WebGpuBackend.create({ submitEvery, timestamps: true });
  try {
    const a = backend.alloc(2048);
    const b = backend.alloc(2048);
    backend.write(a, new Float32Array(2048));
    backend.write(b, new Float32Array(2048));
    const n = 150;
    const rounds = 20;
    await backend.read(a, 1);
    let record = 0;
    let total = 0;
    let readOnly = 0;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) backend.add(a, b, 2048);
      const t1 = performance.now();
      await backend.read(a, 1);
      const t2 = performance.now();
      await backend.read(a, 1);
      const t3 = performance.now();
      record += t1 - t0;
      total += t2 - t0;
      readOnly += t3 - t2;
    }
    const gpu = await backend.gpuSeconds(() => {
      for (let i = 0; i < n; i++) backend.add(a, b, 2048);
    });
    return {
      overheads: backend.description,
      submit_every: submitEvery,
      dispatches_per_round: n,
      record_us_per_dispatch: (record / rounds / n) * 1000,
      total_us_per_dispatch: (total / rounds / n) * 1000,
      empty_read_us: (readOnly / rounds) * 1000,
      raw_webgpu_us_per_dispatch: rawDispatchMicros(backend.device, 3000),
      ...(gpu === undefined ? {} : { gpu_us_per_tiny_dispatch: (gpu / n) * 1e6 }),
    };
  } finally {
    await backend.dispose();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      types: { type: "string", default: "q8_0,q4_k" },
      shapes: { type: "string", default: "64x1,64x4,128x4,256x2,256x4,64x8" },
      subgroups: { type: "string", default: "both" },
      iterations: { type: "string", default: "200" },
    },
  });
  for (const every of [0, 16, 32]) process.stdout.write(JSON.stringify(await overheads(every)) + "\n");
  const subgroupModes = values.subgroups === "both" ? [false, true] : [values.subgroups === "on"];
  const shapes = values.shapes.split(",").flatMap((spec) => {
    const [workgroup, rows] = spec.split("x").map(Number);
    return subgroupModes.map((subgroups) => ({ workgroup, rows, subgroups }));
  });
  const backend = await WebGpuBackend.create({ timestamps: true });
  try {
    for (const name of values.types.split(",")) {
      const type = TYPES[name];
      if (type === undefined) throw new Error(`unknown type ${name}`);
      for (const [r, c] of SIZES) {
        for (const line of await matvecRates(backend, shapes, type, r, c, Number(values.iterations))) process.stdout.write(JSON.stringify(line) + "\n");
      }
    }
  } finally {
    await backend.dispose();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:gpu-kernels: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
