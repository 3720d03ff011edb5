// Sequential memory-read bandwidth: a tiny hand-assembled WebAssembly loop that sums a region with
// four independent v128 accumulators, so the loads, not an add chain, set the pace. It runs on the CPU
// kernels' own linear memory, i.e. the memory the weights live in.

/** sum(ptr, end): i32 — adds the region [ptr, end) as i32x4 lanes, 64 bytes per iteration (end - ptr > 0, multiple of 64). */
function sumModuleBytes(): Uint8Array {
  const acc = (local: number, offset: number) => [0x20, local, 0x20, 0x00, 0xfd, 0x00, 0x04, offset, 0xfd, 0xae, 0x01, 0x21, local];
  const body = [
    0x01, 0x04, 0x7b, // locals: 4 × v128 (indices 2..5)
    0x03, 0x40, // loop
    ...acc(2, 0x00), ...acc(3, 0x10), ...acc(4, 0x20), ...acc(5, 0x30), // a += load(p), b += load(p+16), ...
    0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x22, 0x00, // p = p + 64 (tee)
    0x20, 0x01, 0x49, 0x0d, 0x00, // br_if (p < end)
    0x0b, // end loop
    0x20, 0x02, 0x20, 0x03, 0xfd, 0xae, 0x01, 0x20, 0x04, 0xfd, 0xae, 0x01, 0x20, 0x05, 0xfd, 0xae, 0x01,
    0xfd, 0x1b, 0x00, // i32x4.extract_lane 0: keeps the sum observable
    0x0b,
  ];
  const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
  const name = (s: string) => [s.length, ...[...s].map((c) => c.charCodeAt(0))];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f]), // type: (i32, i32) -> i32
    ...section(2, [0x01, ...name("env"), ...name("memory"), 0x02, 0x00, 0x01]), // import memory, min 1 page
    ...section(3, [0x01, 0x00]),
    ...section(7, [0x01, ...name("sum"), 0x00, 0x00]),
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export type SumFn = (ptr: number, end: number) => number;

/** The wasm summing loop bound to `memory`, or a plain JS loop where the engine lacks wasm SIMD. */
export function loadSum(memory: WebAssembly.Memory): SumFn {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(sumModuleBytes()), { env: { memory } });
    return instance.exports.sum as SumFn;
  } catch {
    // Compiling fails only without SIMD support; the JS loop below measures less precisely but still works.
  }
  return (ptr, end) => {
    const v = new Int32Array(memory.buffer, ptr, (end - ptr) >> 2);
    let a = 0, b = 0, c = 0, d = 0;
    for (let i = 0; i < v.length; i += 4) {
      a = (a + v[i]) | 0;
      b = (b + v[i + 1]) | 0;
      c = (c + v[i + 2]) | 0;
      d = (d + v[i + 3]) | 0;
    }
    return (a + b + c + d) | 0;
  };
}
