// The random-weight model made on worker threads: each worker makes whole tensors of the plan
// (randomTensorBytes), which equal what one thread makes, byte for byte, since every tensor knows where
// its values start in the seed's stream. TinyLlama's 1.1 billion weights take minutes on one thread.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { GgufTensorSpec, GgufWriteSpec } from "../gguf/writer.js";
import { randomModelPlan, randomTensorBytes, type RandomModelOptions, type RandomTensorPlan } from "./random-model.js";

const WORKER = new URL("./random-model-worker.js", import.meta.url);
/** Below this many values a tensor is made here rather than sent to a worker. */
const SMALL = 1 << 16;

export interface TensorJob {
  readonly seed: number;
  readonly tensor: RandomTensorPlan;
}

export async function randomModelSpecParallel(o: RandomModelOptions, threads = availableParallelism()): Promise<GgufWriteSpec> {
  const plan = randomModelPlan(o);
  const data: Uint8Array[] = new Array(plan.tensors.length);
  const large: number[] = [];
  plan.tensors.forEach((t, i) => {
    if (t.fixed || t.dims.reduce((a, b) => a * b, 1) < SMALL || threads <= 1) data[i] = randomTensorBytes(o.seed, t);
    else large.push(i);
  });
  const workers = Array.from({ length: Math.min(threads, large.length) }, () => new Worker(WORKER));
  try {
    let next = 0;
    await Promise.all(workers.map(async (worker) => {
      while (next < large.length) {
        const i = large[next++];
        data[i] = await runJob(worker, { seed: o.seed, tensor: plan.tensors[i] });
      }
    }));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const tensors: GgufTensorSpec[] = plan.tensors.map((t, i) => ({ name: t.name, dims: [...t.dims], type: t.type, data: data[i] }));
  return { metadata: plan.metadata, tensors };
}

function runJob(worker: Worker, job: TensorJob): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      worker.off("message", onMessage);
      worker.off("error", onError);
    };
    const onMessage = (bytes: Uint8Array): void => {
      done();
      resolve(bytes);
    };
    const onError = (e: Error): void => {
      done();
      reject(e);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.postMessage(job);
  });
}
