// The holder's side of /tessera/model-range/1.0.0 (see range-protocol.ts). Each stream is served by one
// loop that answers its requests in order. A request that fails validation or asks for too much gets an
// error frame and the stream goes on; bytes that cannot be framed at all get an error frame and the
// stream is closed (there is no way to find the next frame). Nothing a peer sends can throw out of here.
import type { Libp2p } from "libp2p";
import type { Stream } from "@libp2p/interface";
import { open } from "node:fs/promises";
import { z } from "zod";
import { FRAME_PREFIX_BYTES, FrameDecoder, encodeFrame } from "../net/frames.js";
import { sendBytes } from "../net/stream-send.js";
import type { ModelLookup } from "./model-catalog.js";
import {
  DATA_CHUNK_BYTES,
  MAX_QUEUED_REQUESTS,
  MAX_REQUEST_BYTES,
  MODEL_RANGE_PROTOCOL,
  RangeRequestSchema,
  REQUEST_LIMITS,
  type RangeErrorCode,
  type RangeRequest,
  type RangeResponse,
} from "./range-protocol.js";

export interface RangeServerStats {
  streams: number;
  requests: number;
  /** Requests answered with an error frame. */
  errors: number;
  /** Tensor/header bytes sent in data frames. */
  bytesServed: number;
  manifestBytesServed: number;
}

export interface RangeServerOptions {
  /** A stream with no traffic for this long is closed (default 60 s). */
  readonly idleMs?: number;
  /** Streams served at once (default 32); more are refused by libp2p. */
  readonly maxStreams?: number;
}

type Work = { readonly request: RangeRequest } | { readonly refuse: RangeErrorCode; readonly id?: number; readonly message: string; readonly fatal: boolean };

class Refusal extends Error {
  constructor(readonly code: RangeErrorCode, message: string) {
    super(message);
  }
}

const encoder = new TextEncoder();

export class ModelRangeServer {
  readonly stats: RangeServerStats = { streams: 0, requests: 0, errors: 0, bytesServed: 0, manifestBytesServed: 0 };
  private readonly open = new Set<Stream>();
  private node: Libp2p | undefined;

  constructor(
    private readonly models: ModelLookup,
    private readonly options: RangeServerOptions = {},
  ) {}

  async start(node: Libp2p): Promise<void> {
    this.node = node;
    await node.handle(MODEL_RANGE_PROTOCOL, (stream) => this.serve(stream), { maxInboundStreams: this.options.maxStreams ?? 32 });
  }

  async stop(): Promise<void> {
    await this.node?.unhandle(MODEL_RANGE_PROTOCOL);
    this.node = undefined;
    for (const s of this.open) s.abort(new Error("the model range server is stopping"));
    this.open.clear();
  }

  private serve(stream: Stream): void {
    this.stats.streams++;
    this.open.add(stream);
    stream.inactivityTimeout = this.options.idleMs ?? 60_000;
    void this.loop(stream).finally(() => this.open.delete(stream));
  }

  private async loop(stream: Stream): Promise<void> {
    const decoder = new FrameDecoder(z.unknown(), REQUEST_LIMITS);
    const queue: Work[] = [];
    let broken = false; // unframeable input: read nothing more
    let remoteDone = false;
    let closed = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    stream.addEventListener("message", (evt) => {
      if (broken) return;
      const bytes = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray();
      try {
        for (const f of decoder.push(bytes)) queue.push(toWork(f.header));
        if (queue.length > MAX_QUEUED_REQUESTS) {
          broken = true;
          queue.push({ refuse: "busy", message: `more than ${MAX_QUEUED_REQUESTS} requests queued on one stream`, fatal: true });
        }
      } catch (e) {
        broken = true;
        queue.push({ refuse: "bad-request", message: e instanceof Error ? e.message : String(e), fatal: true });
      }
      notify();
    });
    stream.addEventListener("remoteCloseWrite", () => {
      remoteDone = true;
      notify();
    });
    stream.addEventListener("close", () => {
      closed = true;
      notify();
    });
    try {
      while (!closed) {
        const work = queue.shift();
        if (!work) {
          if (remoteDone || broken) break;
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        if ("request" in work) {
          await this.answer(stream, work.request);
        } else {
          this.stats.errors++;
          await sendBytes(stream, encodeFrame({ kind: "error", id: work.id, code: work.refuse, message: work.message.slice(0, 4000) } satisfies RangeResponse));
          if (work.fatal) break;
        }
      }
      if (!closed) await stream.close();
    } catch (e) {
      // The peer went away mid-answer, or the stream broke: nothing to tell anyone but the stream.
      if (stream.status === "open") stream.abort(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async answer(stream: Stream, request: RangeRequest): Promise<void> {
    this.stats.requests++;
    try {
      const held = this.models.find(request.model);
      if (!held) throw new Refusal("unknown-model", `this node holds no model ${request.model}`);
      if (request.kind === "manifest") {
        await sendBytes(stream, encodeFrame({ kind: "manifest", id: request.id } satisfies RangeResponse, held.record.bytes));
        this.stats.manifestBytesServed += held.record.bytes.length;
        return;
      }
      const size = held.record.manifest.fileSize;
      const total = request.ranges.reduce((sum, [, length]) => sum + length, 0);
      if (total > MAX_REQUEST_BYTES) throw new Refusal("too-large", `request for ${total} bytes is over the ${MAX_REQUEST_BYTES}-byte limit`);
      for (const [start, length] of request.ranges) {
        if (start + length > size) throw new Refusal("out-of-bounds", `range [${start}, ${start + length}) is outside the ${size}-byte file`);
      }
      await this.sendRanges(stream, held.path, size, request.id, request.ranges);
      await sendBytes(stream, encodeFrame({ kind: "end", id: request.id, bytes: total } satisfies RangeResponse));
    } catch (e) {
      if (!(e instanceof Refusal) && stream.status !== "open") throw e;
      this.stats.errors++;
      const code: RangeErrorCode = e instanceof Refusal ? e.code : "internal";
      const message = (e instanceof Error ? e.message : String(e)).slice(0, 4000);
      await sendBytes(stream, encodeFrame({ kind: "error", id: request.id, code, message } satisfies RangeResponse));
    }
  }

  /** Streams the ranges as data frames, reading the next chunk from disk while the last one is sent. */
  private async sendRanges(stream: Stream, path: string, size: number, id: number, ranges: readonly (readonly [number, number])[]): Promise<void> {
    const handle = await open(path, "r");
    try {
      if ((await handle.stat()).size !== size) throw new Refusal("internal", "the model file changed size since its manifest was made");
      const chunks: [number, number][] = [];
      for (const [start, length] of ranges) {
        for (let at = start; at < start + length; at += DATA_CHUNK_BYTES) chunks.push([at, Math.min(DATA_CHUNK_BYTES, start + length - at)]);
      }
      const read = async ([offset, length]: [number, number]): Promise<Uint8Array> => {
        const { frame, payload } = dataFrame(id, offset, length);
        for (let done = 0; done < length; ) {
          const { bytesRead } = await handle.read(payload, done, length - done, offset + done);
          if (bytesRead === 0) throw new Refusal("internal", "the model file ended early");
          done += bytesRead;
        }
        return frame;
      };
      let next = chunks.length > 0 ? read(chunks[0]) : undefined;
      for (let i = 0; next; i++) {
        const frame = await next;
        next = i + 1 < chunks.length ? read(chunks[i + 1]) : undefined;
        // A failed prefetch is reported when awaited; until then it must not count as unhandled.
        next?.catch(() => undefined);
        await sendBytes(stream, frame);
        this.stats.bytesServed += chunks[i][1];
      }
    } finally {
      await handle.close();
    }
  }
}

/** A data frame (frames.ts layout) whose payload the caller fills in place: one copy from disk to wire. */
function dataFrame(id: number, offset: number, length: number): { frame: Uint8Array; payload: Uint8Array } {
  const head = encoder.encode(JSON.stringify({ kind: "data", id, offset } satisfies RangeResponse));
  const frame = new Uint8Array(FRAME_PREFIX_BYTES + head.length + length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, head.length, true);
  view.setUint32(4, length, true);
  frame.set(head, FRAME_PREFIX_BYTES);
  return { frame, payload: frame.subarray(FRAME_PREFIX_BYTES + head.length) };
}

function toWork(header: unknown): Work {
  const parsed = RangeRequestSchema.safeParse(header);
  if (parsed.success) return { request: parsed.data };
  const id = typeof header === "object" && header !== null && "id" in header ? header.id : undefined;
  const why = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
  return { refuse: "bad-request", id: typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= 0xffffffff ? id : undefined, message: `invalid request: ${why}`, fatal: false };
}
