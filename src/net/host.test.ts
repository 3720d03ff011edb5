import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { createHost, type HostOptions, type TesseraHost } from "./host.js";
import { generateClusterKey } from "./cluster-key.js";
import { NetConfigError, PeerAddressError, MessageInvalidError, MessageTooLargeError } from "./errors.js";
import { TOPIC_NAMES, wireTopic, type TopicName } from "./topics.js";
import { removeDir, tempDir, waitFor } from "./test-support.js";

// Real libp2p nodes in this process, on 127.0.0.1 with OS-chosen ports, no mDNS, no broadcast.

/** Starts hosts and remembers them (and their data dirs) so every test can stop and delete them all. */
class Fleet {
  private hosts: TesseraHost[] = [];
  private dirs: string[] = [];

  async dir(): Promise<string> {
    const d = await tempDir();
    this.dirs.push(d);
    return d;
  }

  async start(opts: Partial<HostOptions> & { dataDir?: string }): Promise<TesseraHost> {
    const h = await createHost({ listenHost: "127.0.0.1", port: 0, ...opts, dataDir: opts.dataDir ?? (await this.dir()) });
    this.hosts.push(h);
    return h;
  }

  async close(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.stop()));
    await Promise.all(this.dirs.map(removeDir));
  }
}

const Msg = z.object({ topic: z.string(), from: z.string(), n: z.number().int() });
type Msg = z.infer<typeof Msg>;

test("options: exactly one of clusterKey/open; bad keys and peers are clear errors", async () => {
  const fleet = new Fleet();
  try {
    const dataDir = await fleet.dir();
    await assert.rejects(createHost({ dataDir }), NetConfigError);
    await assert.rejects(createHost({ dataDir, open: true, clusterKey: generateClusterKey() }), NetConfigError);
    await assert.rejects(createHost({ dataDir, clusterKey: "tsk_short" }), /cluster key/);
    await assert.rejects(createHost({ dataDir, open: true, peers: ["not a peer"] }), PeerAddressError);
    await assert.rejects(createHost({ dataDir, open: true, port: 70000 }), NetConfigError);
  } finally {
    await fleet.close();
  }
});

test("3 keyed nodes joined via host:port and multiaddr peers deliver every topic to the others", async () => {
  const fleet = new Fleet();
  try {
    const clusterKey = generateClusterKey();
    const a = await fleet.start({ clusterKey });
    const b = await fleet.start({ clusterKey, peers: [`127.0.0.1:${a.port}`] });
    const c = await fleet.start({ clusterKey, peers: [a.multiaddrs[0]] });
    const nodes = [a, b, c];
    const got = new Map<string, Msg[]>(); // `${receiver}/${topic}` -> messages
    const channels = nodes.map((h) =>
      Object.fromEntries(
        TOPIC_NAMES.map((t) => {
          const ch = h.channel(t, Msg);
          ch.subscribe((m, meta) => {
            assert.equal(meta.from, m.from, "the signer is the publisher");
            const k = `${h.peerId}/${t}`;
            got.set(k, [...(got.get(k) ?? []), m]);
          });
          return [t, ch];
        }),
      ),
    );
    await waitFor(() => a.peers().length === 2 && b.peers().includes(a.peerId) && c.peers().includes(a.peerId), "connections");
    // B and C are not connected to each other, so their messages reach each other only through A's mesh.
    await waitFor(
      () => TOPIC_NAMES.every((t) => a.meshPeers(t).length === 2 && b.meshPeers(t).length === 1 && c.meshPeers(t).length === 1),
      "gossipsub meshes",
    );
    for (const [i, topic] of TOPIC_NAMES.entries()) {
      const sender = nodes[i % 3];
      await channels[i % 3][topic].publish({ topic, from: sender.peerId, n: i });
    }
    const expected = (receiver: TesseraHost, topic: TopicName): boolean =>
      (got.get(`${receiver.peerId}/${topic}`) ?? []).length === 1;
    await waitFor(
      () => TOPIC_NAMES.every((t, i) => nodes.every((h, j) => j === i % 3 || expected(h, t))),
      "every message at every other node",
    );
    for (const [i, topic] of TOPIC_NAMES.entries()) {
      const senderIdx = i % 3;
      for (const [j, h] of nodes.entries()) {
        const msgs = got.get(`${h.peerId}/${topic}`) ?? [];
        if (j === senderIdx) assert.equal(msgs.length, 0, "a node does not receive its own message");
        else assert.deepEqual(msgs, [{ topic, from: nodes[senderIdx].peerId, n: i }]);
      }
    }
  } finally {
    await fleet.close();
  }
});

test("a node with another key, or an open node, cannot connect to a keyed cluster", async () => {
  const fleet = new Fleet();
  try {
    const a = await fleet.start({ clusterKey: generateClusterKey() });
    const stranger = await fleet.start({ clusterKey: generateClusterKey() });
    const open = await fleet.start({ open: true });
    const open2 = await fleet.start({ open: true, peers: [`127.0.0.1:${open.port}`] });
    // A key mismatch turns the handshake into noise, so these fail only at libp2p's 6 s address-dial
    // timeout; run them together.
    await Promise.all([
      assert.rejects(stranger.dial(a.multiaddrs[0])),
      assert.rejects(open.dial(`127.0.0.1:${a.port}`)),
      assert.rejects(a.dial(open.multiaddrs[0])),
    ]);
    // Two open nodes do connect, which shows the rejections above are about the key, not the setup.
    await waitFor(() => open2.peers().includes(open.peerId), "open nodes to connect");
    assert.deepEqual(a.peers(), []);
    assert.ok(!stranger.peers().includes(a.peerId) && !open.peers().includes(a.peerId));
  } finally {
    await fleet.close();
  }
});

test("malformed, schema-invalid and oversize raw messages are dropped and counted; valid ones flow", async () => {
  const fleet = new Fleet();
  try {
    const clusterKey = generateClusterKey();
    const a = await fleet.start({ clusterKey });
    const b = await fleet.start({ clusterKey, peers: [a.multiaddrs[0]] });
    const Small = z.object({ n: z.number().int() });
    const opts = { maxBytes: 200 };
    const chA = a.channel("commands", Small, opts);
    const chB = b.channel("commands", Small, opts);
    assert.equal(b.channel("commands", Small, opts), chB, "same schema and limit give the same channel");
    const got: number[] = [];
    chB.subscribe((m) => got.push(m.n));
    chB.subscribe(() => {
      throw new Error("a failing handler must not affect delivery");
    });
    await waitFor(() => a.topicPeers("commands").includes(b.peerId), "B to subscribe");

    await assert.rejects(chA.publish({ n: 1.5 }), MessageInvalidError);
    await assert.rejects(chA.publish({ n: 1, pad: "x".repeat(300) } as never), MessageTooLargeError);

    const raw = (s: string) => a.node.services.pubsub.publish(wireTopic("commands"), new TextEncoder().encode(s));
    await raw("{not json");
    await raw('{"n":"seven"}');
    await raw(JSON.stringify({ n: 2, pad: "x".repeat(300) })); // schema-valid but over 200 bytes
    await raw('{"n":3}');
    await chA.publish({ n: 4 });
    await waitFor(() => {
      const s = chB.stats;
      return s.received === 2 && s.dropped_invalid === 2 && s.dropped_oversize === 1;
    }, "B's counters");
    assert.deepEqual(got.sort(), [3, 4]);
    assert.equal(chB.stats.handler_errors, 2);
  } finally {
    await fleet.close();
  }
});

test("a lost manual peer is redialled after it restarts with the same data dir and port", async () => {
  const fleet = new Fleet();
  try {
    const clusterKey = generateClusterKey();
    const bDir = await fleet.dir();
    const b1 = await createHost({ dataDir: bDir, listenHost: "127.0.0.1", port: 0, clusterKey });
    const port = b1.port;
    const a = await fleet.start({ clusterKey, peers: [`127.0.0.1:${port}`], redial: { initialMs: 100, maxMs: 1000 } });
    const events: string[] = [];
    a.onPeer((e) => events.push(e.connected ? "up" : "down"));
    await waitFor(() => a.peers().includes(b1.peerId), "first connection");
    await b1.stop();
    await waitFor(() => !a.peers().includes(b1.peerId), "A to notice B is gone");
    const b2 = await fleet.start({ dataDir: bDir, clusterKey, port });
    assert.equal(b2.peerId, b1.peerId);
    await waitFor(() => a.peers().includes(b2.peerId), "A to redial B");
    assert.deepEqual(events.slice(-2), ["down", "up"]);
  } finally {
    await fleet.close();
  }
});
