// A small WebSocket server endpoint (RFC 6455) for the /join page: the handshake on an HTTP upgrade,
// then binary messages both ways. Node 20 has a WebSocket client but no server, and the page needs
// only this much: no extensions, no subprotocols. Client frames must be masked; messages (after
// reassembling fragments) are capped, so a hostile page cannot make the node buffer without bound.
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export class WebSocketError extends Error {
  override readonly name = "WebSocketError";
}

/** Completes the handshake, or answers 400 and returns undefined when the request is not a WebSocket one. */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, maxMessageBytes: number): JoinWebSocket | undefined {
  const key = req.headers["sec-websocket-key"];
  const upgrade = req.headers.upgrade;
  if (typeof key !== "string" || !/^[A-Za-z0-9+/]{22}==$/.test(key) || upgrade?.toLowerCase() !== "websocket" || req.headers["sec-websocket-version"] !== "13") {
    socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    return undefined;
  }
  const accept = createHash("sha1").update(key + GUID).digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
  // A page's connection must not keep a stopping node's process alive.
  (socket as Duplex & { unref?: () => void }).unref?.();
  const ws = new JoinWebSocket(socket, maxMessageBytes);
  if (head.length > 0) ws.receive(head);
  return ws;
}

export class JoinWebSocket {
  private buffered: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private closed = false;
  private readonly messageListeners: ((data: Uint8Array) => void)[] = [];
  private readonly closeListeners: ((why: string) => void)[] = [];

  constructor(private readonly socket: Duplex, private readonly maxMessageBytes: number) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("close", () => this.finish("the connection closed"));
    socket.on("error", (e) => this.finish(e.message));
    socket.on("end", () => this.finish("the peer ended the connection"));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  onMessage(listener: (data: Uint8Array) => void): void {
    this.messageListeners.push(listener);
  }

  onClose(listener: (why: string) => void): void {
    this.closeListeners.push(listener);
  }

  send(data: Uint8Array): void {
    if (this.closed) return;
    this.socket.write(frameHeader(OP_BINARY, data.length));
    this.socket.write(data);
  }

  /** Sends a close frame and ends the connection. */
  close(code = 1000, reason = ""): void {
    if (this.closed) return;
    const text = Buffer.from(reason.slice(0, 120), "utf8");
    const body = Buffer.alloc(2 + text.length);
    body.writeUInt16BE(code, 0);
    text.copy(body, 2);
    this.socket.write(frameHeader(OP_CLOSE, body.length));
    this.socket.end(body);
    this.finish(reason || `closed (${code})`);
  }

  private finish(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.buffered = Buffer.alloc(0);
    this.fragments = [];
    this.socket.end();
    for (const l of this.closeListeners) l(why);
  }

  /** Parses every complete frame in what has arrived; a protocol violation closes the connection. */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    try {
      for (;;) {
        const frame = this.nextFrame();
        if (!frame) break;
        this.onFrame(frame.fin, frame.opcode, frame.payload);
        if (this.closed) return;
      }
    } catch (e) {
      this.close(e instanceof WebSocketError ? 1009 : 1002, e instanceof Error ? e.message : "bad frame");
    }
  }

  private nextFrame(): { fin: boolean; opcode: number; payload: Buffer } | undefined {
    const b = this.buffered;
    if (b.length < 2) return undefined;
    const fin = (b[0] & 0x80) !== 0;
    if ((b[0] & 0x70) !== 0) throw new Error("reserved bits set (no extensions were agreed)");
    const opcode = b[0] & 0x0f;
    if ((b[1] & 0x80) === 0) throw new Error("client frames must be masked");
    let length = b[1] & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = b.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(this.maxMessageBytes)) throw new WebSocketError(`a frame of ${big} bytes exceeds ${this.maxMessageBytes}`);
      length = Number(big);
      at = 10;
    }
    if (length + this.fragmentBytes > this.maxMessageBytes) throw new WebSocketError(`a message over ${this.maxMessageBytes} bytes`);
    if (b.length < at + 4 + length) return undefined;
    const mask = b.subarray(at, at + 4);
    const payload = Buffer.from(b.subarray(at + 4, at + 4 + length));
    for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    this.buffered = b.subarray(at + 4 + length);
    return { fin, opcode, payload };
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OP_PING:
        if (!fin || payload.length > 125) throw new Error("a control frame must be whole and short");
        this.socket.write(frameHeader(OP_PONG, payload.length));
        this.socket.write(payload);
        return;
      case OP_PONG:
        return;
      case OP_CLOSE:
        return this.close(1000, "");
      case OP_TEXT:
      case OP_BINARY:
        if (this.fragments.length > 0) throw new Error("a new message began before the last one ended");
        return this.collect(fin, payload);
      case OP_CONT:
        if (this.fragments.length === 0) throw new Error("a continuation frame with no message to continue");
        return this.collect(fin, payload);
      default:
        throw new Error(`unknown opcode ${opcode}`);
    }
  }

  private collect(fin: boolean, payload: Buffer): void {
    this.fragments.push(payload);
    this.fragmentBytes += payload.length;
    if (!fin) return;
    const message = this.fragments.length === 1 ? this.fragments[0] : Buffer.concat(this.fragments);
    this.fragments = [];
    this.fragmentBytes = 0;
    for (const l of this.messageListeners) l(new Uint8Array(message.buffer, message.byteOffset, message.length));
  }
}

function frameHeader(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, length]);
  if (length < 65536) {
    const h = Buffer.alloc(4);
    h[0] = 0x80 | opcode;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.alloc(10);
  h[0] = 0x80 | opcode;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}
