// A pipeline link between two runners on the same node. A node that relays a browser device runs the
// device's stage next to its own, and when the two are neighbours in a pipeline the link between them
// cannot be a libp2p stream (a node cannot dial itself). This pair of in-memory streams offers what
// FramedStream uses of a libp2p Stream, so both runners keep the one code path for their links.
import type { Stream } from "@libp2p/interface";
import { FramedStream } from "../net/index.js";
import { PIPELINE_LIMITS, PIPELINE_PROTOCOL, PipelineFrameSchema, type PipelineFrame } from "../shard/protocol.js";

class MessageEvent extends Event {
  constructor(readonly data: Uint8Array) {
    super("message");
  }
}

class CloseEvent extends Event {
  constructor(readonly error?: Error) {
    super("close");
  }
}

/** One end: what is sent here is delivered at the other end, in order, on a later microtask. */
class LoopbackStream extends EventTarget {
  readonly protocol = PIPELINE_PROTOCOL;
  inactivityTimeout = 0;
  status: "open" | "closed" = "open";
  readonly writableNeedsDrain = false;
  readonly writeBufferLength = 0;
  other: LoopbackStream | undefined;

  send(bytes: Uint8Array): boolean {
    if (this.status !== "open") throw new Error("loopback stream is closed");
    const copy = bytes.slice();
    const to = this.other!;
    queueMicrotask(() => {
      if (to.status === "open") to.dispatchEvent(new MessageEvent(copy));
    });
    return true;
  }

  async close(): Promise<void> {
    this.end();
    const to = this.other!;
    queueMicrotask(() => {
      if (to.status === "open") to.dispatchEvent(new Event("remoteCloseWrite"));
      to.end();
    });
  }

  abort(error: Error): void {
    this.end(error);
    const to = this.other!;
    queueMicrotask(() => to.end(error));
  }

  private end(error?: Error): void {
    if (this.status === "closed") return;
    this.status = "closed";
    this.dispatchEvent(new CloseEvent(error));
  }
}

/** Two framed ends of one in-process link: `from` sends on the first, `to` receives on the second. */
export function loopbackLinks(from: string, to: string): [FramedStream<PipelineFrame>, FramedStream<PipelineFrame>] {
  const a = new LoopbackStream();
  const b = new LoopbackStream();
  a.other = b;
  b.other = a;
  // Only the members FramedStream and sendBytes use are implemented (see above).
  const asStream = (s: LoopbackStream) => s as unknown as Stream;
  return [
    new FramedStream(asStream(a), PipelineFrameSchema, PIPELINE_LIMITS, to),
    new FramedStream(asStream(b), PipelineFrameSchema, PIPELINE_LIMITS, from),
  ];
}
