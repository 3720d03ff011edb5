// Which bytes of a GGUF file a shard needs: the header (everything before the data section) and the
// tensors that loadTransformer reads for layers [start, end). Pure: it works on a parsed header, so the
// same answer serves the fetcher, the holder's checks and the tests.
import { GgufError, metaNumber, metaString, type GgufHeader, type TensorInfo } from "../gguf/format.js";
import type { LayerRange } from "../engine/model.js";

export const TOKEN_EMBD = "token_embd.weight";
export const OUTPUT_NORM = "output_norm.weight";
export const OUTPUT = "output.weight";
export const ROPE_FREQS = "rope_freqs.weight";

/** A span of file bytes, in absolute file offsets. */
export interface ByteRange {
  readonly start: number;
  readonly length: number;
}

/** One needed tensor and where its bytes sit in the file. */
export interface TensorRange extends ByteRange {
  readonly name: string;
}

export interface ShardByteRanges {
  /** [0, dataOffset): magic, metadata, tensor infos and the padding up to the data section. */
  readonly header: ByteRange;
  /** Needed tensors, in file order. */
  readonly tensors: readonly TensorRange[];
  /** header.length plus every needed tensor's length. */
  readonly totalBytes: number;
}

/** The model's layer count, from `<arch>.block_count`. */
export function layerCount(header: GgufHeader): number {
  const arch = metaString(header.metadata, "general.architecture");
  const n = metaNumber(header.metadata, `${arch}.block_count`);
  if (!Number.isSafeInteger(n) || n < 1) throw new GgufError(`${arch}.block_count is ${n}, not a positive layer count`);
  return n;
}

/**
 * Names of the tensors a shard of layers [start, end) loads: every `blk.<l>.*` tensor of its layers
 * (so biases and q/k norms of any architecture come along), the embedding on the first stage, the final
 * norm and output head on the last (the embedding again when the head is tied to it), and rope_freqs on
 * every stage because each stage applies RoPE.
 */
export function shardTensorNames(header: GgufHeader, range: LayerRange): string[] {
  const layers = layerCount(header);
  if (!(Number.isInteger(range.start) && Number.isInteger(range.end) && range.start >= 0 && range.start < range.end && range.end <= layers)) {
    throw new RangeError(`layer range [${range.start}, ${range.end}) is outside the model's ${layers} layers`);
  }
  const names = new Set<string>(header.tensors.map((t) => t.name));
  const wanted = new Set<string>();
  for (const t of header.tensors) {
    const layer = blockIndex(t.name);
    if (layer !== undefined && layer >= range.start && layer < range.end) wanted.add(t.name);
  }
  const require = (name: string): void => {
    if (!names.has(name)) throw new GgufError(`model has no tensor ${name}`);
    wanted.add(name);
  };
  if (range.start === 0) require(TOKEN_EMBD);
  if (range.end === layers) {
    require(OUTPUT_NORM);
    require(names.has(OUTPUT) ? OUTPUT : TOKEN_EMBD);
  }
  if (names.has(ROPE_FREQS)) wanted.add(ROPE_FREQS);
  return header.tensors.filter((t) => wanted.has(t.name)).map((t) => t.name);
}

/** The byte ranges of the header and the named tensors (file order), for fetching or serving. */
export function tensorByteRanges(header: GgufHeader, tensorNames: readonly string[]): ShardByteRanges {
  const byName = new Map<string, TensorInfo>(header.tensors.map((t) => [t.name, t]));
  const tensors: TensorRange[] = [];
  for (const name of new Set(tensorNames)) {
    const info = byName.get(name);
    if (!info) throw new GgufError(`model has no tensor ${name}`);
    tensors.push({ name, start: header.dataOffset + info.offset, length: info.byteSize });
  }
  tensors.sort((a, b) => a.start - b.start);
  const headerRange = { start: 0, length: header.dataOffset };
  return { header: headerRange, tensors, totalBytes: tensors.reduce((s, t) => s + t.length, headerRange.length) };
}

/** Byte ranges a shard of layers [start, end) needs. */
export function shardByteRanges(header: GgufHeader, range: LayerRange): ShardByteRanges {
  return tensorByteRanges(header, shardTensorNames(header, range));
}

/** Adjacent ranges merged into one (fewer, larger reads); the input must be sorted by start. */
export function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of ranges) {
    const last = out.at(-1);
    if (last && last.start + last.length === r.start) out[out.length - 1] = { start: last.start, length: last.length + r.length };
    else out.push({ start: r.start, length: r.length });
  }
  return out;
}

function blockIndex(name: string): number | undefined {
  const m = /^blk\.(\d{1,6})\./.exec(name);
  return m ? Number(m[1]) : undefined;
}
