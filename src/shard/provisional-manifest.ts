// A provisional manifest, for a model no peer holds: built from the GGUF header read off a source (the
// Hub, by HTTP Range) and the whole file's sha256 and size (from the Hub's LFS metadata). It knows where
// every tensor lies but none of their hashes, so a shard fetched with it is taken on the transport's
// word (HTTPS to the Hub), and the file is checked whole once every tensor is in. It is never served or
// accepted from a peer (isFullyHashed is false), only built here.
import { GgufError } from "../gguf/format.js";
import { NeedMoreBytes, parseGgufHeader } from "../gguf/reader.js";
import type { RangeSource } from "./range-source.js";
import { MANIFEST_FORMAT, manifestRecord, sha256Hex, type ManifestRecord } from "./tensor-manifest.js";
import { tensorByteRanges } from "./tensor-ranges.js";

/** The file a provisional manifest describes, as its publisher states it. */
export interface KnownFile {
  readonly sha256: string;
  readonly size: number;
}

const FIRST_READ = 1024 * 1024;
/** A header bigger than this (a vocabulary of millions) is refused rather than read. */
const MAX_HEADER_BYTES = 256 * 1024 * 1024;

export async function readProvisionalManifest(source: RangeSource, file: KnownFile, signal?: AbortSignal): Promise<ManifestRecord> {
  if (!/^[0-9a-f]{64}$/.test(file.sha256) || !Number.isSafeInteger(file.size) || file.size <= 0) {
    throw new GgufError(`a file needs a sha256 and a positive size to be fetched without a manifest`);
  }
  let length = Math.min(file.size, FIRST_READ);
  for (;;) {
    const prefix = new Uint8Array(length);
    await source.read([{ start: 0, length }], (offset, bytes) => void prefix.set(bytes, offset), signal);
    try {
      const header = parseGgufHeader(prefix, file.size);
      if (header.dataOffset > length) {
        // The padding before the data section runs past what was read; it belongs to the header's hash.
        length = header.dataOffset;
        continue;
      }
      const layout = tensorByteRanges(header, header.tensors.map((t) => t.name));
      return manifestRecord({
        format: MANIFEST_FORMAT,
        fileSize: file.size,
        fileSha256: file.sha256,
        header: { start: 0, length: header.dataOffset, sha256: sha256Hex(prefix.subarray(0, header.dataOffset)) },
        tensors: layout.tensors.map((t) => ({ name: t.name, start: t.start, length: t.length, sha256: null })),
      });
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      const next = Math.min(file.size, Math.max(e.needed, length * 2));
      if (next > MAX_HEADER_BYTES) throw new GgufError(`the GGUF header needs more than ${MAX_HEADER_BYTES} bytes`);
      length = next;
    }
  }
}
