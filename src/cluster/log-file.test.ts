import { test, after } from "node:test";
import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "./crc32.js";
import { LogFileError } from "./errors.js";
import { decodeRecords, encodeRecords, EventLogFile, readAll } from "./log-file.js";
import { randomLog } from "./test-support.js";

const dir = await mkdtemp(join(tmpdir(), "tessera-cluster-log-"));
after(() => rm(dir, { recursive: true, force: true }));
let fileNo = 0;
const newPath = () => join(dir, `events-${fileNo++}.log`);

test("crc32 matches the standard check values", () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  assert.equal(crc32(ascii("")), 0);
  assert.equal(crc32(ascii("123456789")), 0xcbf43926);
  assert.equal(crc32(ascii("The quick brown fox jumps over the lazy dog")), 0x414fa339);
  assert.equal(crc32(new Uint8Array(32)), 0x190a55ad);
});

test("record layout: u32 length, u32 crc32, JSON", () => {
  const [e] = randomLog(1, 1);
  const bytes = encodeRecords([e!]);
  const json = Buffer.from(JSON.stringify(e));
  assert.equal(bytes.readUInt32LE(0), json.length);
  assert.equal(bytes.readUInt32LE(4), crc32(json));
  assert.deepEqual(bytes.subarray(8), json);
});

test("write, reopen, read back; appends continue the sequence", async () => {
  const path = newPath();
  const events = randomLog(2, 50);
  const { log, recovered } = await EventLogFile.open(path);
  assert.deepEqual(recovered.events, []);
  await log.append(events.slice(0, 30));
  await log.append(events.slice(30, 31));
  await log.append([]);
  await log.close();
  const again = await EventLogFile.open(path);
  assert.deepEqual(again.recovered, { events: events.slice(0, 31), goodBytes: (await stat(path)).size, problem: null, truncatedBytes: 0 });
  assert.equal(again.log.nextIndex, 31);
  await again.log.append(events.slice(31));
  await again.log.close();
  assert.deepEqual((await readAll(path)).events, events);
});

test("append refuses events that do not continue the log, and a closed log", async () => {
  const path = newPath();
  const events = randomLog(3, 5);
  const { log } = await EventLogFile.open(path);
  await assert.rejects(log.append(events.slice(1, 2)), LogFileError);
  await assert.rejects(log.append([events[0]!, events[2]!]), LogFileError);
  await log.append(events.slice(0, 2));
  await log.close();
  await assert.rejects(log.append(events.slice(2, 3)), LogFileError);
  assert.equal((await readAll(path)).events.length, 2);
});

test("a missing file reads as an empty log", async () => {
  assert.deepEqual(await readAll(join(dir, "absent.log")), { events: [], goodBytes: 0, problem: null, truncatedBytes: 0 });
});

async function writeLog(count: number): Promise<{ path: string; size: number; boundaries: number[] }> {
  const path = newPath();
  const events = randomLog(4, count);
  const boundaries = [0];
  for (const e of events) boundaries.push(boundaries.at(-1)! + encodeRecords([e]).length);
  await writeFile(path, encodeRecords(events));
  return { path, size: boundaries.at(-1)!, boundaries };
}

test("a torn tail (crash mid-write) is cut back to the last good record", async () => {
  for (const cut of [1, 3, 8, 9, 20]) {
    const { path, size, boundaries } = await writeLog(10);
    await truncate(path, size - cut);
    const r = await readAll(path);
    assert.equal(r.events.length, 9, `cut ${cut}`);
    assert.equal(r.problem?.kind, "torn-tail");
    assert.equal(r.goodBytes, boundaries[9]);
    assert.equal(r.truncatedBytes, size - cut - boundaries[9]!);
    assert.equal((await stat(path)).size, boundaries[9]);
    // Recovery leaves a clean file: appending continues it.
    const { log } = await EventLogFile.open(path);
    assert.equal(log.nextIndex, 9);
    await log.append(randomLog(4, 10).slice(9));
    await log.close();
    assert.equal((await readAll(path)).events.length, 10);
  }
});

test("garbage appended after the last record is cut off", async () => {
  const { path, size } = await writeLog(5);
  await appendFile(path, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06]));
  const r = await readAll(path);
  assert.equal(r.events.length, 5);
  assert.equal(r.problem?.kind, "bad-length", "0xefbeadde is no plausible record length");
  assert.equal(r.truncatedBytes, 10);
  assert.equal((await stat(path)).size, size);
});

test("a corrupted record in the middle stops reading there and truncates (policy: refetch from peers)", async () => {
  const { path, boundaries } = await writeLog(10);
  const bytes = await readFile(path);
  const mid = boundaries[4]! + 8 + 5; // a byte inside record 4's JSON
  bytes[mid] = bytes[mid]! ^ 0x01;
  await writeFile(path, bytes);
  const peek = await readAll(path, { truncate: false });
  assert.equal(peek.events.length, 4);
  assert.deepEqual(peek.problem, { kind: "bad-crc", offset: boundaries[4], detail: "checksum mismatch" });
  assert.equal(peek.truncatedBytes, 0);
  assert.equal((await stat(path)).size, bytes.length, "truncate: false leaves the file alone");
  const r = await readAll(path);
  assert.equal(r.events.length, 4);
  assert.equal(r.truncatedBytes, bytes.length - boundaries[4]!);
  assert.equal((await stat(path)).size, boundaries[4]);
});

test("records with a valid CRC but bad content are refused too", () => {
  const good = encodeRecords(randomLog(5, 2));
  const cases: [string, Buffer, string][] = [
    ["not JSON", rawRecord(Buffer.from("{nope")), "bad-json"],
    ["not an indexed event", rawRecord(Buffer.from('{"index":0}')), "bad-event"],
    ["huge length", Buffer.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]), "bad-length"],
    ["index gap", Buffer.concat([good, encodeRecords(randomLog(5, 4).slice(3))]), "index-gap"],
  ];
  for (const [why, bytes, kind] of cases) assert.equal(decodeRecords(bytes).problem?.kind, kind, why);
});

function rawRecord(json: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(json.length, 0);
  header.writeUInt32LE(crc32(json), 4);
  return Buffer.concat([header, json]);
}
