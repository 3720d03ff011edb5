// A libp2p stream carrying frames (see frames.ts): sends wait for the stream to drain when its buffer
// is full, received frames go to one handler in order, and a malformed frame or a closed connection
// ends the stream with a reason the owner can act on.
import type { Stream } from "@libp2p/interface";
import type { ZodType } from "zod";
import { sendBytes } from "./stream-send.js";
import { encodeFrame, FrameDecoder, FrameError, type Frame, type FrameLimits } from "./frames.js";

export type CloseReason = { readonly error?: Error };

export class FramedStream<In> {
  private readonly decoder: FrameDecoder<In>;
  private closed = false;
  private readonly closeHandlers = new Set<(reason: CloseReason) => void>();
  private frameHandler: ((frame: Frame<In>) => void) | undefined;
  private pending: Frame<In>[] = [];
  private sending: Promise<void> = Promise.resolve();

  constructor(
    readonly stream: Stream,
    schema: ZodType<In>,
    limits: FrameLimits,
    /** Peer id of the other end. */
    readonly remotePeer: string,
  ) {
    this.decoder = new FrameDecoder(schema, limits);
    // The pipeline's links live as long as their instance; libp2p's idle timeout must not close them.
    stream.inactivityTimeout = 0;
    stream.addEventListener("message", (evt) => {
      if (this.closed) return;
      const data = evt.data;
      const bytes = data instanceof Uint8Array ? data : data.subarray();
      let frames: Frame<In>[];
      try {
        frames = this.decoder.push(bytes);
      } catch (e) {
        this.abort(e instanceof Error ? e : new FrameError(String(e)));
        return;
      }
      for (const f of frames) this.deliver(f);
    });
    stream.addEventListener("close", (evt) => {
      const error = (evt as { error?: Error }).error;
      this.finish(error ? { error } : {});
    });
    stream.addEventListener("remoteCloseWrite", () => this.finish({ error: new Error("the other end closed the stream") }));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sets the receiver; frames that arrived before it was set are delivered now, in order. */
  onFrame(handler: (frame: Frame<In>) => void): void {
    this.frameHandler = handler;
    const queued = this.pending;
    this.pending = [];
    for (const f of queued) handler(f);
  }

  /** Holds arriving frames until the next onFrame (while the owner looks up who should get them). */
  holdFrames(): void {
    this.frameHandler = undefined;
  }

  onClose(handler: (reason: CloseReason) => void): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  async send(header: unknown, payload?: Uint8Array): Promise<void> {
    if (this.closed) throw new Error(`stream to ${this.remotePeer} is closed`);
    // Sends are serialised: a frame's pieces must not interleave with the next frame's.
    const frame = encodeFrame(header, payload);
    const turn = this.sending.then(() => sendBytes(this.stream, frame));
    this.sending = turn.catch(() => undefined);
    await turn;
  }

  /** Ends the stream from our side with an error the other end will see as a reset. */
  abort(error: Error): void {
    if (this.closed) return;
    // A broken or hostile peer is worth a line in the node's log: it explains the failure the other end sees.
    process.stderr.write(`tessera: resetting ${this.stream.protocol} stream with ${this.remotePeer}: ${error.message}\n`);
    this.stream.abort(error);
    this.finish({ error });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.finish({});
    await this.stream.close().catch(() => this.stream.abort(new Error("close failed")));
  }

  private deliver(frame: Frame<In>): void {
    if (!this.frameHandler) {
      this.pending.push(frame);
      return;
    }
    try {
      this.frameHandler(frame);
    } catch (e) {
      this.abort(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private finish(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closeHandlers) h(reason);
    this.closeHandlers.clear();
  }
}
