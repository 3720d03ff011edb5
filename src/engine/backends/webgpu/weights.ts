// Weights on the device. Matrices keep their GGUF bytes, split into row chunks that each fit one
// storage binding (maxStorageBufferBindingSize) and one buffer (maxBufferSize). Vectors (norms,
// biases) are read as f32 by every op, so they are converted once at upload, as the CPU backend does.
import type { Weight, WeightInfo } from "../../backend.js";
import { bytesFor, typeName } from "../../../gguf/types.js";

export interface WeightChunk {
  readonly buffer: GPUBuffer;
  /** First row of the matrix in this chunk. */
  readonly rowStart: number;
  readonly rows: number;
}

export class WebGpuMemoryError extends Error {
  override readonly name = "WebGpuMemoryError";
}

export class GpuWeight implements Weight {
  constructor(
    readonly info: WeightInfo,
    readonly bytes: number,
    /** Row chunks of a matrix, in row order; one chunk holding f32 values for a vector. */
    readonly chunks: readonly WeightChunk[],
    readonly rowBytes: number,
  ) {}
  get rowLength(): number {
    return this.info.dims[0];
  }
  get rows(): number {
    return this.info.dims.slice(1).reduce((a, b) => a * b, 1);
  }
  /** Rows per chunk (all but the last chunk hold exactly this many). */
  get chunkRows(): number {
    return this.chunks[0].rows;
  }
}

export interface RowSplit {
  readonly rowBytes: number;
  readonly rowsPerChunk: number;
  readonly chunks: number;
}

/** How a rows × rowLength matrix splits under a per-buffer byte limit; a clear error when a row alone is too big. */
export function splitRows(info: WeightInfo, limitBytes: number): RowSplit {
  const rowLength = info.dims[0];
  const rows = info.dims.slice(1).reduce((a, b) => a * b, 1);
  const rowBytes = bytesFor(info.type, rowLength);
  // Chunk buffers are padded to whole 4-byte words plus one spare word (see the shaders' ld32).
  const usable = Math.floor(limitBytes / 4) * 4 - 4;
  if (rowBytes > usable) {
    throw new WebGpuMemoryError(
      `tensor ${info.name} (${typeName(info.type)}, [${info.dims.join(", ")}]): one row is ${rowBytes} bytes, more than the ` +
      `adapter's largest storage binding of ${limitBytes} bytes, so it cannot be split by rows`,
    );
  }
  const rowsPerChunk = Math.min(rows, Math.floor(usable / rowBytes));
  return { rowBytes, rowsPerChunk, chunks: Math.ceil(rows / rowsPerChunk) };
}
