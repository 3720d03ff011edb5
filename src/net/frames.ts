// Length-prefixed frames over a byte stream: a JSON header (validated by the caller's zod schema) and
// an optional binary payload, so hidden states travel as raw f32 bytes rather than JSON numbers.
//   u32 header bytes | u32 payload bytes | header (UTF-8 JSON) | payload
// Streams split and merge writes arbitrarily, so the decoder buffers until a whole frame is in. Both
// lengths are checked against limits before anything is allocated: a hostile peer cannot make us
// buffer more than one maximal frame.
import type { ZodType } from "zod";
import { ByteQueue } from "./byte-queue.js";

export const FRAME_PREFIX_BYTES = 8;

export interface FrameLimits {
  readonly maxHeaderBytes: number;
  readonly maxPayloadBytes: number;
}

export interface Frame<H> {
  readonly header: H;
  readonly payload: Uint8Array;
}

export class FrameError extends Error {
  override readonly name = "FrameError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeFrame(header: unknown, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const head = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(FRAME_PREFIX_BYTES + head.length + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, head.length, true);
  view.setUint32(4, payload.length, true);
  out.set(head, FRAME_PREFIX_BYTES);
  out.set(payload, FRAME_PREFIX_BYTES + head.length);
  return out;
}

/** The bytes of an f32 array, little-endian as on every platform Tessera runs on. */
export function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** An f32 array from payload bytes (copied, so it is aligned and owns its memory). */
export function bytesF32(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new FrameError(`payload of ${bytes.length} bytes is not a whole number of f32 values`);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

/** Accumulates stream chunks and yields whole, validated frames. */
export class FrameDecoder<H> {
  private readonly queue = new ByteQueue();

  constructor(
    private readonly schema: ZodType<H>,
    private readonly limits: FrameLimits,
  ) {}

  /** Adds bytes; returns the frames now complete. Throws FrameError on a malformed frame. */
  push(chunk: Uint8Array): Frame<H>[] {
    this.queue.push(chunk);
    const frames: Frame<H>[] = [];
    for (;;) {
      if (this.queue.buffered < FRAME_PREFIX_BYTES) return frames;
      const head = this.queue.peek(FRAME_PREFIX_BYTES);
      const prefix = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const headLen = prefix.getUint32(0, true);
      const payloadLen = prefix.getUint32(4, true);
      if (headLen === 0 || headLen > this.limits.maxHeaderBytes) throw new FrameError(`frame header of ${headLen} bytes (limit ${this.limits.maxHeaderBytes})`);
      if (payloadLen > this.limits.maxPayloadBytes) throw new FrameError(`frame payload of ${payloadLen} bytes (limit ${this.limits.maxPayloadBytes})`);
      const total = FRAME_PREFIX_BYTES + headLen + payloadLen;
      if (this.queue.buffered < total) return frames;
      const bytes = this.queue.take(total);
      let json: unknown;
      try {
        json = JSON.parse(decoder.decode(bytes.subarray(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + headLen)));
      } catch {
        throw new FrameError("frame header is not UTF-8 JSON");
      }
      const parsed = this.schema.safeParse(json);
      if (!parsed.success) {
        const why = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
        throw new FrameError(`invalid frame header: ${why}`);
      }
      frames.push({ header: parsed.data, payload: bytes.subarray(FRAME_PREFIX_BYTES + headLen) });
    }
  }
}
