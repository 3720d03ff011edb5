// Worker threads that share a kernel call (a matmul's rows, attention's heads) with the calling
// thread. The workers stay alive between calls, polling briefly and then blocked in Atomics.wait on
// a control block (matmul-control.ts); a call costs one store per argument, one notify, and one wait
// for the last worker. The range goes in chunks that every thread takes from a shared counter, so a
// core slowed by other work (common on shared and virtual machines) does less of the call instead of
// holding up the rest. Results are identical to one thread: every kernel computes each output row
// (or head) on its own, the same way whichever chunk it falls in.
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from "node:worker_threads";
import { ARGC, ARGS, CHUNK, CONTROL_INTS, FAILED, GEN, KERNEL, KERNEL_ARITIES, type KernelCall, type MatmulWorkerData, NEXT, PENDING, QUIT, R0, R1, READY, takeChunks, waitWhileEqual } from "./matmul-control.js";

export type { KernelCall } from "./matmul-control.js";

/** Chunk sizes are multiples of this, so kernels that pair rows (K-quants) pair them as on one thread. */
export const ROW_ALIGN = 8;
/** Chunks per thread: enough for a fast thread to take over a slow one's share, few enough to keep each chunk long. */
const CHUNKS_PER_THREAD = 4;
/** How long to wait for workers to start before giving up (they normally take tens of ms). */
const START_TIMEOUT_MS = 30_000;
/**
 * How long a worker polls for the next call, and the caller for the workers' last chunks, before
 * sleeping (ms). Covers the gaps between a decode step's matmuls (norms, rope, attention of one
 * layer: well under a millisecond), not the gaps between tokens.
 */
export const DEFAULT_SPIN_MS = 0.5;

/** The process's node flags minus --input-type, which makes a worker refuse its own file entry point. */
const WORKER_EXEC_ARGV = process.execArgv.filter((a) => !a.startsWith("--input-type"));

/**
 * A worker with the process's node flags where a worker accepts them all; without them where it
 * refuses some (per-process flags such as --trace-gc), rather than failing the backend.
 */
function startWorker(data: MatmulWorkerData, transfer: MessagePort): Worker {
  const url = new URL("./matmul-worker.js", import.meta.url);
  try {
    return new Worker(url, { workerData: data, transferList: [transfer], execArgv: WORKER_EXEC_ARGV });
  } catch (e) {
    if ((e as { code?: unknown }).code !== "ERR_WORKER_INVALID_EXEC_ARGV") throw e;
    return new Worker(url, { workerData: data, transferList: [transfer], execArgv: [] });
  }
}

export class MatmulWorkerError extends Error {
  override readonly name = "MatmulWorkerError";
}

/**
 * Rows per chunk when `threads` threads share rows [r0, r1): about CHUNKS_PER_THREAD chunks each, a
 * multiple of `align`, at least one `align`.
 */
export function chunkRows(r0: number, r1: number, threads: number, align = ROW_ALIGN): number {
  return Math.max(align, Math.ceil((r1 - r0) / (threads * CHUNKS_PER_THREAD) / align) * align);
}

/**
 * A call: kernel (index into the pool's kernels) called as kernel(...args, r0, r1) on chunks of
 * [r0, r1). args: 8 for a matmul (w, rows, cols, aq, ad, ax, nTok, y: pointers into the shared
 * memory, and sizes), 10 for attention, 2 for silu_mul.
 */
export interface PoolJob {
  readonly kernel: number;
  readonly args: readonly number[];
  readonly r0: number;
  readonly r1: number;
  /** Chunks are multiples of this (default ROW_ALIGN, which K-quant kernels need; 1 for heads). */
  readonly align?: number;
}

export class MatmulPool {
  private readonly ctl: Int32Array;
  private readonly workers: Worker[];
  /** One port per worker, on which it posts what went wrong (read synchronously: the caller is blocked). */
  private readonly errors: MessagePort[] = [];
  /** Errors the workers raised outside their loop (e.g. their script failed to load). */
  private readonly crashes: string[] = [];
  private started = false;
  private closed = false;

  /** `threads` counts the caller: threads - 1 workers are started. */
  constructor(
    readonly threads: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    kernelNames: readonly string[],
    /** The caller's own instance of each kernel, by the same index. */
    private readonly localKernels: readonly KernelCall[],
    private readonly spinMs = DEFAULT_SPIN_MS,
  ) {
    const workers = threads - 1;
    this.ctl = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
    this.workers = Array.from({ length: workers }, (_, index) => {
      const channel = new MessageChannel();
      channel.port1.unref();
      this.errors.push(channel.port1);
      const data: MatmulWorkerData = { module, memory, control: this.ctl.buffer as SharedArrayBuffer, index, kernels: kernelNames, errors: channel.port2, spinMs };
      const worker = startWorker(data, channel.port2);
      worker.on("error", (e: unknown) => this.crashes.push(`matmul worker ${index}: ${e instanceof Error ? e.message : String(e)}`));
      // A process that never disposes the backend must still exit.
      worker.unref();
      return worker;
    });
  }

  /** Runs the call, every thread taking chunks of its range until none are left. Returns when all are done. */
  run(job: PoolJob): void {
    if (this.closed) throw new MatmulWorkerError("the matmul thread pool is closed");
    if (!KERNEL_ARITIES.includes(job.args.length)) throw new RangeError(`a pool kernel takes ${KERNEL_ARITIES.join(", ")} arguments before its range, got ${job.args.length}`);
    if (!this.started) this.waitForStart();
    const c = this.ctl;
    c[KERNEL] = job.kernel;
    c[ARGC] = job.args.length;
    job.args.forEach((v, i) => (c[ARGS + i] = v));
    c[R0] = job.r0;
    c[R1] = job.r1;
    c[CHUNK] = chunkRows(job.r0, job.r1, this.threads, job.align);
    Atomics.store(c, NEXT, 0);
    Atomics.store(c, PENDING, this.workers.length);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    try {
      takeChunks(c, this.localKernels);
    } finally {
      // Even when our own chunk threw: the workers still write into memory the caller may reuse.
      for (let p = Atomics.load(c, PENDING); p !== 0; p = Atomics.load(c, PENDING)) waitWhileEqual(c, PENDING, p, this.spinMs);
    }
    if (Atomics.load(c, FAILED) !== 0) throw new MatmulWorkerError(this.failure());
  }

  private waitForStart(): void {
    const deadline = performance.now() + START_TIMEOUT_MS;
    for (let n = Atomics.load(this.ctl, READY); n < this.workers.length; n = Atomics.load(this.ctl, READY)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new MatmulWorkerError(`only ${n} of ${this.workers.length} matmul workers started within ${START_TIMEOUT_MS} ms (${this.failure()})`);
      Atomics.wait(this.ctl, READY, n, left);
    }
    if (Atomics.load(this.ctl, FAILED) !== 0) throw new MatmulWorkerError(this.failure());
    this.started = true;
  }

  private failure(): string {
    const messages = [...this.crashes];
    for (const port of this.errors) {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) messages.push(String(m.message));
    }
    return messages.length ? messages.join("; ") : "a matmul worker failed";
  }

  /** Stops the workers; later calls throw. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, QUIT, 1);
    Atomics.add(this.ctl, GEN, 1);
    Atomics.notify(this.ctl, GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const port of this.errors) port.close();
  }
}
