// Worker of random-model-parallel.ts: makes one tensor's bytes per message and hands the buffer back.
import { parentPort } from "node:worker_threads";
import { randomTensorBytes } from "./random-model.js";
import type { TensorJob } from "./random-model-parallel.js";

parentPort?.on("message", (job: TensorJob) => {
  const bytes = randomTensorBytes(job.seed, job.tensor);
  parentPort?.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
});
