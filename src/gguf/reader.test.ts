import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GgufError, GgufValueType, metaNumber, metaOptStringArray, metaString } from "./format.js";
import { GgmlType } from "./types.js";
import { NeedMoreBytes, GgufFile, openGguf, parseGgufHeader, readGgufHeader } from "./reader.js";
import { encodeGguf, meta } from "./writer.js";
import type { ByteWriter } from "./byte-writer.js";
import { utf8Decoder } from "./cursor.js";
import { STORIES_PATH, assertGgufError, mulberry32, rawGguf, smallSpec, writeTensorInfo } from "./test-support.js";

const parse = (bytes: Uint8Array) => parseGgufHeader(bytes, bytes.length);

test("stories260K: header, hyperparameters and one tensor", async () => {
  const file = await openGguf(STORIES_PATH);
  try {
    const h = file.header;
    assert.equal(h.version, 3);
    assert.equal(h.alignment, 32);
    assert.equal(h.fileSize, 1185376);
    assert.equal(h.dataOffset % 32, 0);
    assert.equal(h.tensors.length, 48);
    assert.ok(h.tensors.every((t) => t.type === GgmlType.F32));
    assert.equal(metaString(h.metadata, "general.architecture"), "llama");
    assert.equal(metaNumber(h.metadata, "llama.embedding_length"), 64);
    assert.equal(metaNumber(h.metadata, "llama.block_count"), 5);
    assert.equal(metaNumber(h.metadata, "llama.attention.head_count"), 8);
    assert.equal(metaNumber(h.metadata, "llama.attention.head_count_kv"), 4);
    assert.equal(metaNumber(h.metadata, "llama.feed_forward_length"), 172);
    assert.equal(metaNumber(h.metadata, "tokenizer.ggml.seperator_token_id"), 0xffffffff);
    const tokens = metaOptStringArray(h.metadata, "tokenizer.ggml.tokens");
    assert.equal(tokens?.length, 512);
    assert.deepEqual(tokens.slice(0, 3), ["<unk>", "<s>", "</s>"]);
    assert.equal(h.metadata.get("tokenizer.ggml.scores")?.type, GgufValueType.ARRAY);

    const embd = file.tensor("token_embd.weight");
    assert.ok(embd);
    assert.deepEqual(embd.dims, [64, 512]);
    assert.equal(embd.byteSize, 64 * 512 * 4);
    const data = await file.readTensor("token_embd.weight");
    assert.equal(data.length, embd.byteSize);
    const floats = new Float32Array(data.buffer, data.byteOffset, data.length / 4);
    assert.ok(floats.every(Number.isFinite));
    assert.ok(floats.some((x) => x !== 0));
    // The bytes are the file's own, at dataOffset + offset.
    const whole = readFileSync(STORIES_PATH);
    const start = h.dataOffset + embd.offset;
    assert.deepEqual(data, new Uint8Array(whole.subarray(start, start + embd.byteSize)));
    const last = h.tensors[h.tensors.length - 1]!;
    assert.deepEqual(file.readTensorSync(last), await file.readTensor(last));
    // Pieces read into buffers of the caller's are the same bytes; a piece outside the tensor is refused.
    const piece = new Uint8Array(1000);
    await file.readTensorInto(embd, 4096, piece);
    assert.deepEqual(piece, data.subarray(4096, 5096));
    await assert.rejects(file.readTensorInto(embd, embd.byteSize - 10, piece), /outside tensor token_embd.weight/);
    await assert.rejects(file.readTensorInto(embd, -1, piece), RangeError);
    assert.equal(file.tensor("no.such.tensor"), undefined);
    await assert.rejects(file.readTensor("no.such.tensor"), (e: unknown) => e instanceof GgufError && /no tensor named/.test(e.message));
    assert.throws(() => file.readTensorSync({ ...last, offset: 0 }), /does not match/);
  } finally {
    await file.close();
  }
  await assert.rejects(file.readTensor("output.weight"), /is closed/);
});

test("a tiny first read grows until the header fits, and gives the same header", async () => {
  const big = await readGgufHeader(STORIES_PATH);
  for (const initialRead of [1, 100, 4096]) {
    const file = await GgufFile.open(STORIES_PATH, { initialRead });
    assert.deepEqual(file.header, big);
    await file.close();
  }
});

test("a prefix that stops inside the header signals NeedMoreBytes, not a GgufError", () => {
  const whole = new Uint8Array(readFileSync(STORIES_PATH));
  for (const len of [0, 3, 24, 100, 5000]) {
    assert.throws(
      () => parseGgufHeader(whole.subarray(0, len), whole.length),
      (e: unknown) => e instanceof NeedMoreBytes && !(e instanceof GgufError) && e.needed > len && e.needed <= whole.length,
    );
  }
});

test("openGguf rejects a non-GGUF file with a GgufError", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gguf-reader-"));
  try {
    const path = join(dir, "not.gguf");
    await writeFile(path, "this is plainly not a gguf file at all");
    await assert.rejects(openGguf(path), (e: unknown) => e instanceof GgufError && /bad magic/.test(e.message));
    await writeFile(path, encodeGguf(smallSpec(mulberry32(3))).subarray(0, 200));
    await assert.rejects(openGguf(path), (e: unknown) => e instanceof GgufError && /truncated or corrupt/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// Hand-made headers: one key/value unless stated, then one tensor info.
function oneKv(w: ByteWriter): void {
  w.string("general.architecture");
  w.u32(GgufValueType.STRING);
  w.string("llama");
}

test("bad headers: magic, version and truncation", () => {
  assertGgufError(() => parse(rawGguf({ magic: 0x58554747, tensorCount: 0, kvCount: 0 })), /bad magic 0x58554747/);
  assertGgufError(() => parse(rawGguf({ version: 1, tensorCount: 0, kvCount: 0 })), /version 1 is not supported/);
  assertGgufError(() => parse(rawGguf({ version: 0x03000000, tensorCount: 0, kvCount: 0 })), /big-endian/);
  assertGgufError(() => parse(rawGguf({ version: 4, tensorCount: 0, kvCount: 0 })), /unsupported GGUF version 4/);
  const good = rawGguf({ tensorCount: 1, kvCount: 1, body: (w) => (oneKv(w), writeTensorInfo(w, "t", [8], GgmlType.F32, 0)), tail: 64 });
  assert.equal(parse(good).tensors.length, 1);
  assertGgufError(() => parse(good.subarray(0, 2)), /truncated magic at byte offset 0/);
  assertGgufError(() => parse(good.subarray(0, 20)), /tensor count 1 at byte offset 8 does not fit in the 4 bytes left/);
  assertGgufError(() => parse(good.subarray(0, 6)), /truncated version at byte offset 4: needs 4 bytes, file ends at 6/);
  assertGgufError(() => parse(rawGguf({ tensorCount: 0, kvCount: 1, body: oneKv }).subarray(0, 40)), /length of metadata key #0 20 at byte offset 24 does not fit in the 8 bytes left/);
  assertGgufError(() => parse(good.subarray(0, 80)), /truncated n_dims of tensor "t" at byte offset 78/);
  const dataOffset = parse(good).dataOffset;
  assertGgufError(() => parse(good.subarray(0, dataOffset + 31)), /tensor "t" .*runs past the end of the file/);
});

test("bad headers: absurd counts and lengths fail before allocating", () => {
  assertGgufError(() => parse(rawGguf({ tensorCount: 2 ** 40, kvCount: 0, tail: 100 })), /tensor count 1099511627776 at byte offset 8 does not fit in the 108 bytes left in the file \(each item takes at least 32\)/);
  assertGgufError(() => parse(rawGguf({ tensorCount: 0, kvCount: 2n ** 63n })), /key\/value count 9223372036854775808 .*does not fit/);
  assertGgufError(
    () => parse(rawGguf({ tensorCount: 0, kvCount: 1, body: (w) => w.u64(2 ** 32), tail: 100 })),
    /length of metadata key #0 4294967296 at byte offset 24 does not fit/,
  );
  const hugeArray = (w: ByteWriter) => {
    w.string("k");
    w.u32(GgufValueType.ARRAY);
    w.u32(GgufValueType.UINT32);
    w.u64(2n ** 60n);
  };
  assertGgufError(() => parse(rawGguf({ tensorCount: 0, kvCount: 1, body: hugeArray, tail: 1000 })), /length of UINT32 array "k" 1152921504606846976 .*does not fit/);
  const deep = (w: ByteWriter) => {
    w.string("deep");
    w.u32(GgufValueType.ARRAY);
    for (let i = 0; i < 20; i++) {
      w.u32(GgufValueType.ARRAY);
      w.u64(1);
    }
  };
  assertGgufError(() => parse(rawGguf({ tensorCount: 0, kvCount: 1, body: deep, tail: 64 })), /nests arrays deeper than 8/);
});

test("bad headers: metadata values", () => {
  const kv = (type: number, value: (w: ByteWriter) => void) => (w: ByteWriter) => {
    w.string("general.alignment");
    w.u32(type);
    value(w);
  };
  const parseKv = (type: number, value: (w: ByteWriter) => void) => parse(rawGguf({ tensorCount: 0, kvCount: 1, body: kv(type, value), tail: 8 }));
  assertGgufError(() => parseKv(13, () => undefined), /unknown value type 13 for metadata "general.alignment" at byte offset 49/);
  assertGgufError(() => parseKv(GgufValueType.BOOL, (w) => w.u8(2)), /bool value 2 .* neither 0 nor 1/);
  assertGgufError(() => parseKv(GgufValueType.UINT32, (w) => w.u32(0)), /general.alignment 0 is not a power of two/);
  assertGgufError(() => parseKv(GgufValueType.UINT32, (w) => w.u32(48)), /general.alignment 48 is not a power of two/);
  assertGgufError(() => parseKv(GgufValueType.FLOAT32, (w) => w.f32(32)), /general.alignment must be an integer, got FLOAT32/);
  assert.equal(parseKv(GgufValueType.UINT32, (w) => w.u32(64)).alignment, 64);
  const dup = (w: ByteWriter) => (oneKv(w), oneKv(w));
  assertGgufError(() => parse(rawGguf({ tensorCount: 0, kvCount: 2, body: dup })), /duplicate metadata key "general.architecture"/);
  // Invalid UTF-8 is replaced (U+FFFD), not rejected: llama.cpp loads such files too.
  const badUtf8 = (w: ByteWriter) => {
    w.u64(2);
    w.u8(0xff);
    w.u8(0x41);
    w.u32(GgufValueType.BOOL);
    w.u8(1);
  };
  assert.deepEqual([...parse(rawGguf({ tensorCount: 0, kvCount: 1, body: badUtf8 })).metadata.keys()], ["\uFFFDA"]);
});

test("bad headers: tensor infos", () => {
  const withTensors = (...infos: [string, (number | bigint)[], number, number | bigint][]) =>
    parse(
      rawGguf({
        tensorCount: infos.length,
        kvCount: 1,
        body: (w) => {
          oneKv(w);
          for (const [name, dims, type, offset] of infos) writeTensorInfo(w, name, dims, type, offset);
        },
        tail: 256,
      }),
    );
  assert.equal(withTensors(["a", [4, 2], GgmlType.F32, 0], ["b", [32], GgmlType.Q8_0, 32]).tensors[1]?.byteSize, 34);
  assertGgufError(() => withTensors(["a", [1, 1, 1, 1, 1], GgmlType.F32, 0]), /tensor "a" has n_dims 5 at byte offset \d+/);
  assertGgufError(() => withTensors(["a", [], GgmlType.F32, 0]), /n_dims 0/);
  assertGgufError(() => withTensors(["a", [4, 0], GgmlType.F32, 0]), /dimension 1 = 0/);
  assertGgufError(() => withTensors(["a", [2n ** 62n], GgmlType.F32, 0]), /dimension 0 = 4611686018427387904/);
  assertGgufError(() => withTensors(["a", [2 ** 30, 2 ** 30, 2 ** 30], GgmlType.F32, 0]), /too many elements/);
  assertGgufError(() => withTensors(["a", [4], 99, 0]), /tensor "a" .*unknown or unsupported ggml type 99/);
  assertGgufError(() => withTensors(["a", [16], GgmlType.Q4_0, 0]), /row length 16 is not a multiple of Q4_0's block size 32/);
  assertGgufError(() => withTensors(["a", [4], GgmlType.F32, 2n ** 63n]), /offset 9223372036854775808 is out of range/);
  assertGgufError(() => withTensors(["a", [4], GgmlType.F32, 100000]), /offset 100000 is out of range/);
  assertGgufError(() => withTensors(["a", [4], GgmlType.F32, 16]), /offset 16 is not aligned to 32/);
  assertGgufError(() => withTensors(["a", [4096], GgmlType.F32, 0]), /runs past the end of the file/);
  assertGgufError(() => withTensors(["a", [4], GgmlType.F32, 0], ["a", [4], GgmlType.F32, 32]), /duplicate tensor name "a"/);
  assertGgufError(() => withTensors(["a", [16], GgmlType.F32, 0], ["b", [4], GgmlType.F32, 32]), /tensors "a" and "b" overlap/);
});

test("a file without tensors parses; a nonsense file size is refused", () => {
  const bytes = encodeGguf({ metadata: [["k", meta.u32(1)]], tensors: [] });
  assert.equal(parse(bytes).tensors.length, 0);
  assertGgufError(() => parseGgufHeader(bytes, -1), /invalid file size/);
});

test("both UTF-8 decoders agree, replace invalid bytes and keep a BOM", () => {
  const cases: [number[], string][] = [
    [[0x41, 0xe2, 0x96, 0x81, 0x62], "A\u2581b"],
    [[0xef, 0xbb, 0xbf, 0x78], "\uFEFFx"],
    [[0xf0, 0x9f, 0xa6, 0x99], "\u{1F999}"],
    [[0xff, 0x41], "\uFFFDA"],
    [[0xc3], "\uFFFD"],
    [[0xed, 0xa0, 0x80], "\uFFFD\uFFFD\uFFFD"],
  ];
  for (const [bytes, expected] of cases) {
    const padded = new Uint8Array([0x20, ...bytes, 0x20]).subarray(1); // a view that does not start at 0
    for (const useBuffer of [true, false]) assert.equal(utf8Decoder(padded, useBuffer)(0, bytes.length), expected);
  }
});
