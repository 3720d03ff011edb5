// Bytes received from a stream, queued as they came and taken out a given count at a time. Shared by the
// frame decoder and the link probe, which both need "n bytes, whatever the chunking".
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private size = 0;

  /** Bytes queued. */
  get buffered(): number {
    return this.size;
  }

  /**
   * Queues a copy in a plain Uint8Array: a transport may reuse its read buffer once its event handler
   * returns, and a Node Buffer's slice() is a view into a shared pool, not a copy.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(new Uint8Array(chunk));
    this.size += chunk.length;
  }

  /** The first n bytes (n ≤ buffered), copied into one array, left in the queue. */
  peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first.length >= n) return first.slice(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.chunks) {
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
      if (at === n) break;
    }
    return out;
  }

  /** Removes and returns the first n bytes (n ≤ buffered). */
  take(n: number): Uint8Array {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** Removes the first n bytes (n ≤ buffered) without copying them. */
  skip(n: number): void {
    let left = n;
    while (left > 0) {
      const c = this.chunks[0];
      if (c.length <= left) {
        this.chunks.shift();
        left -= c.length;
      } else {
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.size -= n;
  }
}
