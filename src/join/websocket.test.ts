import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { Duplex } from "node:stream";
import { test } from "node:test";
import { HttpError } from "../api/http.js";
import { MAX_RANGE_BYTES, parseRange } from "./model-range.js";
import { acceptWebSocket } from "./websocket.js";

/** A socket whose writes are collected and whose reads are what the test pushes. */
class FakeSocket extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.written.push(chunk);
    done();
  }
}

const request = (headers: Record<string, string>) => ({ headers } as unknown as IncomingMessage);
const HANDSHAKE = { upgrade: "websocket", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

function masked(opcode: number, body: Buffer, fin = true): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const data = Buffer.from(body.map((b, i) => b ^ mask[i & 3]));
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | body.length]), mask, data]);
}

test("the WebSocket handshake answers RFC 6455's accept value, and refuses non-WebSocket requests", () => {
  const s = new FakeSocket();
  assert.ok(acceptWebSocket(request(HANDSHAKE), s, Buffer.alloc(0), 1024));
  assert.match(s.written.join(""), /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
  const bad = new FakeSocket();
  assert.equal(acceptWebSocket(request({ ...HANDSHAKE, "sec-websocket-version": "8" }), bad, Buffer.alloc(0), 1024), undefined);
  assert.match(bad.written.join(""), /^HTTP\/1\.1 400/);
});

test("masked and fragmented messages arrive whole; unmasked or oversize frames close the connection", () => {
  const s = new FakeSocket();
  const ws = acceptWebSocket(request(HANDSHAKE), s, Buffer.alloc(0), 16)!;
  const got: string[] = [];
  ws.onMessage((m) => got.push(Buffer.from(m).toString()));
  s.push(Buffer.concat([masked(2, Buffer.from("hel"), false), masked(0, Buffer.from("lo"))]));
  s.push(masked(2, Buffer.from("again")).subarray(0, 3));
  s.push(masked(2, Buffer.from("again")).subarray(3));
  return new Promise<void>((resolve) => setImmediate(() => {
    assert.deepEqual(got, ["hello", "again"]);
    let why = "";
    ws.onClose((w) => (why = w));
    s.push(masked(2, Buffer.from("seventeen bytes!!")));
    setImmediate(() => {
      assert.match(why, /over 16 bytes/);
      assert.equal(ws.isOpen, false);
      const u = new FakeSocket();
      const ws2 = acceptWebSocket(request(HANDSHAKE), u, Buffer.alloc(0), 16)!;
      u.push(Buffer.from([0x82, 0x01, 0x41]));
      setImmediate(() => {
        assert.equal(ws2.isOpen, false, "an unmasked client frame ends the connection");
        resolve();
      });
    });
  }));
});

test("model ranges: one bounded bytes=a-b range inside the file", () => {
  assert.deepEqual(parseRange("bytes=0-3", 100), { start: 0, end: 3 });
  assert.deepEqual(parseRange("bytes=90-", 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=90-200", 100), { start: 90, end: 99 });
  const is416 = (e: unknown) => e instanceof HttpError && e.status === 416;
  for (const bad of [undefined, "bytes=100-", "bytes=5-4", "bytes=0-1,3-4", "items=0-1", "bytes=-5", "bytes=a-b"]) assert.throws(() => parseRange(bad, 100), is416, String(bad));
  assert.throws(() => parseRange(`bytes=0-${MAX_RANGE_BYTES}`, 2 ** 31), is416, "longer than one request may be");
  assert.deepEqual(parseRange(`bytes=0-${MAX_RANGE_BYTES - 1}`, 2 ** 31), { start: 0, end: MAX_RANGE_BYTES - 1 });
});
