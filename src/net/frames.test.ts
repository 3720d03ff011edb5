import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { mulberry32 } from "../random/mulberry32.js";
import { bytesF32, encodeFrame, f32Bytes, FrameDecoder, FrameError } from "./frames.js";

const Header = z.strictObject({ n: z.number().int() });
const LIMITS = { maxHeaderBytes: 1024, maxPayloadBytes: 1 << 20 };

test("frames survive any split and merge of the byte stream", () => {
  const rand = mulberry32(7);
  const frames = Array.from({ length: 50 }, (_, n) => ({ header: { n }, payload: f32Bytes(Float32Array.from({ length: Math.floor(rand() * 300) }, () => rand() - 0.5)) }));
  const stream = new Uint8Array(frames.reduce((s, f) => s + encodeFrame(f.header, f.payload).length, 0));
  let at = 0;
  for (const f of frames) {
    const bytes = encodeFrame(f.header, f.payload);
    stream.set(bytes, at);
    at += bytes.length;
  }
  for (let trial = 0; trial < 20; trial++) {
    const decoder = new FrameDecoder(Header, LIMITS);
    const got: { header: { n: number }; payload: Uint8Array }[] = [];
    for (let off = 0; off < stream.length; ) {
      // Chunks from 1 byte to a few frames long, in fresh buffers as a socket would deliver them.
      const len = 1 + Math.floor(rand() * (trial % 2 === 0 ? 16 : 4000));
      got.push(...decoder.push(stream.slice(off, off + len)));
      off += len;
    }
    assert.equal(got.length, frames.length);
    got.forEach((g, i) => {
      assert.deepEqual(g.header, frames[i].header);
      assert.deepEqual(bytesF32(g.payload), bytesF32(frames[i].payload));
    });
  }
});

test("chunks the caller reuses after push do not corrupt buffered frames", () => {
  const bytes = encodeFrame({ n: 1 }, new Uint8Array(100).fill(9));
  const decoder = new FrameDecoder(Header, LIMITS);
  const buf = new Uint8Array(60);
  buf.set(bytes.subarray(0, 60));
  assert.deepEqual(decoder.push(buf), []);
  buf.fill(0); // the transport reuses its read buffer
  const [frame] = decoder.push(bytes.slice(60));
  assert.deepEqual(frame.header, { n: 1 });
  assert.ok(frame.payload.every((b) => b === 9));
});

test("Node Buffers from a shared pool decode like plain arrays", () => {
  const bytes = encodeFrame({ n: 5 }, new Uint8Array(10).fill(3));
  const decoder = new FrameDecoder(Header, LIMITS);
  // Small Buffers are views into one 8 KiB pool at some offset: a decoder that reads .buffer from 0 breaks.
  const pooled = Buffer.from(bytes);
  assert.ok(pooled.byteOffset > 0 || pooled.buffer.byteLength > pooled.length, "the test needs a pooled Buffer");
  const [frame] = decoder.push(pooled);
  assert.deepEqual(frame.header, { n: 5 });
  assert.ok(frame.payload.every((b) => b === 3));
});

test("bad frames are FrameErrors: sizes over the limits before allocation, bad JSON, bad headers", () => {
  const prefix = (head: number, payload: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, head, true);
    new DataView(b.buffer).setUint32(4, payload, true);
    return b;
  };
  const cases: [string, Uint8Array][] = [
    ["empty header", prefix(0, 0)],
    ["header over the limit", prefix(4096, 0)],
    ["payload over the limit", prefix(10, 1 << 30)],
    ["not JSON", new Uint8Array([...prefix(3, 0), 0x7b, 0x7b, 0x7b])],
    ["not UTF-8", new Uint8Array([...prefix(2, 0), 0xff, 0xfe])],
    ["schema mismatch", encodeFrame({ n: "one" })],
    ["unknown field", encodeFrame({ n: 1, x: 2 })],
  ];
  for (const [why, bytes] of cases) assert.throws(() => new FrameDecoder(Header, LIMITS).push(bytes), FrameError, why);
  assert.throws(() => bytesF32(new Uint8Array(7)), FrameError);
});
