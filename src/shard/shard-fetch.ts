// Fetching a shard: the header and the tensors of layers [start, end) of a model this node lacks, from
// peers that hold it (in the order given) and then any fallback source (an HTTP mirror), into a partial
// model file that loadShard opens as it is. Every span is checked against the tensor manifest before it
// is marked present; a source that fails or sends a bad span is dropped and the rest come from the next.
// A fetch resumes: spans already present are not asked for again. When the partial holds every tensor
// it is checked whole and becomes a complete model.
import type { Libp2p } from "libp2p";
import { stat } from "node:fs/promises";
import type { LayerRange } from "../engine/model.js";
import { readGgufHeader } from "../gguf/reader.js";
import { PartialModel, PartialModelError, modelFilePath } from "./partial-model.js";
import { PeerRangeSource, type PeerRangeSourceOptions } from "./peer-range-source.js";
import { RangeSourceError, type RangeSource } from "./range-source.js";
import { HEADER_SPAN, SpanReceiver, type ExpectedSpan } from "./span-receiver.js";
import { GgufError } from "../gguf/format.js";
import { readProvisionalManifest, type KnownFile } from "./provisional-manifest.js";
import { isFullyHashed, loadOrCreateManifest, ManifestError, manifestMatchesHeader, parseManifest, type ManifestRecord } from "./tensor-manifest.js";
import { shardTensorNames } from "./tensor-ranges.js";

/** Bytes fetched between commits (fsync + state write): bounds both lost work on a crash and memory in flight. */
export const BATCH_BYTES = 32 * 1024 * 1024;

export interface FetchProgress {
  /** Bytes of the shard on disk: verified spans plus bytes of the span being received. */
  readonly bytesDone: number;
  /** Header plus every tensor of the shard. */
  readonly bytesTotal: number;
  readonly tensorsDone: number;
  readonly tensorsTotal: number;
  /** The source bytes are coming from now. */
  readonly source: string;
}

export interface FetchShardFromOptions {
  /** Tried in order. */
  readonly sources: readonly RangeSource[];
  /** The model's manifest sha256, or its whole-file sha256 (then the first manifest that names it is used). */
  readonly modelId: string;
  readonly range: LayerRange;
  readonly modelsDir: string;
  /** File name under modelsDir (default `<modelId>.gguf`); the partial is `<name>.partial`. */
  readonly name?: string;
  /** Manifest bytes known beforehand (e.g. from the model index), checked against modelId. */
  readonly manifest?: Uint8Array;
  /**
   * The whole file's sha256 and size from its publisher (the Hub's LFS metadata). Only when no source
   * has a manifest, this allows a provisional one read from a source's GGUF header: the shard's tensors
   * are then taken on the source's word (result.verified false) and the file is checked once complete.
   */
  readonly knownFile?: KnownFile;
  readonly onProgress?: (p: FetchProgress) => void;
  readonly signal?: AbortSignal;
}

export interface FetchShardOptions extends Omit<FetchShardFromOptions, "sources"> {
  /** This node's libp2p host (a TesseraHost fits). */
  readonly host: { readonly node: Libp2p };
  /** Peer ids that hold the model, in order of preference. */
  readonly peers: readonly string[];
  /** Tried after the peers, e.g. an HttpRangeSource for the Hub. */
  readonly fallback?: readonly RangeSource[];
  readonly peerOptions?: PeerRangeSourceOptions;
}

export interface FetchShardResult {
  /** The file to load the shard from: the complete model once every tensor is in, else the partial. */
  readonly path: string;
  readonly complete: boolean;
  readonly manifestSha256: string;
  /** The shard's tensors (all present now). */
  readonly tensors: readonly string[];
  /** Every tensor of the shard was checked against a sha256 (false: taken on a source's word, see knownFile). */
  readonly verified: boolean;
  /** Bytes received in this call (verified or not). */
  readonly bytesFetched: number;
  /** Sources that supplied verified bytes in this call. */
  readonly usedSources: readonly string[];
  /** Why sources were dropped, in order. */
  readonly failures: readonly string[];
}

export class ShardFetchError extends Error {
  override readonly name = "ShardFetchError";
  constructor(message: string, readonly failures: readonly string[] = []) {
    super(failures.length > 0 ? `${message} (${failures.join("; ")})` : message);
  }
}

/** Fetches a shard from peers over /tessera/model-range/1.0.0, then from `fallback` sources. */
export async function fetchShard(options: FetchShardOptions): Promise<FetchShardResult> {
  const sources: RangeSource[] = [
    ...options.peers.map((p) => new PeerRangeSource(options.host.node, p, options.modelId, options.peerOptions)),
    ...(options.fallback ?? []),
  ];
  try {
    return await fetchShardFrom({ ...options, sources });
  } finally {
    await Promise.all(sources.map((s) => s.close().catch(() => undefined)));
  }
}

/** Fetches a shard from any RangeSources (peers, HTTP), in order. */
export async function fetchShardFrom(options: FetchShardFromOptions): Promise<FetchShardResult> {
  if (!/^[0-9a-f]{64}$/.test(options.modelId)) throw new ShardFetchError(`model id ${JSON.stringify(options.modelId)} is not a sha256`);
  const { start, end } = options.range;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end)) throw new ShardFetchError(`layer range [${start}, ${end}) is empty or malformed`);
  const name = options.name ?? `${options.modelId}.gguf`;
  return withLock(modelFilePath(options.modelsDir, name), () => new ShardFetch(options, name).run());
}

const matches = (record: ManifestRecord, id: string): boolean => record.sha256 === id || record.manifest.fileSha256 === id;

class ShardFetch {
  private readonly failures: string[] = [];
  private readonly dropped = new Set<RangeSource>();
  private readonly used = new Set<string>();
  private bytesFetched = 0;

  constructor(
    private readonly o: FetchShardFromOptions,
    private readonly name: string,
  ) {}

  async run(): Promise<FetchShardResult> {
    const finalPath = modelFilePath(this.o.modelsDir, this.name);
    const whole = await this.completeCopy(finalPath);
    if (whole) {
      const header = await readGgufHeader(finalPath);
      return this.result(finalPath, true, whole, shardTensorNames(header, this.o.range));
    }
    const record = await this.manifest();
    const partial = await PartialModel.open(this.o.modelsDir, this.name, record);
    let discarded = false;
    try {
      if (!partial.hasHeader) {
        const h = record.manifest.header;
        await this.fetchSpans(partial, [{ name: HEADER_SPAN, start: h.start, length: h.length, sha256: h.sha256 }], () => undefined);
      }
      const header = await readGgufHeader(partial.path);
      if (!manifestMatchesHeader(record.manifest, header)) throw new ShardFetchError(`the header of ${partial.path} does not match manifest ${record.sha256}`);
      const tensors = shardTensorNames(header, this.o.range);
      const entries = new Map(record.manifest.tensors.map((t) => [t.name, t]));
      const wanted = tensors.map((n) => entries.get(n)!);
      const total = record.manifest.header.length + wanted.reduce((s, t) => s + t.length, 0);
      let done = record.manifest.header.length + wanted.filter((t) => partial.has(t.name)).reduce((s, t) => s + t.length, 0);
      let count = wanted.filter((t) => partial.has(t.name)).length;
      const report = (source: string, inFlight: number): void =>
        this.o.onProgress?.({ bytesDone: done + inFlight, bytesTotal: total, tensorsDone: count, tensorsTotal: wanted.length, source });
      report("", 0);
      const missing = wanted.filter((t) => !partial.has(t.name));
      await this.fetchSpans(partial, missing, (source, span, ok, inFlight) => {
        if (span && ok) {
          done += span.length;
          count++;
        }
        report(source, inFlight);
      });
      if (partial.complete) {
        try {
          const path = await partial.promote();
          // The complete file's own manifest (a provisional one becomes a real one here).
          if (path) return this.result(path, true, await loadOrCreateManifest(path), tensors);
        } catch (e) {
          if (!(e instanceof PartialModelError)) throw e;
          if (!isFullyHashed(record.manifest)) {
            // Tensors taken on a source's word, and the file proves some wrong: which one is unknowable.
            discarded = true;
            await partial.discard();
            throw new ShardFetchError(`${e.message}; the unverified partial was discarded`, this.failures);
          }
          // Every tensor verified one by one, so the shard is good; only the step to a complete model failed.
          this.failures.push(e.message);
        }
      }
      return this.result(partial.path, false, record, tensors);
    } finally {
      if (!discarded) await partial.close();
    }
  }

  /** The complete model under this name, if it is this model; an error if it is another one. */
  private async completeCopy(finalPath: string): Promise<ManifestRecord | undefined> {
    if (!(await stat(finalPath).then((s) => s.isFile(), () => false))) return undefined;
    const record = await loadOrCreateManifest(finalPath);
    if (!matches(record, this.o.modelId)) throw new ShardFetchError(`${finalPath} holds another model (manifest ${record.sha256}), not ${this.o.modelId}`);
    return record;
  }

  /** The manifest: given, left by an earlier partial fetch, or from the first source that has one. */
  private async manifest(): Promise<ManifestRecord> {
    const id = this.o.modelId;
    if (this.o.manifest) {
      const record = parseManifest(this.o.manifest);
      if (!matches(record, id) || !isFullyHashed(record.manifest)) {
        throw new ShardFetchError(`the manifest given (sha256 ${record.sha256}, file ${record.manifest.fileSha256}) is not a full manifest of ${id}`);
      }
      return record;
    }
    const earlier = await PartialModel.existingManifest(this.o.modelsDir, this.name);
    if (earlier && matches(earlier, id) && (isFullyHashed(earlier.manifest) || this.o.knownFile?.sha256 === earlier.manifest.fileSha256)) return earlier;
    for (const source of this.o.sources) {
      if (!source.manifest) continue;
      try {
        const record = parseManifest(await source.manifest(this.o.signal));
        if (matches(record, id) && isFullyHashed(record.manifest)) return record;
        this.drop(source, `its manifest ${record.sha256} is not a full manifest of model ${id}`);
      } catch (e) {
        this.rethrowAbort();
        if (!(e instanceof RangeSourceError || e instanceof ManifestError)) throw e;
        this.drop(source, e.message);
      }
    }
    const known = this.o.knownFile;
    if (known && known.sha256 === id) {
      for (const source of this.o.sources) {
        if (this.dropped.has(source)) continue;
        try {
          return await readProvisionalManifest(source, known, this.o.signal);
        } catch (e) {
          this.rethrowAbort();
          if (!(e instanceof RangeSourceError || e instanceof GgufError)) throw e;
          this.drop(source, e.message);
        }
      }
    }
    throw new ShardFetchError(`no source gave a manifest for model ${id}`, this.failures);
  }

  /**
   * Fetches spans from the sources in turn until all are present. A source is dropped when it fails or
   * sends a span that does not verify; its verified spans are kept.
   */
  private async fetchSpans(
    partial: PartialModel,
    spans: readonly ExpectedSpan[],
    onChange: (source: string, span: ExpectedSpan | undefined, ok: boolean, inFlight: number) => void,
  ): Promise<void> {
    let missing = spans.filter((s) => !(s.name === HEADER_SPAN ? partial.hasHeader : partial.has(s.name)));
    for (const source of this.o.sources) {
      if (missing.length === 0) return;
      if (this.dropped.has(source)) continue;
      let spanBytes = 0; // bytes of spans finished on this source
      const receiver = new SpanReceiver(partial, missing, (span, ok) => {
        if (ok) this.used.add(source.label);
        spanBytes += span.length;
        onChange(source.label, span, ok, receiver.bytes - spanBytes);
      });
      receiver.settleEmpty();
      try {
        for (const batch of batches(missing.filter((s) => s.length > 0))) {
          await source.read(batch, async (offset, bytes) => {
            await receiver.sink(offset, bytes);
            onChange(source.label, undefined, false, receiver.bytes - spanBytes);
          }, this.o.signal);
          await receiver.flush();
          await partial.commit();
          this.rethrowAbort();
          if (receiver.failed.length > 0) break;
        }
        if (receiver.failed.length > 0) this.drop(source, `tensor ${receiver.failed[0]} failed sha256 verification`);
      } catch (e) {
        // Whatever verified and was written before the failure is kept: make it durable first.
        const writeFailed = await receiver.flush().then(() => undefined, (w: unknown) => w);
        await partial.commit();
        if (writeFailed !== undefined) throw writeFailed;
        this.rethrowAbort();
        if (!(e instanceof RangeSourceError)) throw e;
        this.drop(source, e.message);
      } finally {
        this.bytesFetched += receiver.bytes;
      }
      missing = missing.filter((s) => !(s.name === HEADER_SPAN ? partial.hasHeader : partial.has(s.name)));
    }
    if (missing.length > 0) {
      throw new ShardFetchError(`${missing.length} span(s) of model ${this.o.modelId} could not be fetched, e.g. ${missing[0].name}`, this.failures);
    }
  }

  private drop(source: RangeSource, why: string): void {
    this.dropped.add(source);
    this.failures.push(`${source.label}: ${why}`);
  }

  private rethrowAbort(): void {
    const signal = this.o.signal;
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new ShardFetchError("the fetch was aborted");
  }

  private result(path: string, complete: boolean, record: ManifestRecord, tensors: readonly string[]): FetchShardResult {
    const verified = complete || isFullyHashed(record.manifest);
    return { path, complete, manifestSha256: record.sha256, tensors, verified, bytesFetched: this.bytesFetched, usedSources: [...this.used], failures: this.failures };
  }
}

/** Groups spans (file order) into requests of about BATCH_BYTES; a span longer than that is its own batch. */
function batches(spans: readonly ExpectedSpan[]): ExpectedSpan[][] {
  const out: ExpectedSpan[][] = [];
  let batch: ExpectedSpan[] = [];
  let bytes = 0;
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    if (batch.length > 0 && bytes + s.length > BATCH_BYTES) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(s);
    bytes += s.length;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** One fetch at a time per model file in this process: two would race on the partial's state. */
const locks = new Map<string, Promise<unknown>>();

async function withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
  const before = locks.get(key) ?? Promise.resolve();
  const turn = before.catch(() => undefined).then(work);
  const tail = turn.catch(() => undefined);
  locks.set(key, tail);
  try {
    return await turn;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}
