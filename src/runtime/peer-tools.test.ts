// The peer tools between real libp2p hosts in this process (loopback, one cluster key): a message is
// logged by the receiver, safely; ping measures; and hostile streams are reset without harming the node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Stream } from "@libp2p/interface";
import { createHost, type TesseraHost } from "../net/host.js";
import { generateClusterKey } from "../net/cluster-key.js";
import { encodeFrame } from "../net/frames.js";
import { removeDir, tempDir, waitFor } from "../net/test-support.js";
import { MAX_MESSAGE_CHARS, MAX_PING_BYTES, PeerTools, PING_PROTOCOL, printable, SEND_PROTOCOL } from "./peer-tools.js";

interface Side {
  readonly host: TesseraHost;
  readonly tools: PeerTools;
  readonly lines: string[];
}

async function side(key: string, name: string, dirs: string[]): Promise<Side> {
  const dir = await tempDir();
  dirs.push(dir);
  const host = await createHost({ dataDir: dir, listenHost: "127.0.0.1", port: 0, clusterKey: key });
  const lines: string[] = [];
  const tools = new PeerTools(host, () => name, (line) => lines.push(line));
  await tools.start();
  return { host, tools, lines };
}

/** Resolves when the stream ends (closed or reset by either side). */
function ended(stream: Stream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.status !== "open") return resolve();
    stream.addEventListener("close", () => resolve());
  });
}

test("send is logged once, escaped and rate-limited; ping measures; hostile streams are reset and the tools keep working", { timeout: 120_000 }, async () => {
  const key = generateClusterKey();
  const dirs: string[] = [];
  const sides: Side[] = [];
  try {
    const a = await side(key, "alpha", dirs);
    sides.push(a);
    const b = await side(key, "beta", dirs);
    sides.push(b);
    await a.host.dial(b.host.multiaddrs[0]);
    await waitFor(() => a.host.peers().includes(b.host.peerId), "a connection");

    const sent = await a.tools.send(b.host.peerId, "hello from alpha");
    assert.equal(sent.logged, true);
    assert.ok(sent.rttMs > 0);
    assert.deepEqual(b.lines, [`tessera: message from alpha (${a.host.peerId}): hello from alpha`]);

    // Terminal escapes and newlines arrive as visible escapes: one line, nothing a terminal would act on.
    await a.tools.send(b.host.peerId, "line1\nline2\u001b[2J\u0007");
    assert.equal(b.lines[1], `tessera: message from alpha (${a.host.peerId}): line1\\u000aline2\\u001b[2J\\u0007`);
    assert.equal(printable("plain ünïcode 🙂"), "plain ünïcode 🙂");

    // A burst: every message is acknowledged, only the first few per window are written.
    const burst = [];
    for (let i = 0; i < 20; i++) burst.push(await a.tools.send(b.host.peerId, `burst ${i}`));
    const logged = burst.filter((r) => r.logged).length;
    assert.ok(logged >= 1 && logged < 20, `${logged} of 20 logged`);
    assert.equal(b.lines.length, 2 + logged);

    await assert.rejects(a.tools.send(b.host.peerId, "x".repeat(MAX_MESSAGE_CHARS + 1)), RangeError);
    await assert.rejects(a.tools.ping(b.host.peerId, { count: 0 }), RangeError);
    await assert.rejects(a.tools.ping(b.host.peerId, { bytes: MAX_PING_BYTES + 1 }), RangeError);

    const ping = await a.tools.ping(b.host.peerId, { count: 7, bytes: 3 * 256 * 1024 + 5 });
    assert.equal(ping.count, 7);
    assert.equal(ping.bytes, 3 * 256 * 1024 + 5);
    assert.ok(ping.rttMs.min > 0 && ping.rttMs.min <= ping.rttMs.avg && ping.rttMs.avg <= ping.rttMs.max, JSON.stringify(ping.rttMs));
    assert.ok(ping.throughputBps !== null && ping.throughputBps > 0);
    const echoOnly = await b.tools.ping(a.host.peerId, { count: 1, bytes: 0 });
    assert.equal(echoOnly.throughputBps, null);

    // Hostile or broken peers: each stream is reset by the receiver, which stays up.
    const peer = peerIdFromString(b.host.peerId);
    const huge = new Uint8Array(8);
    new DataView(huge.buffer).setUint32(0, 0xffffffff, true); // a 4 GiB header
    const notJson = encodeFrame("xxxx");
    notJson.set(new TextEncoder().encode("{bad"), 8);
    const attacks: [string, Uint8Array][] = [
      [SEND_PROTOCOL, huge],
      [SEND_PROTOCOL, notJson],
      [SEND_PROTOCOL, encodeFrame({ kind: "message", from: "m", text: "y".repeat(MAX_MESSAGE_CHARS + 1) })],
      [SEND_PROTOCOL, encodeFrame({ kind: "message", from: "m", text: "hi", extra: 1 })],
      [PING_PROTOCOL, encodeFrame({ kind: "bulk" }, new Uint8Array(512 * 1024))],
      [PING_PROTOCOL, encodeFrame({ kind: "echo", seq: -1 })],
    ];
    for (const [protocol, bytes] of attacks) {
      const stream = await a.host.node.dialProtocol(peer, protocol);
      stream.send(bytes);
      await ended(stream);
    }
    // Too many echoes in one session: refused once past the cap.
    const flood = await a.host.node.dialProtocol(peer, PING_PROTOCOL);
    const done = ended(flood);
    for (let i = 0; i < 1100 && flood.status === "open"; i++) flood.send(encodeFrame({ kind: "echo", seq: i % 1000 }));
    await done;

    assert.equal(b.lines.filter((l) => l.includes("from m ")).length, 0, "no hostile message was logged");
    const after = await a.tools.ping(b.host.peerId, { count: 2, bytes: 1024 });
    assert.equal(after.bytes, 1024);
  } finally {
    for (const s of sides) {
      await s.tools.stop();
      await s.host.stop();
    }
    for (const d of dirs) await removeDir(d);
  }
});
