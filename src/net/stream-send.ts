// Sending bytes on a libp2p stream without hitting two faults of the packages we use (libp2p 3.3,
// @libp2p/pnet 3.0.27, @libp2p/utils 7.4.1), both measured by src/bench/transport.ts:
// - pnet encrypts each chunk it is handed in one call into the xsalsa20 package's shared wasm memory;
//   a chunk over ~640 KiB grows that memory, after which every other cipher in the process grows it
//   again on its next call until Memory.grow() throws and the process dies (fixed upstream in
//   js-libp2p PR #3585, not yet released). So large sends go out in 256 KiB pieces, each handed on
//   before the next, so the muxer never merges them into one big chunk.
// - stream.onDrain() keeps returning its first, already-resolved promise, so a sender that trusts it
//   queues without bound. We wait for the stream's own 'idle' / 'drain' events instead.
import type { Stream } from "@libp2p/interface";

export const PNET_SAFE_PIECE = 256 * 1024;

/** Resolves once the stream has handed its queued bytes on and can take more. */
export async function writable(stream: Stream): Promise<void> {
  while (stream.writableNeedsDrain || stream.writeBufferLength > 0) {
    if (stream.status !== "open") throw new Error(`stream is ${stream.status} while sending`);
    // 'idle': the write buffer emptied. 'drain': the muxer or the connection below can take more again.
    const event = stream.writeBufferLength > 0 ? "idle" : "drain";
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        stream.removeEventListener(event, done);
        stream.removeEventListener("close", closed);
        resolve();
      };
      const closed = (): void => {
        stream.removeEventListener(event, done);
        reject(new Error(`stream closed while waiting for '${event}'`));
      };
      stream.addEventListener(event, done);
      stream.addEventListener("close", closed);
    });
  }
}

/** Sends bytes in pnet-safe pieces, waiting for the stream whenever it asks us to. */
export async function sendBytes(stream: Stream, bytes: Uint8Array): Promise<void> {
  if (bytes.length <= PNET_SAFE_PIECE) {
    if (!stream.send(bytes)) await writable(stream);
    return;
  }
  for (let off = 0; off < bytes.length; off += PNET_SAFE_PIECE) {
    stream.send(bytes.subarray(off, off + PNET_SAFE_PIECE));
    await writable(stream);
  }
}
