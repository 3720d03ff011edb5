// A GGUF model read over HTTP Range requests from the node that served the page: the header through a
// growing prefix (as the file reader does on disk), then each tensor the stage needs by its offset. It
// offers the two methods loadTransformer uses, so the engine loads a layer range in the page exactly as
// it does from a file.
import { GgufError, type GgufHeader, type TensorInfo } from "../../gguf/format.js";
import { NeedMoreBytes } from "../../gguf/cursor.js";
import { parseGgufHeader } from "../../gguf/parse-header.js";

const FIRST_READ = 1 << 20;
/** One request at most this large: a big tensor comes in pieces, so no response body is huge. */
const MAX_REQUEST = 64 << 20;

export class RangeGguf {
  private readonly byName: ReadonlyMap<string, TensorInfo>;
  /** Bytes of tensor data fetched so far (the page shows it while loading). */
  bytesFetched = 0;

  private constructor(
    private readonly url: string,
    private readonly headers: Readonly<Record<string, string>>,
    readonly header: GgufHeader,
    readonly fileSize: number,
  ) {
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Reads and parses the header of the model at `url`; `headers` carry the join credentials. */
  static async open(url: string, headers: Readonly<Record<string, string>> = {}): Promise<RangeGguf> {
    const first = await fetchRange(url, headers, 0, FIRST_READ);
    const total = first.total;
    let bytes = first.bytes;
    for (;;) {
      try {
        return new RangeGguf(url, headers, parseGgufHeader(bytes, total), total);
      } catch (e) {
        if (!(e instanceof NeedMoreBytes) || bytes.length >= total) throw e;
        ({ bytes } = await fetchRange(url, headers, 0, Math.min(total, Math.max(e.needed, bytes.length * 2))));
      }
    }
  }

  tensor(name: string): TensorInfo | undefined {
    return this.byName.get(name);
  }

  /** One tensor's bytes, fetched by their offset in the file. */
  async readTensor(tensor: TensorInfo | string): Promise<Uint8Array> {
    const name = typeof tensor === "string" ? tensor : tensor.name;
    const info = this.byName.get(name);
    if (!info) throw new GgufError(`the model has no tensor named "${name}"`);
    const start = this.header.dataOffset + info.offset;
    if (start + info.byteSize > this.fileSize) throw new GgufError(`tensor "${name}" runs past the end of the ${this.fileSize}-byte file`);
    const out = new Uint8Array(info.byteSize);
    for (let done = 0; done < out.length; ) {
      const { bytes } = await fetchRange(this.url, this.headers, start + done, Math.min(MAX_REQUEST, out.length - done));
      out.set(bytes, done);
      done += bytes.length;
      this.bytesFetched += bytes.length;
    }
    return out;
  }
}

/** Bytes [start, start + length) (clipped at the file's end) and the file's total size. */
async function fetchRange(url: string, headers: Readonly<Record<string, string>>, start: number, length: number): Promise<{ bytes: Uint8Array; total: number }> {
  const res = await fetch(url, { headers: { ...headers, range: `bytes=${start}-${start + length - 1}` }, cache: "no-store" });
  if (res.status !== 206) {
    const text = await res.text().catch(() => "");
    throw new GgufError(`model range read answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
  if (!m || Number(m[1]) !== start) throw new GgufError(`model range read sent Content-Range "${res.headers.get("content-range")}" for bytes from ${start}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length !== Number(m[2]) - start + 1) throw new GgufError(`model range read sent ${bytes.length} bytes, not the ${Number(m[2]) - start + 1} announced`);
  return { bytes, total: Number(m[3]) };
}
