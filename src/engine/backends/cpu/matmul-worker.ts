// A matmul thread: instantiates the shared-memory kernel module on the caller's memory (weights are
// not copied), then loops forever: wait for the next call in the control block, multiply its row
// range, report done. Synchronous on purpose: Atomics.wait blocks this thread between calls, which
// keeps the wake-up to one futex and nothing on an event loop.
import { workerData } from "node:worker_threads";
import { kernelImports } from "./wasm-imports.js";
import { AD, AQ, AX, COLS, FAILED, GEN, KERNEL, type MatmulWorkerData, NTOK, PENDING, QUIT, RANGES, READY, ROWS, W, Y } from "./matmul-control.js";

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

const slot = RANGES + 2 * data.index;
let seen = 0;
for (;;) {
  Atomics.wait(ctl, GEN, seen);
  seen = Atomics.load(ctl, GEN);
  if (Atomics.load(ctl, QUIT) !== 0) break;
  const r0 = ctl[slot];
  const r1 = ctl[slot + 1];
  if (r1 > r0) {
    const kernel = kernels[ctl[KERNEL]];
    try {
      if (!kernel) throw new Error(`no kernel ${ctl[KERNEL]}`);
      kernel(ctl[W], ctl[ROWS], ctl[COLS], ctl[AQ], ctl[AD], ctl[AX], ctl[NTOK], ctl[Y], r0, r1);
    } catch (e) {
      fail("kernel failed", e);
    }
  }
  if (Atomics.sub(ctl, PENDING, 1) === 1) Atomics.notify(ctl, PENDING);
}
data.errors.close();
