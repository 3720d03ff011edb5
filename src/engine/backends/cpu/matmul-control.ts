// The control block shared by the matmul thread pool's caller and its workers: one Int32Array over
// a SharedArrayBuffer. The caller writes a call's arguments with plain stores, then bumps GEN with a
// sequentially consistent Atomics.add, which publishes them; every thread, the caller included, then
// takes chunks of rows by incrementing NEXT until none are left, and each worker decrements PENDING
// when it finds none, the last one waking the caller. Pointers are wasm32 byte offsets stored as
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
/** The call's rows [R0, R1), taken CHUNK rows at a time: chunk i is [R0 + i * CHUNK, min(R1, R0 + (i + 1) * CHUNK)). */
export const R0 = 14;
export const R1 = 15;
export const CHUNK = 16;
/** The next chunk to take (Atomics.add by whoever takes one). */
export const NEXT = 17;

export const CONTROL_INTS = 18;

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
}
