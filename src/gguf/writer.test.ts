import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GgufError, GgufValueType } from "./format.js";
import type { GgufArrayValue, GgufMetaValue } from "./format.js";
import { GgmlType } from "./types.js";
import { itemTypeOf } from "./meta.js";
import { openGguf, parseGgufHeader } from "./reader.js";
import { encodeGguf, meta, writeGguf } from "./writer.js";
import type { GgufWriteSpec } from "./writer.js";
import { STORIES_PATH, assertGgufError, everyTypeMetadata, mulberry32, smallSpec } from "./test-support.js";

const parse = (bytes: Uint8Array) => parseGgufHeader(bytes, bytes.length);

/** Compares nested arrays' recorded item types too, which deepEqual cannot see. */
function assertItemTypes(actual: GgufArrayValue, expected: GgufArrayValue): void {
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Array.isArray(e)) {
      assert.equal(itemTypeOf(a as GgufArrayValue), itemTypeOf(e as GgufArrayValue));
      assertItemTypes(a as GgufArrayValue, e as GgufArrayValue);
    }
  }
}

function assertRoundTrip(spec: GgufWriteSpec): void {
  const bytes = encodeGguf(spec);
  const h = parse(bytes);
  const alignment = spec.alignment ?? 32;
  assert.equal(h.version, spec.version ?? 3);
  assert.equal(h.alignment, alignment);
  assert.equal(bytes.length % alignment, 0);
  assert.equal(h.dataOffset % alignment, 0);
  const expected = new Map<string, GgufMetaValue>(spec.metadata);
  if (alignment !== 32) expected.set("general.alignment", meta.u32(alignment));
  assert.deepEqual(h.metadata, expected);
  for (const [key, v] of expected) {
    if (v.type === GgufValueType.ARRAY) assertItemTypes(h.metadata.get(key)!.value as GgufArrayValue, v.value);
  }
  assert.equal(h.tensors.length, spec.tensors.length);
  spec.tensors.forEach((t, i) => {
    const info = h.tensors[i]!;
    assert.equal(info.name, t.name);
    assert.deepEqual(info.dims, t.dims);
    assert.equal(info.type, t.type);
    assert.equal(info.offset % alignment, 0);
    const start = h.dataOffset + info.offset;
    assert.deepEqual(bytes.subarray(start, start + info.byteSize), t.data);
  });
}

test("round trip of every metadata type and several tensor types, v2 and v3, alignment 32 and 64", () => {
  for (const version of [2, 3] as const) {
    for (const alignment of [32, 64]) assertRoundTrip(smallSpec(mulberry32(version * 100 + alignment), alignment, version));
  }
  assertRoundTrip({ alignment: 1, metadata: [], tensors: smallSpec(mulberry32(9)).tensors });
  assertRoundTrip({ metadata: everyTypeMetadata(), tensors: [] });
});

test("every metadata value reads back exactly as built", () => {
  const h = parse(encodeGguf({ metadata: everyTypeMetadata(), tensors: [] }));
  const value = (k: string) => h.metadata.get(k)?.value;
  assert.equal(value("t.u64.max"), 2n ** 64n - 1n);
  assert.equal(value("t.u64.safe"), Number.MAX_SAFE_INTEGER);
  assert.equal(value("t.i64.min"), -(2n ** 63n));
  assert.equal(value("t.i64.small"), -5);
  assert.ok(Object.is(value("t.f32.neg0"), -0));
  assert.ok(Number.isNaN(value("t.f32.nan")));
  assert.equal(value("t.string"), "héllo wörld ✓ 🦙");
  assert.deepEqual(value("a.nested"), [[1, 2, 3], ["x", "y"], [[1.5]], []]);
  // A float32 value comes back rounded to float32.
  const f = parse(encodeGguf({ metadata: [["f", meta.f32(0.1)]], tensors: [] })).metadata.get("f");
  assert.equal(f?.value, Math.fround(0.1));
});

test("re-encoding stories260K reproduces the file byte for byte", async () => {
  const original = new Uint8Array(readFileSync(STORIES_PATH));
  const file = await openGguf(STORIES_PATH);
  try {
    const h = file.header;
    const tensors = await Promise.all(h.tensors.map(async (t) => ({ name: t.name, dims: t.dims, type: t.type, data: await file.readTensor(t) })));
    const bytes = encodeGguf({ version: 3, metadata: h.metadata, tensors });
    assert.equal(bytes.length, original.length);
    assert.ok(Buffer.from(bytes).equals(original));
  } finally {
    await file.close();
  }
});

test("writeGguf writes atomically and the file reads back; a failed write leaves nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gguf-writer-"));
  try {
    const path = join(dir, "model.gguf");
    await writeFile(path, "old contents");
    const spec = smallSpec(mulberry32(5), 64);
    await writeGguf(path, spec);
    assert.deepEqual(await readdir(dir), ["model.gguf"]);
    assert.ok(readFileSync(path).equals(encodeGguf(spec)));
    const file = await openGguf(path);
    try {
      for (const t of spec.tensors) assert.deepEqual(await file.readTensor(t.name), t.data);
    } finally {
      await file.close();
    }
    const bad = { ...spec, tensors: [{ ...spec.tensors[0]!, data: new Uint8Array(3) }] };
    await assert.rejects(writeGguf(join(dir, "bad.gguf"), bad), GgufError);
    await assert.rejects(writeGguf(join(dir, "missing-dir", "x.gguf"), spec), { code: "ENOENT" });
    assert.deepEqual(await readdir(dir), ["model.gguf"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("general.alignment is written only when it differs from 32, and must agree with the option", () => {
  const noTensors = (alignment: number | undefined, metadata: [string, GgufMetaValue][] = []) =>
    parse(encodeGguf({ alignment, metadata, tensors: [] })).metadata;
  assert.equal(noTensors(32).has("general.alignment"), false);
  assert.equal(noTensors(undefined).has("general.alignment"), false);
  assert.deepEqual(noTensors(128).get("general.alignment"), meta.u32(128));
  assert.equal(parse(encodeGguf({ metadata: [["general.alignment", meta.u32(16)]], tensors: [] })).alignment, 16);
  assertGgufError(() => noTensors(64, [["general.alignment", meta.u32(16)]]), /alignment 64 disagrees with metadata general.alignment 16/);
  assertGgufError(() => noTensors(undefined, [["general.alignment", meta.u64(16)]]), /general.alignment must be stored as UINT32/);
  assertGgufError(() => noTensors(48), /alignment 48 is not a power of two/);
  assertGgufError(() => noTensors(0), /alignment 0 is not a power of two/);
});

test("the writer refuses what the reader would refuse", () => {
  const data4 = new Uint8Array(16);
  const enc = (spec: Partial<GgufWriteSpec>) => encodeGguf({ metadata: [], tensors: [], ...spec });
  const t = { name: "t", dims: [4], type: GgmlType.F32, data: data4 };
  assertGgufError(() => enc({ tensors: [t, t] }), /duplicate tensor name "t"/);
  assertGgufError(() => enc({ tensors: [{ ...t, data: new Uint8Array(15) }] }), /tensor "t" has 15 bytes of data; 4 F32 needs 16/);
  assertGgufError(() => enc({ tensors: [{ ...t, dims: [] }] }), /has 0 dims/);
  assertGgufError(() => enc({ tensors: [{ ...t, dims: [1, 1, 1, 1, 4] }] }), /has 5 dims/);
  assertGgufError(() => enc({ tensors: [{ ...t, dims: [4, 0] }] }), /dimension 0 \(must be a positive integer\)/);
  assertGgufError(() => enc({ tensors: [{ ...t, type: 99 as GgmlType }] }), /unknown ggml type 99/);
  assertGgufError(() => enc({ tensors: [{ ...t, dims: [16], type: GgmlType.Q4_0 }] }), /row length 16 is not a multiple of Q4_0's block size 32/);
  assertGgufError(() => enc({ metadata: [["k", meta.u32(1)], ["k", meta.u32(2)]] }), /duplicate metadata key "k"/);
  assertGgufError(() => enc({ metadata: [["k", { type: GgufValueType.UINT8, value: 256 }]] }), /256 is out of range for UINT8/);
  assertGgufError(() => enc({ metadata: [["k", { type: GgufValueType.STRING, value: 1 }]] }), /expected a string/);
  assertGgufError(() => enc({ metadata: [["k", meta.array(GgufValueType.INT8, [1, 200])]] }), /200 is out of range for INT8/);
  assertGgufError(() => meta.u64(-1), /-1 is out of range for UINT64/);
  assertGgufError(() => meta.i32(1.5), /1.5 is not a safe integer/);
  assertGgufError(() => enc({ version: 1 as 3 }), /cannot write GGUF version 1/);
});
