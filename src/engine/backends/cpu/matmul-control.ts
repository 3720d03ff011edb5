// The control block shared by the matmul thread pool's caller and its workers: one Int32Array over
// a SharedArrayBuffer. The caller writes a call's arguments with plain stores, then bumps GEN with a
// sequentially consistent Atomics.add, which publishes them; each worker does its row range and
// decrements PENDING, and the last one wakes the caller. Pointers are wasm32 byte offsets stored as
// int32 bits: passed straight back into the kernels, whose i32 parameters take the same bits.

/** Incremented once per call; workers Atomics.wait on it. */
export const GEN = 0;
/** Workers still running the current call; the caller Atomics.waits on it reaching 0. */
export const PENDING = 1;
/** Non-zero: workers leave their loop at the next GEN bump. */
export const QUIT = 2;
/** Workers whose wasm instance is ready (or failed to be made, see FAILED). */
export const READY = 3;
/** Set by a worker whose kernel threw or whose instance could not be made. */
export const FAILED = 4;
/** The call: kernel index (into the names list handed to workers), then the kernel's arguments. */
export const KERNEL = 5;
export const W = 6;
export const ROWS = 7;
export const COLS = 8;
export const AQ = 9;
export const AD = 10;
export const AX = 11;
export const NTOK = 12;
export const Y = 13;
/** Worker i's row range [r0, r1) sits at RANGES + 2i and RANGES + 2i + 1. */
export const RANGES = 16;

export function controlInts(workers: number): number {
  return RANGES + 2 * workers;
}

/** What a worker receives as workerData. */
export interface MatmulWorkerData {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly control: SharedArrayBuffer;
  /** This worker's slot in RANGES. */
  readonly index: number;
  /** Export names of the kernels, indexed by KERNEL. */
  readonly kernels: readonly string[];
  /** Where the worker posts a description of any failure (read with receiveMessageOnPort). */
  readonly errors: MessagePort;
}
