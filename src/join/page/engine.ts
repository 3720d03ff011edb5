// The engine in the page: a stage's layers loaded from the serving node's GGUF over Range reads onto
// the browser's WebGPU, wrapped in the same Stage the nodes run. Nothing here is browser-only but the
// GPU and fetch, so the Node side could load it the same way.
import type { Weight } from "../../engine/backend.js";
import { configFromMetadata, type ModelConfig } from "../../engine/config.js";
import { loadTransformer } from "../../engine/load.js";
import type { LayerRange } from "../../engine/model.js";
import { WebGpuBackend, type AdapterReport } from "../../engine/backends/webgpu/index.js";
import { measureMatvecRate } from "../../engine/backends/webgpu/benchmark.js";
import type { GgufFile } from "../../gguf/reader.js";
import { Stage } from "../../shard/stage.js";
import { tokenizerFromGguf } from "../../tokenizer/tokenizer.js";
import { RangeGguf } from "./range-gguf.js";

export interface PageStage {
  readonly stage: Stage;
  readonly config: ModelConfig;
  readonly range: LayerRange;
  /** Bytes of weights this stage holds on the GPU. */
  readonly weightBytes: number;
  /** Bytes fetched from the node to load it. */
  readonly bytesFetched: number;
}

/** Opens the page's WebGPU device (the browser chooses the adapter). */
export function openGpu(): Promise<WebGpuBackend> {
  return WebGpuBackend.create();
}

export function adapterOf(backend: WebGpuBackend): AdapterReport {
  return backend.adapter;
}

/** Loads layers `range` of the model at `url` onto `backend`; `headers` carry the join credentials. */
export async function loadPageStage(backend: WebGpuBackend, url: string, headers: Readonly<Record<string, string>>, range: LayerRange): Promise<PageStage> {
  const file = await RangeGguf.open(url, headers);
  const md = file.header.metadata;
  const config = configFromMetadata(md, tokenizerFromGguf(md).vocabSize);
  if (!(Number.isInteger(range.start) && Number.isInteger(range.end) && range.start >= 0 && range.start < range.end && range.end <= config.layers)) {
    throw new RangeError(`layer range [${range.start}, ${range.end}) is outside the model's ${config.layers} layers`);
  }
  // loadTransformer reads through tensor() and readTensor() only, which RangeGguf provides with the
  // same meaning; GgufFile is a class with a private file handle, hence the cast.
  const transformer = await loadTransformer(file as unknown as GgufFile, config, backend, { range });
  const w = transformer.weights;
  const held: (Weight | undefined)[] = [w.embedding, w.outputNorm, w.output === w.embedding ? undefined : w.output];
  for (const layer of w.layers) held.push(...(Object.values(layer) as (Weight | undefined)[]));
  const weightBytes = held.reduce((sum, x) => sum + (x?.bytes ?? 0), 0);
  return { stage: new Stage(transformer), config, range, weightBytes, bytesFetched: file.bytesFetched };
}

/** The page's measured matvec rate (Q8_0 weight bytes per second), as nodes measure theirs. */
export async function measureRate(backend: WebGpuBackend, software: boolean): Promise<number> {
  // A software adapter streams ~0.1 GB/s: a small matrix and few passes keep the join quick.
  const rate = await measureMatvecRate(software ? { backend, rows: 1024, cols: 1024, iterations: 3 } : { backend, iterations: 50 });
  return rate.bytesPerSecond;
}
