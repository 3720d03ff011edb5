// The control block shared by the matmul thread pool's caller and its workers: one Int32Array over
// a SharedArrayBuffer. A call is one kernel over a range it can split: a matmul's output rows,
// attention's heads, or the elements of an activation. The caller writes the call with plain stores, then bumps GEN with a
// sequentially consistent Atomics.add, which publishes it; every thread, the caller included, then
// takes chunks of the range by incrementing NEXT until none are left (`takeChunks`), and each worker
// decrements PENDING when it finds none, the last one waking the caller. Pointers are wasm32 byte
// offsets stored as int32 bits: passed straight back into the kernels, whose i32 parameters take
// the same bits.

/** Incremented once per call; workers wait for it to move. */
export const GEN = 0;
/** Workers still running the current call; the caller waits for it to reach 0. */
export const PENDING = 1;
/** Non-zero: workers leave their loop at the next GEN bump. */
export const QUIT = 2;
/** Workers whose wasm instance is ready (or failed to be made, see FAILED). */
export const READY = 3;
/** Set by a worker whose kernel threw or whose instance could not be made. */
export const FAILED = 4;
/** The next chunk to take (Atomics.add by whoever takes one). */
export const NEXT = 5;
/** The kernel index (into the names handed to workers). */
export const KERNEL = 6;
/** How many of ARGS the kernel takes before its range [r0, r1): one of KERNEL_ARITIES. */
export const ARGC = 7;
/** The kernel's leading arguments (pointers, sizes), MAX_ARGS slots. */
export const ARGS = 8;
export const MAX_ARGS = 10;
/** Leading arguments a pool kernel may take: 2 (silu_mul), 8 (a matmul), 10 (attention). */
export const KERNEL_ARITIES: readonly number[] = [2, 8, 10];
/** The call's range [R0, R1) (output rows, or heads), taken CHUNK at a time: chunk i is [R0 + i * CHUNK, min(R1, R0 + (i + 1) * CHUNK)). */
export const R0 = ARGS + MAX_ARGS;
export const R1 = R0 + 1;
export const CHUNK = R0 + 2;

export const CONTROL_INTS = CHUNK + 1;

/** A kernel the pool runs: its leading arguments, then the range [r0, r1) it computes. */
export type KernelCall = (...args: number[]) => void;

/**
 * Takes chunks of the current call until none are left, running each with kernels[KERNEL]. The
 * caller and every worker run this same loop, so which thread computes a chunk never changes how
 * it is computed.
 */
export function takeChunks(ctl: Int32Array, kernels: readonly KernelCall[]): void {
  const kernel = kernels[ctl[KERNEL]];
  if (!kernel) throw new Error(`no kernel ${ctl[KERNEL]}`);
  const start = ctl[R0], end = ctl[R1], chunk = ctl[CHUNK], a = ARGS;
  for (let c = Atomics.add(ctl, NEXT, 1); start + c * chunk < end; c = Atomics.add(ctl, NEXT, 1)) {
    const r0 = start + c * chunk, r1 = Math.min(end, r0 + chunk);
    const argc = ctl[ARGC];
    if (argc === 8) kernel(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], ctl[a + 7], r0, r1);
    else if (argc === 10) kernel(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], ctl[a + 7], ctl[a + 8], ctl[a + 9], r0, r1);
    else kernel(ctl[a], ctl[a + 1], r0, r1);
  }
}

/** What a worker receives as workerData. */
export interface MatmulWorkerData {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly control: SharedArrayBuffer;
  /** This worker's number, for its error messages. */
  readonly index: number;
  /** Export names of the kernels, indexed by KERNEL. */
  readonly kernels: readonly string[];
  /** Where the worker posts a description of any failure (read with receiveMessageOnPort). */
  readonly errors: MessagePort;
  /** How long a worker keeps polling for the next call before it sleeps in Atomics.wait, in ms. */
  readonly spinMs: number;
}

/**
 * Returns once ctl[index] is no longer `from`: polls for up to spinMs first, then sleeps in
 * Atomics.wait. Between the matmuls of a decode step the gap is tens of µs, shorter than a futex
 * wake-up on many machines; polling through it is what keeps a hand-off in the low µs.
 */
export function waitWhileEqual(ctl: Int32Array, index: number, from: number, spinMs: number): void {
  if (spinMs > 0) {
    const until = performance.now() + spinMs;
    for (let i = 1; Atomics.load(ctl, index) === from; i++) {
      if ((i & 63) === 0 && performance.now() > until) break;
    }
  }
  while (Atomics.load(ctl, index) === from) Atomics.wait(ctl, index, from);
}
