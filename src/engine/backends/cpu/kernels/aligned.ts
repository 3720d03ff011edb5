// Typed-array views need element-aligned offsets; GGUF data is 32-byte aligned, but a Uint8Array
// handed to us may not be. Misaligned input is copied once per call rather than read by DataView.

export function alignedBytes(w: Uint8Array, align: number): Uint8Array {
  return w.byteOffset % align === 0 ? w : w.slice();
}
