// One WebSocket message between a /join page and its node: a binary message holding a 4-byte
// little-endian header length, the header as JSON, then a payload of raw bytes (hidden states as f32).
// Shared by the page and the node; decoding checks sizes before it allocates or parses anything.

export class JoinFrameError extends Error {
  override readonly name = "JoinFrameError";
}

export interface RawJoinFrame {
  readonly header: unknown;
  readonly payload: Uint8Array;
}

export function encodeJoinFrame(header: unknown, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + payload.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(payload, 4 + json.length);
  return out;
}

export function decodeJoinFrame(bytes: Uint8Array, maxHeaderBytes: number): RawJoinFrame {
  if (bytes.length < 4) throw new JoinFrameError(`a frame of ${bytes.length} bytes has no header length`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (headerLength > maxHeaderBytes) throw new JoinFrameError(`a frame header of ${headerLength} bytes exceeds ${maxHeaderBytes}`);
  if (4 + headerLength > bytes.length) throw new JoinFrameError(`a frame header of ${headerLength} bytes runs past the ${bytes.length}-byte frame`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(4, 4 + headerLength)));
  } catch (e) {
    throw new JoinFrameError(`a frame header is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { header, payload: bytes.subarray(4 + headerLength) };
}

/** f32 values as little-endian bytes (copied, so the result owns an aligned buffer). */
export function f32ToBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

export function bytesToF32(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new JoinFrameError(`${bytes.length} payload bytes are not whole f32 values`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
