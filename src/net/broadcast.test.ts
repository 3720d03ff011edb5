import { test } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { BroadcastDiscovery, MAX_ANNOUNCE_BYTES, parseAnnounce, type DiscoveredPeer } from "./broadcast.js";
import { createHost, type TesseraHost } from "./host.js";
import { clusterHint, generateClusterKey } from "./cluster-key.js";
import { freeUdpPort, removeDir, tempDir, waitFor } from "./test-support.js";

// All datagrams here go to 127.255.255.255 (loopback broadcast) and the sockets bind that address, so
// nothing leaves the machine and nothing is heard from the LAN.
const LOOPBACK_BROADCAST = "127.255.255.255";
const ID1 = "12D3KooWBZgkXkmBGF9EMqhag6tkHeef96EvPm32X79ddkoLVEE8";
const ID2 = "12D3KooWGnNYMB5FwmooGHBShzJRtSjsN4sicvUV7B26rGXxUKno";
const ID3 = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo";
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

test("parseAnnounce accepts only small, well-formed v1 announces", () => {
  const good = { v: 1, peerId: ID1, port: 4001, clusterHint: "abcd1234" };
  assert.deepEqual(parseAnnounce(enc(good)), good);
  for (const bad of [
    "{", "null", { ...good, v: 2 }, { ...good, port: 0 }, { ...good, port: 1.5 }, { ...good, peerId: "" },
    { ...good, peerId: "0OIl" }, { ...good, clusterHint: "" }, { ...good, extra: 1 }, { v: 1, peerId: ID1, port: 4001 },
  ]) {
    assert.equal(parseAnnounce(enc(bad)), undefined, JSON.stringify(bad));
  }
  const big = { ...good, clusterHint: "x".repeat(MAX_ANNOUNCE_BYTES) };
  assert.equal(parseAnnounce(enc(big)), undefined);
});

test("discovery reports same-cluster senders only, ignoring own, other-cluster and junk datagrams", async () => {
  const port = await freeUdpPort();
  const common = { address: LOOPBACK_BROADCAST, bindAddress: LOOPBACK_BROADCAST, port, intervalMs: 100 };
  const heard: DiscoveredPeer[] = [];
  const d1 = new BroadcastDiscovery({ ...common, self: { peerId: ID1, port: 1111, clusterHint: "aaaa" }, onPeer: (p) => heard.push(p) });
  const d2 = new BroadcastDiscovery({ ...common, self: { peerId: ID2, port: 2222, clusterHint: "aaaa" }, onPeer: () => undefined });
  const d3 = new BroadcastDiscovery({ ...common, self: { peerId: ID3, port: 3333, clusterHint: "bbbb" }, onPeer: () => undefined });
  const junk = dgram.createSocket("udp4");
  try {
    await d1.start();
    await d2.start();
    await d3.start();
    junk.bind(0, "127.0.0.1");
    await new Promise((r) => junk.once("listening", r));
    junk.setBroadcast(true);
    junk.send(Buffer.from("not json"), port, LOOPBACK_BROADCAST);
    junk.send(Buffer.alloc(MAX_ANNOUNCE_BYTES + 1, 0x20), port, LOOPBACK_BROADCAST);
    await waitFor(
      () => heard.length >= 2 && d1.stats.own >= 1 && d1.stats.otherCluster >= 1 && d1.stats.invalid === 2,
      "announces from d1, d2, d3 and the junk",
    );
    assert.ok(heard.every((p) => p.peerId === ID2 && p.port === 2222 && p.host === "127.0.0.1"));
    assert.ok(d1.stats.sent >= 1);
  } finally {
    junk.close();
    await Promise.all([d1.stop(), d2.stop(), d3.stop()]);
  }
});

test("two hosts find and connect to each other by broadcast, without manual peers", async () => {
  const port = await freeUdpPort();
  const broadcast = { address: LOOPBACK_BROADCAST, bindAddress: LOOPBACK_BROADCAST, port, intervalMs: 200 };
  const clusterKey = generateClusterKey();
  const dirs = [await tempDir(), await tempDir()];
  const hosts: TesseraHost[] = [];
  try {
    for (const dataDir of dirs) hosts.push(await createHost({ dataDir, listenHost: "127.0.0.1", clusterKey, broadcast }));
    const [a, b] = hosts;
    assert.equal(a.clusterHint, clusterHint(clusterKey));
    await waitFor(() => a.peers().includes(b.peerId) && b.peers().includes(a.peerId), "discovery and connection");
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await Promise.all(dirs.map(removeDir));
  }
});
