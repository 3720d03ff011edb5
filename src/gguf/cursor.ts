// A bounds-checked little-endian cursor over a GGUF header, which may be only a prefix of the file.
// Every read first asks need(n): past the end of the FILE that is a GgufError (the file is truncated);
// past the end of the BYTES we were given, but inside the file, it is a NeedMoreBytes signal so the
// caller can read a longer prefix and parse again.
import { GgufError } from "./format.js";

/**
 * Internal signal, not a GgufError: the header continues past the bytes supplied to the parser.
 * `needed` is the smallest prefix length (in bytes, ≤ fileSize) that gets the parse further.
 */
export class NeedMoreBytes extends Error {
  override readonly name = "NeedMoreBytes";
  constructor(readonly needed: number) {
    super(`GGUF header needs at least ${needed} bytes`);
  }
}

/**
 * What is being read, for error messages. A function is called only when a read fails, so hot loops
 * (thousands of vocabulary strings) do not build a message per item.
 */
export type Label = string | (() => string);

function text(what: Label): string {
  return typeof what === "string" ? what : what();
}

/** A key or tensor name for an error message: escaped, and cut short, since a corrupt one may be huge. */
export function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}

const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/**
 * A UTF-8 decoder over `bytes` (U+FFFD for invalid sequences, a leading BOM kept). Node's Buffer
 * decodes short strings about twice as fast as TextDecoder, which matters for vocabularies of 100k+
 * tokens; TextDecoder keeps the parser usable where Buffer does not exist.
 */
export function utf8Decoder(bytes: Uint8Array, useBuffer = NodeBuffer !== undefined): (start: number, end: number) => string {
  if (useBuffer && NodeBuffer) {
    const buf = NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return (start, end) => buf.toString("utf8", start, end);
  }
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  return (start, end) => decoder.decode(bytes.subarray(start, end));
}

const TWO_32 = 2 ** 32;
/** The high u32 of a u64 above which the value is no longer a safe integer. */
const SAFE_HIGH_LIMIT = 2 ** 21;

export class HeaderCursor {
  pos = 0;
  private readonly view: DataView;
  /** Bytes actually available: a prefix never extends past the file, whatever the caller passed. */
  private readonly available: number;
  /** UTF-8 with U+FFFD for invalid bytes, a leading BOM kept. */
  private readonly decodeUtf8: (start: number, end: number) => string;

  constructor(
    bytes: Uint8Array,
    readonly fileSize: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.available = Math.min(bytes.byteLength, fileSize);
    this.decodeUtf8 = utf8Decoder(bytes);
  }

  /** Bytes left in the FILE after the cursor: the bound for every count read from the header. */
  get remainingInFile(): number {
    return this.fileSize - this.pos;
  }

  need(n: number, what: Label): void {
    const end = this.pos + n;
    if (end > this.fileSize) {
      throw new GgufError(`truncated ${text(what)} at byte offset ${this.pos}: needs ${n} bytes, file ends at ${this.fileSize}`);
    }
    if (end > this.available) throw new NeedMoreBytes(end);
  }

  u8(what: Label): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  i8(what: Label): number {
    this.need(1, what);
    return this.view.getInt8(this.pos++);
  }

  u16(what: Label): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  i16(what: Label): number {
    this.need(2, what);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what: Label): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(what: Label): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f32(what: Label): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(what: Label): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 as a number, or a bigint when it is not a safe integer (the GgufScalar convention). */
  u64(what: Label): number | bigint {
    this.need(8, what);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    const v = hi < SAFE_HIGH_LIMIT ? hi * TWO_32 + lo : this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  i64(what: Label): number | bigint {
    this.need(8, what);
    const big = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    const n = Number(big);
    return Number.isSafeInteger(n) ? n : big;
  }

  /**
   * A u64 count or length that must fit in what is left of the file, each item taking at least
   * `minItemBytes`. Checked before anything is allocated, so a hostile count fails fast.
   */
  count(what: Label, minItemBytes: number, lengthOf = false): number {
    const at = this.pos;
    const raw = this.u64(what);
    const limit = Math.floor(this.remainingInFile / minItemBytes);
    if (typeof raw === "bigint" || raw > limit) {
      throw new GgufError(
        `${lengthOf ? "length of " : ""}${text(what)} ${raw} at byte offset ${at} does not fit in the ${this.remainingInFile} bytes left in the file` +
          (minItemBytes > 1 ? ` (each item takes at least ${minItemBytes})` : "") +
          ": the file is truncated or corrupt",
      );
    }
    return raw;
  }

  /**
   * A GGUF string: u64 byte length then UTF-8 bytes. Invalid UTF-8 is decoded with U+FFFD replacement
   * rather than rejected, as llama.cpp loads such files too (it never validates metadata strings).
   */
  string(what: Label): string {
    const len = this.count(what, 1, true);
    this.need(len, what);
    const start = this.pos;
    this.pos += len;
    return this.decodeUtf8(start, start + len);
  }
}
