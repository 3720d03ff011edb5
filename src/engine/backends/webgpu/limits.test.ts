// Buffer limits: matrices larger than one storage binding are split into row chunks (forced here with
// a small per-buffer limit) and give exactly the unsplit results; what cannot fit fails with byte counts.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomNormals, seededRandom } from "../../../gguf/quants/seeded-random.js";
import { GgmlType, bytesFor } from "../../../gguf/types.js";
import type { WebGpuBackend } from "./index.js";
import { WebGpuMemoryError, type GpuWeight } from "./weights.js";
import { UnsupportedWebGpuTypeError } from "./wgsl/formats.js";
import { openWebGpu, randomWeights } from "./test-support.js";

const ROWS = 37;
const COLS = 96;
const ROW_BYTES = bytesFor(GgmlType.Q8_0, COLS);

let whole: WebGpuBackend;
let split: WebGpuBackend;
before(async () => {
  whole = await openWebGpu();
  // Five rows per buffer (plus the spare word every buffer carries): 37 rows become 8 chunks.
  split = await openWebGpu({ maxWeightChunkBytes: 5 * ROW_BYTES + 8 });
});
after(async () => {
  await whole?.dispose();
  await split?.dispose();
});

test("a matrix over the binding limit is split into row chunks with identical matmul and embed results", async () => {
  const rand = seededRandom(3);
  const bytes = randomWeights(GgmlType.Q8_0, ROWS, COLS, rand);
  const info = { name: "big", type: GgmlType.Q8_0, dims: [COLS, ROWS] };
  const nTok = 3;
  const x = randomNormals(rand, nTok * COLS);
  const ids = [36, 0, 5, 4, 30];
  const run = async (b: WebGpuBackend) => {
    const w = b.uploadWeight(info, bytes);
    const xa = b.alloc(x.length);
    b.write(xa, x);
    const y = b.alloc(nTok * ROWS);
    b.matmul(w, xa, nTok, y);
    const e = b.alloc(ids.length * COLS);
    b.embed(w, ids, e);
    return { chunks: (w as GpuWeight).chunks.length, y: await b.read(y), e: await b.read(e) };
  };
  const a = await run(whole);
  const b = await run(split);
  assert.equal(a.chunks, 1);
  assert.equal(b.chunks, 8);
  assert.deepEqual([...b.y], [...a.y]);
  assert.deepEqual([...b.e], [...a.e]);
});

test("a row larger than one binding, a full memory budget and an unsupported type fail with clear errors", async () => {
  const wide = { name: "blk.0.ffn_up.weight", type: GgmlType.Q8_0, dims: [COLS * 8, 2] };
  assert.throws(() => split.uploadWeight(wide, new Uint8Array(2 * bytesFor(GgmlType.Q8_0, COLS * 8))), (e: unknown) =>
    e instanceof WebGpuMemoryError && /blk\.0\.ffn_up\.weight.*one row is 816 bytes.*binding of 518 bytes/.test(e.message));

  const budget = await openWebGpu({ memoryLimitBytes: 10_000 });
  try {
    budget.alloc(2000);
    assert.throws(() => budget.alloc(1000), (e: unknown) => e instanceof WebGpuMemoryError && /needs 4000 bytes, but 8000 of the 10000 bytes/.test(e.message));
  } finally {
    await budget.dispose();
  }

  assert.throws(() => whole.uploadWeight({ name: "q5k", type: GgmlType.Q5_K, dims: [256, 1] }, new Uint8Array(176)), UnsupportedWebGpuTypeError);
  const a = whole.alloc(4);
  assert.throws(() => whole.add(a, a, 4), /cannot alias/);
});
