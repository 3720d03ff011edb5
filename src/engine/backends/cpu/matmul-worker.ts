// A matmul thread: instantiates the shared-memory kernel module on the caller's memory (weights are
// not copied), then loops forever: wait for the next call in the control block, multiply chunks of
// its range until none are left, report done. Synchronous on purpose: the thread polls briefly and
// then blocks in Atomics.wait between calls, with nothing on an event loop.
import { workerData } from "node:worker_threads";
import { kernelImports } from "./wasm-imports.js";
import { FAILED, GEN, type KernelCall, type MatmulWorkerData, PENDING, QUIT, READY, takeChunks, waitWhileEqual } from "./matmul-control.js";

const data = workerData as MatmulWorkerData;
const ctl = new Int32Array(data.control);

function fail(what: string, e: unknown): void {
  Atomics.store(ctl, FAILED, 1);
  data.errors.postMessage(`matmul worker ${data.index}: ${what}: ${e instanceof Error ? e.message : String(e)}`);
}

let kernels: KernelCall[] = [];
try {
  const instance = new WebAssembly.Instance(data.module, kernelImports(data.memory));
  kernels = data.kernels.map((name) => instance.exports[name] as KernelCall);
} catch (e) {
  fail("cannot instantiate the kernels", e);
}
Atomics.add(ctl, READY, 1);
Atomics.notify(ctl, READY);

let seen = 0;
for (;;) {
  waitWhileEqual(ctl, GEN, seen, data.spinMs);
  seen = Atomics.load(ctl, GEN);
  if (Atomics.load(ctl, QUIT) !== 0) break;
  try {
    // Chunks until none are left: a thread slowed by other work on its core simply takes fewer.
    takeChunks(ctl, kernels);
  } catch (e) {
    fail("kernel failed", e);
  }
  if (Atomics.sub(ctl, PENDING, 1) === 1) Atomics.notify(ctl, PENDING);
}
data.errors.close();
