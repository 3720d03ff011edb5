// A matmul thread: instantiates the shared-memory kernel module on the caller's memory (weights are
// not copied), then loops forever: wait for the next call in the control block, multiply chunks of
// its rows until none are left, report done. Synchronous on purpose: Atomics.wait blocks this thread between calls, which
// keeps the wake-up to one futex and nothing on an event loop.
import { workerData } from "node:worker_threads";
import { kernelImports } from "./wasm-imports.js";
import { AD, AQ, AX, CHUNK, COLS, FAILED, GEN, KERNEL, type MatmulWorkerData, NEXT, NTOK, PENDING, QUIT, R0, R1, READY, ROWS, W, Y } from "./matmul-control.js";

type Kernel = (w: number, rows: number, cols: number, aq: number, ad: number, ax: number, nTok: number, y: number, r0: number, r1: number) => void;

const data = workerData as MatmulWorkerData;
const ctl = new Int32Array(data.control);

function fail(what: string, e: unknown): void {
  Atomics.store(ctl, FAILED, 1);
  data.errors.postMessage(`matmul worker ${data.index}: ${what}: ${e instanceof Error ? e.message : String(e)}`);
}

let kernels: Kernel[] = [];
try {
  const instance = new WebAssembly.Instance(data.module, kernelImports(data.memory));
  kernels = data.kernels.map((name) => instance.exports[name] as Kernel);
} catch (e) {
  fail("cannot instantiate the kernels", e);
}
Atomics.add(ctl, READY, 1);
Atomics.notify(ctl, READY);

let seen = 0;
for (;;) {
  Atomics.wait(ctl, GEN, seen);
  seen = Atomics.load(ctl, GEN);
  if (Atomics.load(ctl, QUIT) !== 0) break;
  const kernel = kernels[ctl[KERNEL]];
  const r0 = ctl[R0], r1 = ctl[R1], chunk = ctl[CHUNK];
  try {
    // Chunks until none are left: a thread slowed by other work on its core simply takes fewer.
    for (let c = Atomics.add(ctl, NEXT, 1); r0 + c * chunk < r1; c = Atomics.add(ctl, NEXT, 1)) {
      if (!kernel) throw new Error(`no kernel ${ctl[KERNEL]}`);
      kernel(ctl[W], ctl[ROWS], ctl[COLS], ctl[AQ], ctl[AD], ctl[AX], ctl[NTOK], ctl[Y], r0 + c * chunk, Math.min(r1, r0 + (c + 1) * chunk));
    }
  } catch (e) {
    fail("kernel failed", e);
  }
  if (Atomics.sub(ctl, PENDING, 1) === 1) Atomics.notify(ctl, PENDING);
}
data.errors.close();
