// Worker threads that share a matmul's rows with the calling thread. The workers stay alive between
// calls, blocked in Atomics.wait on a control block (matmul-control.ts); a call costs one store per
// argument, one notify, and one wait for the last worker. Rows go in chunks that every thread takes
// from a shared counter, so a core slowed by other work (common on shared and virtual machines) does
// less of the matmul instead of holding up the rest. Results are identical to one thread: every
// kernel computes each output row on its own, the same way whichever chunk it falls in.
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from "node:worker_threads";
import { AD, AQ, AX, CHUNK, COLS, CONTROL_INTS, FAILED, GEN, KERNEL, type MatmulWorkerData, NEXT, NTOK, PENDING, QUIT, R0, R1, READY, ROWS, W, Y } from "./matmul-control.js";

/** Chunk sizes are multiples of this, so kernels that pair rows (K-quants) pair them as on one thread. */
export const ROW_ALIGN = 8;
/** Chunks per thread: enough for a fast thread to take over a slow one's share, few enough to keep each chunk long. */
const CHUNKS_PER_THREAD = 4;
/** How long to wait for workers to start before giving up (they normally take tens of ms). */
const START_TIMEOUT_MS = 30_000;

/** The process's node flags minus --input-type, which makes a worker refuse its own file entry point. */
const WORKER_EXEC_ARGV = process.execArgv.filter((a) => !a.startsWith("--input-type"));

export class MatmulWorkerError extends Error {
  override readonly name = "MatmulWorkerError";
}

/**
 * Rows per chunk when `threads` threads share rows [r0, r1): about CHUNKS_PER_THREAD chunks each, a
 * multiple of ROW_ALIGN, at least one ROW_ALIGN.
 */
export function chunkRows(r0: number, r1: number, threads: number): number {
  return Math.max(ROW_ALIGN, Math.ceil((r1 - r0) / (threads * CHUNKS_PER_THREAD) / ROW_ALIGN) * ROW_ALIGN);
}

export type KernelCall = (w: number, rows: number, cols: number, aq: number, ad: number, ax: number, nTok: number, y: number, r0: number, r1: number) => void;

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
  constructor(readonly threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: readonly string[]) {
    const workers = threads - 1;
    this.ctl = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
    this.workers = Array.from({ length: workers }, (_, index) => {
      const channel = new MessageChannel();
      channel.port1.unref();
      this.errors.push(channel.port1);
      const data: MatmulWorkerData = { module, memory, control: this.ctl.buffer as SharedArrayBuffer, index, kernels, errors: channel.port2 };
      const worker = new Worker(new URL("./matmul-worker.js", import.meta.url), { workerData: data, transferList: [channel.port2], execArgv: WORKER_EXEC_ARGV });
      worker.on("error", (e: unknown) => this.crashes.push(`matmul worker ${index}: ${e instanceof Error ? e.message : String(e)}`));
      // A process that never disposes the backend must still exit.
      worker.unref();
      return worker;
    });
  }

  /**
   * Runs kernel (export index `kernel`, `local` being the caller's own instance of it) over rows
   * [r0, r1), every thread taking chunks of rows until none are left. Returns when all are done.
   */
  run(kernel: number, local: KernelCall, w: number, rows: number, cols: number, aq: number, ad: number, ax: number, nTok: number, y: number, r0: number, r1: number): void {
    if (this.closed) throw new MatmulWorkerError("the matmul thread pool is closed");
    if (!this.started) this.waitForStart();
    const c = this.ctl;
    const chunk = chunkRows(r0, r1, this.threads);
    c[KERNEL] = kernel;
    c[W] = w;
    c[ROWS] = rows;
    c[COLS] = cols;
    c[AQ] = aq;
    c[AD] = ad;
    c[AX] = ax;
    c[NTOK] = nTok;
    c[Y] = y;
    c[R0] = r0;
    c[R1] = r1;
    c[CHUNK] = chunk;
    Atomics.store(c, NEXT, 0);
    Atomics.store(c, PENDING, this.workers.length);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    for (let i = Atomics.add(c, NEXT, 1); r0 + i * chunk < r1; i = Atomics.add(c, NEXT, 1)) {
      local(w, rows, cols, aq, ad, ax, nTok, y, r0 + i * chunk, Math.min(r1, r0 + (i + 1) * chunk));
    }
    for (let p = Atomics.load(c, PENDING); p !== 0; p = Atomics.load(c, PENDING)) Atomics.wait(c, PENDING, p);
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
