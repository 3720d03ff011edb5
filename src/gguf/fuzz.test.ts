// Hostile-input tests: every truncation of the reference model's header, a stride of truncations
// through its data, and thousands of seeded mutations of it and of a small generated file. The only
// permitted outcomes are a valid header or a GgufError (never another error type, a hang, or a huge
// allocation); a successful parse must still describe tensors that lie inside the file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GgufError } from "./format.js";
import type { GgufHeader } from "./format.js";
import { NeedMoreBytes, openGguf, parseGgufHeader } from "./reader.js";
import { encodeGguf } from "./writer.js";
import { STORIES_PATH, mulberry32, smallSpec } from "./test-support.js";

const stories = new Uint8Array(readFileSync(STORIES_PATH));
const storiesHeader = parseGgufHeader(stories, stories.length);
/** Growth allowed in rss / arrayBuffers across a run: the file itself plus a fixed bound. */
const MEMORY_BOUND = stories.length + 64 * 1024 * 1024;

/** Tracks the peak growth of rss and arrayBuffers over a baseline taken at construction. */
class MemoryWatch {
  private readonly base = process.memoryUsage();
  peakRss = 0;
  peakArrayBuffers = 0;
  sample(): void {
    const m = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, m.rss - this.base.rss);
    this.peakArrayBuffers = Math.max(this.peakArrayBuffers, m.arrayBuffers - this.base.arrayBuffers);
  }
  assertBounded(): void {
    this.sample();
    assert.ok(this.peakRss < MEMORY_BOUND, `rss grew by ${this.peakRss} bytes`);
    assert.ok(this.peakArrayBuffers < MEMORY_BOUND, `arrayBuffers grew by ${this.peakArrayBuffers} bytes`);
  }
}

/** A header that parsed must still be self-consistent: tensors aligned, unique and inside the file. */
function assertSane(h: GgufHeader, fileSize: number): void {
  assert.ok(h.dataOffset % h.alignment === 0);
  const names = new Set<string>();
  for (const t of h.tensors) {
    assert.ok(!names.has(t.name));
    names.add(t.name);
    assert.ok(t.offset % h.alignment === 0);
    assert.ok(t.byteSize > 0 && h.dataOffset + t.offset + t.byteSize <= fileSize);
  }
}

/** Parses, returning "ok" or the GgufError's message; anything else fails the test. */
function outcome(bytes: Uint8Array, fileSize: number): "ok" | string {
  try {
    assertSane(parseGgufHeader(bytes, fileSize), fileSize);
    return "ok";
  } catch (e) {
    if (!(e instanceof GgufError)) throw e;
    assert.doesNotMatch(e.message, /internal error/);
    return e.message;
  }
}

test("every truncation of stories260K's header is a GgufError, or NeedMoreBytes when the file goes on", () => {
  const memory = new MemoryWatch();
  let firstComplete = -1;
  for (let len = 0; len <= storiesHeader.dataOffset + 64; len++) {
    const prefix = stories.subarray(0, len);
    // As a whole (truncated) file: always a GgufError, since the tensors no longer fit.
    assert.notEqual(outcome(prefix, len), "ok", `prefix of ${len} bytes parsed`);
    // As a prefix of the real file: more bytes are needed until the tensor infos are complete.
    try {
      const h = parseGgufHeader(prefix, stories.length);
      if (firstComplete < 0) {
        firstComplete = len;
        assert.deepEqual(h, storiesHeader);
      }
    } catch (e) {
      assert.ok(e instanceof NeedMoreBytes, `prefix of ${len} bytes: ${String(e)}`);
      assert.equal(firstComplete, -1, `prefix of ${len} bytes needs more after a shorter one sufficed`);
      assert.ok(e.needed > len && e.needed <= storiesHeader.dataOffset, `prefix of ${len} bytes: needed ${e.needed}`);
    }
    if (len % 1000 === 0) memory.sample();
  }
  assert.ok(firstComplete > storiesHeader.dataOffset - storiesHeader.alignment && firstComplete <= storiesHeader.dataOffset);
  memory.assertBounded();
});

test("truncations inside the data section fail the tensor bounds check", () => {
  // The header parse is the same for every length past dataOffset; only the final bounds check sees
  // the length. So the data section is sampled every 61 bytes, plus every length within 3 bytes of
  // each tensor's start and end, where an off-by-one would show.
  const lengths = new Set<number>();
  for (let len = storiesHeader.dataOffset; len < stories.length; len += 61) lengths.add(len);
  for (const t of storiesHeader.tensors) {
    for (const edge of [t.offset, t.offset + t.byteSize]) {
      for (let d = -3; d <= 3; d++) lengths.add(storiesHeader.dataOffset + edge + d);
    }
  }
  for (const len of lengths) {
    if (len < storiesHeader.dataOffset || len >= stories.length) continue;
    assert.match(outcome(stories.subarray(0, len), len), /runs past the end of the file|out of range/);
  }
  assert.equal(outcome(stories, stories.length), "ok");
});

/** Values that stress length and count fields when written over them. */
const INTERESTING_U64 = [0n, 1n, 0x7fn, 0xffn, 0x7fffffffn, 0xffffffffn, 2n ** 32n, 2n ** 40n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

/**
 * Applies 1 to 8 seeded mutations in place (85% of them inside [0, hot)), returning an undo function.
 * Mutating in place keeps a 1 MB file from being copied thousands of times.
 */
function mutate(bytes: Uint8Array, hot: number, rand: () => number): () => void {
  const saved: [number, number][] = [];
  const set = (at: number, v: number) => {
    saved.push([at, bytes[at]!]);
    bytes[at] = v;
  };
  const count = 1 + Math.floor(rand() * 8);
  for (let m = 0; m < count; m++) {
    const at = Math.floor(rand() * (rand() < 0.85 ? hot : bytes.length));
    const kind = rand();
    if (kind < 0.45) {
      set(at, Math.floor(rand() * 256));
    } else if (kind < 0.7) {
      set(at, bytes[at]! ^ (1 << Math.floor(rand() * 8)));
    } else {
      // Written as 4 or 8 bytes: a u32 field (type, n_dims) or a u64 field (count, length, dim, offset).
      let v = INTERESTING_U64[Math.floor(rand() * INTERESTING_U64.length)]!;
      const width = rand() < 0.5 ? 4 : 8;
      for (let i = 0; i < width && at + i < bytes.length; i++, v >>= 8n) set(at + i, Number(v & 0xffn));
    }
  }
  return () => {
    for (let i = saved.length - 1; i >= 0; i--) bytes[saved[i]![0]] = saved[i]![1];
  };
}

function fuzz(bytes: Uint8Array, hot: number, seed: number, rounds: number): { ok: number; failed: number } {
  const rand = mulberry32(seed);
  const memory = new MemoryWatch();
  let ok = 0;
  for (let round = 0; round < rounds; round++) {
    const undo = mutate(bytes, hot, rand);
    try {
      if (outcome(bytes, bytes.length) === "ok") ok++;
    } finally {
      undo();
    }
    if (round % 100 === 0) memory.sample();
  }
  memory.assertBounded();
  return { ok, failed: rounds - ok };
}

test("seeded mutations of stories260K give a valid header or a GgufError", () => {
  const bytes = new Uint8Array(stories); // a private copy to mutate
  const { ok, failed } = fuzz(bytes, storiesHeader.dataOffset, 0x5eed, 3000);
  // Both outcomes occur: mutations of token text and tensor data parse, broken structure does not.
  assert.ok(ok > 100 && failed > 100, `ok ${ok}, failed ${failed}`);
  assert.deepEqual(bytes, stories);
});

test("seeded mutations of a small generated file give a valid header or a GgufError", () => {
  const bytes = encodeGguf(smallSpec(mulberry32(1), 64, 2));
  const header = parseGgufHeader(bytes, bytes.length);
  const { ok, failed } = fuzz(bytes, header.dataOffset, 0xf00d, 3000);
  assert.ok(ok > 50 && failed > 50, `ok ${ok}, failed ${failed}`);
});

test("mutated files opened from disk with a tiny first read: a GgufFile or a GgufError", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gguf-fuzz-"));
  const rand = mulberry32(0xd15c);
  const bytes = new Uint8Array(stories);
  const path = join(dir, "m.gguf");
  let ok = 0;
  try {
    for (let round = 0; round < 24; round++) {
      const undo = mutate(bytes, storiesHeader.dataOffset, rand);
      await writeFile(path, bytes);
      undo();
      try {
        const file = await openGguf(path, { initialRead: 64 });
        assertSane(file.header, bytes.length);
        const last = file.header.tensors[file.header.tensors.length - 1];
        if (last) assert.equal((await file.readTensor(last)).length, last.byteSize);
        await file.close();
        ok++;
      } catch (e) {
        assert.ok(e instanceof GgufError, String(e));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.ok(ok > 0);
});
