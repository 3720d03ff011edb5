// A short measured rate for the device profile: how many bytes of weights per second one adapter's
// matvec (a decode step's matmul) streams, for Q8_0 and F16 weights. Decode speed of a shard is close
// to its weight bytes divided by this rate.
import { quantizeTensor } from "../../../gguf/quants/index.js";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import { GgmlType, bytesFor, typeName } from "../../../gguf/types.js";
import { WebGpuBackend } from "./index.js";

export interface MatvecBenchOptions {
  readonly type?: GgmlType.Q8_0 | GgmlType.F16;
  /** Weight shape; the default is a TinyLlama-sized FFN matrix. */
  readonly rows?: number;
  readonly cols?: number;
  /** Matvecs timed after one warm-up (which also compiles the kernel). */
  readonly iterations?: number;
  /** An open backend to measure; otherwise one is opened on the best adapter and closed afterwards. */
  readonly backend?: WebGpuBackend;
}

export interface MatvecRate {
  readonly adapter: string;
  readonly type: string;
  readonly rows: number;
  readonly cols: number;
  readonly weightBytes: number;
  readonly iterations: number;
  readonly seconds: number;
  readonly bytesPerSecond: number;
}

/** Rows of random weights: a few distinct quantised rows repeated (quantising millions of values would dominate the run). */
export function weightBytes(type: GgmlType, rows: number, cols: number): Uint8Array {
  const distinct = Math.min(rows, 16);
  const sample = quantizeTensor(type, randomNormals(seededRandom(7), distinct * cols, 0.05), cols);
  const rowBytes = bytesFor(type, cols);
  const out = new Uint8Array(rows * rowBytes);
  for (let r = 0; r < rows; r++) out.set(sample.subarray((r % distinct) * rowBytes, (r % distinct + 1) * rowBytes), r * rowBytes);
  return out;
}

export async function measureMatvecRate(options: MatvecBenchOptions = {}): Promise<MatvecRate> {
  const type = options.type ?? GgmlType.Q8_0;
  const rows = options.rows ?? 5632;
  const cols = options.cols ?? 2048;
  const iterations = options.iterations ?? 20;
  const backend = options.backend ?? (await WebGpuBackend.create());
  try {
    const bytes = weightBytes(type, rows, cols);
    const w = backend.uploadWeight({ name: "bench.weight", type, dims: [cols, rows] }, bytes);
    const x = backend.alloc(cols);
    const y = backend.alloc(rows);
    backend.write(x, randomNormals(seededRandom(8), cols));
    backend.matmul(w, x, 1, y);
    await backend.read(y, 1);
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) backend.matmul(w, x, 1, y);
    await backend.read(y, 1);
    const seconds = (performance.now() - t0) / 1000;
    return {
      adapter: backend.description, type: typeName(type), rows, cols, weightBytes: bytes.length, iterations, seconds,
      bytesPerSecond: (bytes.length * iterations) / seconds,
    };
  } finally {
    if (!options.backend) await backend.dispose();
  }
}
