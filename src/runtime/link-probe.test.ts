// Link probes: the pure rules, and one real probe between two libp2p hosts on 127.0.0.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { peerIdFromString } from "@libp2p/peer-id";
import { applyAll, EventSchema, initialState, LIMITS, type Event } from "../cluster/index.js";
import { createHost, generateClusterKey, type TesseraHost } from "../net/index.js";
import { removeDir, tempDir } from "../net/test-support.js";
import { linkEvents, median, MAX_PROBE_BYTES, PROBE_PROTOCOL, probeLink, probeTargets, serveProbe, throughputEstimate } from "./link-probe.js";

const state = (events: Event[]) => applyAll(initialState(), events.map((event, index) => ({ index, term: 1, event, origin: "m" })));
const join_ = (nodeId: string): Event => ({ type: "NodeJoined", nodeId, name: nodeId, addresses: [], at: 1 });

test("median, and throughput with the round trip taken off only when it is small beside the transfer", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  // 1 MB in 100 ms of which 10 ms were the round trip: 1 MB / 90 ms.
  assert.equal(throughputEstimate(1e6, 100, 10), 1e6 / 0.09);
  // The round trip is most of the elapsed time: not taken off (the estimate is then a lower bound).
  assert.equal(throughputEstimate(1e6, 15, 10), 1e6 / 0.015);
  assert.equal(throughputEstimate(1e6, 0, 0), 1e12, "a zero elapsed time is floored at 1 µs");
  assert.equal(throughputEstimate(1e12, 0, 0), LIMITS.maxThroughputBps);
});

test("targets: connected alive members other than self, only once self is a member", () => {
  const s = state([join_("me"), join_("b"), join_("c"), join_("d"), { type: "NodeTimedOut", nodeId: "d", at: 2 }]);
  assert.deepEqual(probeTargets(s, "me", ["c", "b", "d", "stranger"]), ["b", "c"]);
  assert.deepEqual(probeTargets(s, "newcomer", ["b"]), []);
});

test("a measurement creates the edge when missing, then records figures; values are clamped into the schema", () => {
  const s = state([join_("me"), join_("b")]);
  const m = { to: "b", latencyMs: 0.42, throughputBps: 1.2e9, at: 1_800_000_000_000.7 };
  const first = linkEvents(s, "me", m);
  assert.deepEqual(first.map((e) => e.type), ["TopologyEdgeCreated", "GPUBandwidthMeasured"]);
  const after = applyAll(s, first.map((event, i) => ({ index: s.lastEventIndex + 1 + i, term: 1, event, origin: "me" })));
  assert.deepEqual(after.edges["me->b"], { from: "me", to: "b", latencyMs: 0.42, throughputBps: 1.2e9, measuredAt: 1_800_000_000_001 });
  assert.deepEqual(linkEvents(after, "me", m).map((e) => e.type), ["GPUBandwidthMeasured"]);
  const wild = linkEvents(s, "me", { to: "b", latencyMs: 1e12, throughputBps: -5, at: 1 });
  for (const e of wild) assert.ok(EventSchema.safeParse(e).success);
  assert.equal((wild[1] as { latencyMs: number }).latencyMs, LIMITS.maxLatencyMs);
});

test("a real probe over libp2p between two hosts on 127.0.0.1; the server refuses an oversized probe", { timeout: 60_000 }, async (t) => {
  const dir = await tempDir();
  const key = generateClusterKey();
  const hosts: TesseraHost[] = [];
  try {
    for (const name of ["a", "b"]) hosts.push(await createHost({ dataDir: join(dir, name), clusterKey: key, listenHost: "127.0.0.1", port: 0, mdns: false, broadcast: false }));
    const [a, b] = hosts;
    await b.node.handle(PROBE_PROTOCOL, (stream) => void serveProbe(stream));
    await a.dial(`127.0.0.1:${b.port}`);
    const m = await probeLink(a, b.peerId, 256 * 1024);
    assert.equal(m.to, b.peerId);
    assert.ok(m.latencyMs > 0 && m.latencyMs < 1000, `latency ${m.latencyMs} ms`);
    assert.ok(m.throughputBps > 1e5, `throughput ${m.throughputBps} B/s`);
    t.diagnostic(`loopback probe: RTT ${m.latencyMs.toFixed(3)} ms, ${(m.throughputBps / 1e6).toFixed(1)} MB/s`);

    await assert.rejects(probeLink(a, b.peerId, MAX_PROBE_BYTES + 1));
    // After a refused probe the link still serves good ones.
    const again = await probeLink(a, b.peerId, 1024);
    assert.ok(again.latencyMs > 0);
    // A peer that does not speak the protocol: a failure, not a hang.
    await b.node.unhandle(PROBE_PROTOCOL);
    await assert.rejects(probeLink(a, peerIdFromString(b.peerId).toString(), 1024));
  } finally {
    for (const h of hosts) await h.stop();
    await removeDir(dir);
  }
});
