// The node's durable copy of the cluster event log: an append-only file of records
//   [u32 LE length of the JSON][u32 LE crc32 of the JSON][JSON of one IndexedEvent]
// A batch of records is written with one write and made durable with one fsync before append()
// resolves, so an event acknowledged as stored survives a crash.
//
// Recovery policy: reading stops at the first record that is torn (the file ends inside it: a crash
// mid-write), fails its CRC, is not valid JSON, fails the IndexedEvent schema, or breaks the index
// sequence. Everything from that point on is truncated away and the problem reported. Salvaging
// records after a corrupt one would leave a hole in the log; the dropped suffix is instead fetched
// again from peers with RequestEventLog, which the cluster needs to support anyway.
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32 } from "./crc32.js";
import { LogFileError } from "./errors.js";
import { IndexedEventSchema, type IndexedEvent } from "./events.js";

const HEADER_BYTES = 8;
/** No valid event comes near this (ids and lists are bounded); a larger length means corruption. */
export const MAX_RECORD_BYTES = 1 << 20;

export type LogProblemKind = "torn-tail" | "bad-length" | "bad-crc" | "bad-json" | "bad-event" | "index-gap";

export interface LogProblem {
  readonly kind: LogProblemKind;
  /** Byte offset of the first record that was not accepted (= the good prefix's length). */
  readonly offset: number;
  readonly detail: string;
}

export interface DecodeResult {
  readonly events: readonly IndexedEvent[];
  /** Length of the prefix made of good records. */
  readonly goodBytes: number;
  readonly problem: LogProblem | null;
}

export interface ReadResult extends DecodeResult {
  /** Bytes cut off the end of the file (0 when it was intact or `truncate` was false). */
  readonly truncatedBytes: number;
}

/** Encodes events as consecutive records. */
export function encodeRecords(events: readonly IndexedEvent[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of events) {
    const json = Buffer.from(JSON.stringify(e), "utf8");
    if (json.length > MAX_RECORD_BYTES) throw new LogFileError(`event ${e.index} is ${json.length} bytes`);
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32LE(json.length, 0);
    header.writeUInt32LE(crc32(json), 4);
    parts.push(header, json);
  }
  return Buffer.concat(parts);
}

/** Decodes records until the end or the first bad one (see the recovery policy above). */
export function decodeRecords(bytes: Uint8Array): DecodeResult {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: IndexedEvent[] = [];
  let offset = 0;
  const stop = (kind: LogProblemKind, detail: string): DecodeResult => ({
    events,
    goodBytes: offset,
    problem: { kind, offset, detail },
  });
  while (offset < buf.length) {
    if (buf.length - offset < HEADER_BYTES) return stop("torn-tail", "file ends inside a record header");
    const length = buf.readUInt32LE(offset);
    if (length > MAX_RECORD_BYTES) return stop("bad-length", `record length ${length}`);
    const end = offset + HEADER_BYTES + length;
    if (end > buf.length) return stop("torn-tail", `record needs ${length} bytes, ${buf.length - offset - 8} left`);
    const json = buf.subarray(offset + HEADER_BYTES, end);
    if (crc32(json) !== buf.readUInt32LE(offset + 4)) return stop("bad-crc", "checksum mismatch");
    let value: unknown;
    try {
      value = JSON.parse(json.toString("utf8"));
    } catch {
      return stop("bad-json", "record is not JSON");
    }
    const parsed = IndexedEventSchema.safeParse(value);
    if (!parsed.success) return stop("bad-event", parsed.error.issues[0]?.message ?? "schema");
    const previous = events.at(-1);
    if (previous !== undefined && parsed.data.index !== previous.index + 1) {
      return stop("index-gap", `index ${parsed.data.index} after ${previous.index}`);
    }
    events.push(parsed.data);
    offset = end;
  }
  return { events, goodBytes: offset, problem: null };
}

/**
 * Reads every good record of the log at `path` (an absent file is an empty log). Unless `truncate`
 * is false, cuts the file back to its good prefix, fsynced, so the next append continues cleanly.
 */
export async function readAll(path: string, options: { truncate?: boolean } = {}): Promise<ReadResult> {
  let handle: FileHandle;
  try {
    handle = await open(path, options.truncate === false ? "r" : "r+");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { events: [], goodBytes: 0, problem: null, truncatedBytes: 0 };
    throw err;
  }
  try {
    const bytes = await handle.readFile();
    const result = decodeRecords(bytes);
    if (result.goodBytes === bytes.length || options.truncate === false) return { ...result, truncatedBytes: 0 };
    await handle.truncate(result.goodBytes);
    await handle.sync();
    return { ...result, truncatedBytes: bytes.length - result.goodBytes };
  } finally {
    await handle.close();
  }
}

/** An open log: recovers on open, then appends consecutive events durably. */
export class EventLogFile {
  #handle: FileHandle | null;
  #nextIndex: number;

  private constructor(handle: FileHandle, nextIndex: number) {
    this.#handle = handle;
    this.#nextIndex = nextIndex;
  }

  /** Opens (creating if needed) and recovers the log; `recovered` holds what was read back. */
  static async open(path: string): Promise<{ log: EventLogFile; recovered: ReadResult }> {
    const recovered = await readAll(path);
    const handle = await open(path, "a");
    await syncDirectory(path);
    const last = recovered.events.at(-1);
    return { log: new EventLogFile(handle, last === undefined ? 0 : last.index + 1), recovered };
  }

  /** The index the next appended event must have. */
  get nextIndex(): number {
    return this.#nextIndex;
  }

  /** Appends consecutive events (starting at nextIndex) with one write and one fsync. */
  async append(events: readonly IndexedEvent[]): Promise<void> {
    if (this.#handle === null) throw new LogFileError("log is closed");
    events.forEach((e, i) => {
      if (e.index !== this.#nextIndex + i) throw new LogFileError(`expected index ${this.#nextIndex + i}, got ${e.index}`);
    });
    if (events.length === 0) return;
    const bytes = encodeRecords(events);
    try {
      await this.#handle.write(bytes);
      await this.#handle.sync();
    } catch (err) {
      // A failed write may have left part of a record; appending after it would bury the tear in the
      // middle of the file. Refuse further appends: reopening runs recovery and cuts the partial record.
      await this.close();
      throw new LogFileError(`append failed, reopen the log to recover: ${(err as Error).message}`);
    }
    this.#nextIndex += events.length;
  }

  /** Empties the log (a node that must re-fetch its whole history from the master). */
  async reset(): Promise<void> {
    if (this.#handle === null) throw new LogFileError("log is closed");
    await this.#handle.truncate(0);
    await this.#handle.sync();
    this.#nextIndex = 0;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }
}

// A new file's directory entry is only durable once the directory itself is fsynced. Directories
// cannot be opened for syncing on every platform (Windows), where this is best effort.
async function syncDirectory(path: string): Promise<void> {
  let dir: FileHandle | undefined;
  try {
    dir = await open(dirname(path), "r");
    await dir.sync();
  } catch {
    // best effort, see above
  } finally {
    await dir?.close();
  }
}
