// WGSL helpers that read GGUF block bytes from a weight buffer bound as `w: array<u32>`. GGUF blocks
// are not 4-byte aligned (Q8_0 is 34 bytes, Q6_K 210), but every field the kernels read starts on an
// even byte, so 16- and 32-bit loads at even offsets are enough.
const READERS = /* wgsl */ `
fn ld8(o: u32) -> u32 { return (w[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
// o even
fn ld16(o: u32) -> u32 { return (w[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu; }
// o even. Branch-free, since neighbouring threads' blocks alternate between aligned and not; weight
// buffers carry one spare word, so the second read stays in bounds.
fn ld32(o: u32) -> u32 {
  let i = o >> 2u;
  let lo = w[i];
  return select((lo >> 16u) | (w[i + 1u] << 16u), lo, (o & 2u) == 0u);
}
fn f16at(o: u32) -> f32 { return unpack2x16float(ld16(o)).x; }
// o a multiple of 4 (fields of 4-byte-aligned blocks): one load.
fn ld32a(o: u32) -> u32 { return w[o >> 2u]; }
// Q4_K's 12 scale bytes at o: six-bit scale and min of sub-block j (ggml's get_scale_min_k4).
fn kScale(o: u32, j: u32) -> f32 {
  if (j < 4u) { return f32(ld8(o + j) & 63u); }
  return f32((ld8(o + j + 4u) & 0xfu) | ((ld8(o + j - 4u) >> 6u) << 4u));
}
fn kMin(o: u32, j: u32) -> f32 {
  if (j < 4u) { return f32(ld8(o + j + 4u) & 63u); }
  return f32((ld8(o + j + 4u) >> 4u) | ((ld8(o + j) >> 6u) << 4u));
}
`;

const CONVERSIONS = /* wgsl */ `
fn i8of(b: u32) -> f32 { return f32(bitcast<i32>(b << 24u) >> 24u); }
fn i8x4(q: u32) -> vec4<f32> {
  return vec4<f32>(vec4<i32>(bitcast<i32>(q << 24u), bitcast<i32>(q << 16u), bitcast<i32>(q << 8u), bitcast<i32>(q)) >> vec4<u32>(24u));
}
fn u8x4(q: u32) -> vec4<f32> {
  return vec4<f32>(vec4<u32>(q & 0xffu, (q >> 8u) & 0xffu, (q >> 16u) & 0xffu, q >> 24u));
}
`;

/** The readers and conversions, for a kernel with one weight buffer named `w`. */
export const BYTE_HELPERS = READERS + CONVERSIONS;

const READER_CALL = /\b(ld8|ld16|ld32a|ld32|f16at|kScale|kMin)\(/g;

/**
 * The readers of a second or third weight buffer in the same kernel: each reads `buffer` instead of
 * `w`, under its name with `suffix` added. renameReaders turns a format's code to use them.
 */
export function readersOf(buffer: string, suffix: string): string {
  return renameReaders(READERS.replace(/\bw\[/g, `${buffer}[`), suffix);
}

export function renameReaders(code: string, suffix: string): string {
  return code.replace(READER_CALL, `$1${suffix}(`);
}
