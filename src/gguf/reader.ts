// Reading GGUF files from disk: the header through a growing prefix, each tensor into its own buffer.
// Parsing itself is pure and lives in parse-header.ts; this module is the I/O edge.
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { readSync } from "node:fs";
import { constants as bufferConstants } from "node:buffer";
import { GgufError } from "./format.js";
import type { GgufHeader, TensorInfo } from "./format.js";
import { NeedMoreBytes } from "./cursor.js";
import { parseGgufHeader } from "./parse-header.js";

export { parseGgufHeader, alignUp, GGUF_MAX_DIMS, GGUF_MAX_ARRAY_DEPTH } from "./parse-header.js";
export { NeedMoreBytes } from "./cursor.js";

/** First read of a header; most headers fit, a big vocabulary takes a doubling or two. */
export const DEFAULT_INITIAL_READ = 1 << 20;
/** fs reads are capped at 2 GiB - 1 each, so a big tensor is read in pieces. */
const MAX_READ_CHUNK = 1 << 30;

export interface OpenGgufOptions {
  /** Bytes read for the first attempt at the header (default 1 MiB). */
  readonly initialRead?: number;
}

export class GgufFile {
  private readonly byName: ReadonlyMap<string, TensorInfo>;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly header: GgufHeader,
  ) {
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Opens `path` and parses its header; the file stays open for tensor reads until close(). */
  static async open(path: string, options: OpenGgufOptions = {}): Promise<GgufFile> {
    const handle = await open(path, "r");
    try {
      const header = await readHeader(handle, options.initialRead ?? DEFAULT_INITIAL_READ);
      return new GgufFile(path, handle, header);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  tensor(name: string): TensorInfo | undefined {
    return this.byName.get(name);
  }

  /**
   * Reads dst.length bytes of a tensor, from `offset` bytes into it, into dst: for loaders that stream
   * a tensor into memory of their own (the CPU kernels' heap) rather than holding all of it at once.
   */
  async readTensorInto(tensor: TensorInfo | string, offset: number, dst: Uint8Array): Promise<void> {
    const info = this.resolve(tensor);
    if (!(Number.isInteger(offset) && offset >= 0 && offset + dst.length <= info.byteSize)) {
      throw new RangeError(`bytes [${offset}, ${offset + dst.length}) are outside tensor ${info.name} (${info.byteSize} bytes)`);
    }
    const start = this.header.dataOffset + info.offset + offset;
    for (let done = 0; done < dst.length; ) {
      const len = Math.min(dst.length - done, MAX_READ_CHUNK);
      const { bytesRead } = await this.handle.read(dst, done, len, start + done);
      if (bytesRead === 0) throw this.shrunk(info);
      done += bytesRead;
    }
  }

  /** Reads exactly one tensor's bytes into a fresh buffer. */
  async readTensor(tensor: TensorInfo | string): Promise<Uint8Array> {
    const info = this.resolve(tensor);
    const out = new Uint8Array(info.byteSize);
    const start = this.header.dataOffset + info.offset;
    for (let done = 0; done < out.length; ) {
      const len = Math.min(out.length - done, MAX_READ_CHUNK);
      const { bytesRead } = await this.handle.read(out, done, len, start + done);
      if (bytesRead === 0) throw this.shrunk(info);
      done += bytesRead;
    }
    return out;
  }

  /** Synchronous readTensor, for callers that load weights outside an async context. */
  readTensorSync(tensor: TensorInfo | string): Uint8Array {
    const info = this.resolve(tensor);
    const out = new Uint8Array(info.byteSize);
    const start = this.header.dataOffset + info.offset;
    for (let done = 0; done < out.length; ) {
      const len = Math.min(out.length - done, MAX_READ_CHUNK);
      const bytesRead = readSync(this.handle.fd, out, done, len, start + done);
      if (bytesRead === 0) throw this.shrunk(info);
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  private resolve(tensor: TensorInfo | string): TensorInfo {
    if (this.closed) throw new GgufError(`${this.path} is closed`);
    const name = typeof tensor === "string" ? tensor : tensor.name;
    const info = this.byName.get(name);
    if (info === undefined) throw new GgufError(`${this.path} has no tensor named "${name}"`);
    // Only this file's own layout is trusted: a TensorInfo from elsewhere could point anywhere.
    if (typeof tensor !== "string" && (tensor.offset !== info.offset || tensor.byteSize !== info.byteSize)) {
      throw new GgufError(`tensor info for "${name}" does not match ${this.path}`);
    }
    if (info.byteSize > bufferConstants.MAX_LENGTH) {
      throw new GgufError(`tensor "${name}" (${info.byteSize} bytes) is larger than one buffer can hold`);
    }
    return info;
  }

  private shrunk(info: TensorInfo): GgufError {
    return new GgufError(`${this.path} ended while reading tensor "${info.name}": the file shrank after it was opened`);
  }
}

export function openGguf(path: string, options?: OpenGgufOptions): Promise<GgufFile> {
  return GgufFile.open(path, options);
}

/** Reads and parses only the header of the GGUF file at `path`. */
export async function readGgufHeader(path: string, options?: OpenGgufOptions): Promise<GgufHeader> {
  const file = await GgufFile.open(path, options);
  await file.close();
  return file.header;
}

async function readHeader(handle: FileHandle, initialRead: number): Promise<GgufHeader> {
  const { size: fileSize } = await handle.stat();
  let length = Math.min(Math.max(1, Math.floor(initialRead)), fileSize);
  for (;;) {
    const prefix = await readPrefix(handle, length);
    if (prefix.length < length) throw new GgufError(`file shrank while its header was read (${prefix.length} of ${length} bytes)`);
    try {
      return parseGgufHeader(prefix, fileSize);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      // needed ≤ fileSize by construction, so this always grows and stops at the file's end.
      length = Math.min(fileSize, Math.max(e.needed, length * 2));
    }
  }
}

async function readPrefix(handle: FileHandle, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, Math.min(length - done, MAX_READ_CHUNK), done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}
