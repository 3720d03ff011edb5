// A browser joins as a device: headless Chromium opens /join#key=... on one node of a 2-node cluster;
// that node vouches for it, and every node's /state shows it alive with its WebGPU profile (adapter,
// limits, measured rate, kind "webgpu" placement view, the serving node as relay). Hostile pages and
// raw sockets (wrong key, garbage, oversize or unmasked frames) are refused without harming the node.
// A closed tab times out; the Leave button leaves.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { generateClusterKey } from "../net/index.js";
import { nodeIds } from "../testing/api-client.js";
import { killAll, until, type StateView } from "../testing/cluster-procs.js";
import { tempDir } from "../testing/paths.js";
import { joinUrl } from "../api/join-link.js";
import { joinedDeviceId, launchWebGpuChromium, startTwoNodes } from "./browser-support.js";
import { encodeJoinFrame } from "./frame-codec.js";

interface DeviceView {
  status: string;
  name: string;
  device?: { relay?: string; kind?: string; adapter?: { limits?: Record<string, number> }; webgpu?: { q8_0GBs?: number }; placement?: { backends: { kind: string; weightBytesPerSec: number }[]; memoryBytes: number } };
}
const nodesOf = (s: StateView) => s.nodes as unknown as Record<string, DeviceView>;
const browsers = (s: StateView) => Object.entries(nodesOf(s)).filter(([id]) => id.startsWith("web-"));

/** Raw bytes on a fresh /join/socket connection after a valid handshake; resolves with what the node sent back. */
function rawSocket(port: number, frames: Buffer[]): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    s.on("connect", () => {
      s.write("GET /join/socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
      setTimeout(() => frames.forEach((f) => s.write(f)), 100);
    });
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("error", () => undefined);
    s.on("close", () => resolve(got));
    setTimeout(() => s.destroy(), 5_000);
  });
}

/** A masked client frame (mask 0, so the bytes go as they are). */
function masked(opcode: number, body: Buffer, claimLength?: bigint): Buffer {
  const head = claimLength !== undefined ? Buffer.alloc(10) : Buffer.alloc(2);
  head[0] = 0x80 | opcode;
  if (claimLength !== undefined) {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(claimLength, 2);
  } else {
    head[1] = 0x80 | body.length;
  }
  return Buffer.concat([head, Buffer.alloc(4), body]);
}

test("a browser tab joins through a node as a WebGPU device, survives hostile input, times out when closed and can leave", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  const browser = await launchWebGpuChromium();
  try {
    const nodes = await startTwoNodes(tmp.dir, key);
    const ids = await nodeIds(nodes);
    const serving = nodes[1];
    const url = joinUrl("127.0.0.1", serving.api, key);

    // A page with the wrong key is refused and never appears.
    const intruder = await browser.newPage();
    await intruder.goto(joinUrl("127.0.0.1", serving.api, "not-the-key"));
    await intruder.waitForSelector('#status[data-state="error"]', { timeout: 120_000 });
    assert.match((await intruder.textContent("#status")) ?? "", /cluster key/);
    await intruder.close();

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    const deviceId = await joinedDeviceId(page);
    assert.match(deviceId, /^web-[0-9a-f]{40}$/);
    const [s] = await until(nodes, (states) => states.every((st) => nodesOf(st)[deviceId]?.status === "alive" && nodesOf(st)[deviceId]?.device?.placement !== undefined), 60_000);
    const dev = nodesOf(s)[deviceId];
    t.diagnostic(`device ${deviceId}: ${JSON.stringify(dev.device?.placement)}`);
    assert.equal(dev.device?.relay, ids[1], "the serving node is its relay");
    assert.equal(dev.device?.kind, "browser");
    assert.deepEqual(dev.device?.placement?.backends.map((b) => b.kind), ["webgpu"]);
    assert.ok((dev.device?.placement?.backends[0].weightBytesPerSec ?? 0) > 0, "a measured rate");
    assert.ok((dev.device?.adapter?.limits?.["maxStorageBufferBindingSize"] ?? 0) > 0, "the adapter's limits");
    assert.equal(s.master_id === deviceId, false);
    assert.ok(ids.includes(s.master_id ?? ""), "a browser never becomes master");

    // Hostile input on the same node: none of it crashes the node or disturbs the device.
    const replies = await page.evaluate(async (host) => {
      const tries: (string | ArrayBuffer)[] = [
        "text, not a frame",
        new Uint8Array([1, 2, 3]).buffer,
        new Uint8Array([255, 255, 255, 127, 0]).buffer,
        new TextEncoder().encode("\u0004\u0000\u0000\u0000nope").buffer,
      ];
      const out: string[] = [];
      for (const data of tries) {
        out.push(await new Promise<string>((resolve) => {
          const ws = new WebSocket(`ws://${host}/join/socket`);
          ws.onopen = () => ws.send(data);
          ws.onclose = (e) => resolve(`closed ${e.code}`);
          setTimeout(() => resolve("still open"), 5_000);
        }));
      }
      return out;
    }, `127.0.0.1:${serving.api}`);
    assert.deepEqual(replies, ["closed 1008", "closed 1008", "closed 1008", "closed 1008"]);
    const wrongShape = encodeJoinFrame({ kind: "hello", key, secret: "zz", name: "x", profile: {} });
    const raw = await Promise.all([
      rawSocket(serving.api, [masked(2, Buffer.from(wrongShape))]),
      rawSocket(serving.api, [masked(2, Buffer.alloc(0), 1n << 40n)]),
      rawSocket(serving.api, [Buffer.from([0x82, 0x02, 1, 2])]),
      rawSocket(serving.api, [masked(2, Buffer.from(encodeJoinFrame({ kind: "heartbeat" })))]),
    ]);
    for (const r of raw) assert.match(r, /^HTTP\/1\.1 101/, "each got the handshake, then was closed");
    assert.equal((await fetch(`http://127.0.0.1:${serving.api}/join/socket`)).status, 404, "a plain GET is not a socket");
    await until(nodes, (states) => states.every((st) => nodesOf(st)[deviceId]?.status === "alive" && browsers(st).length === 1), 10_000);

    // A closed tab: the node stops vouching and the master times the device out.
    await page.close();
    await until(nodes, (states) => states.every((st) => nodesOf(st)[deviceId]?.status === "timed_out"), 30_000);

    // The same browser (same stored secret) comes back as the same device, then leaves with the button.
    const again = await context.newPage();
    await again.goto(url);
    assert.equal(await joinedDeviceId(again), deviceId);
    await until(nodes, (states) => states.every((st) => nodesOf(st)[deviceId]?.status === "alive"), 30_000);
    await again.click("#leave");
    await until(nodes, (states) => states.every((st) => nodesOf(st)[deviceId]?.status === "left"), 30_000);
    await context.close();
  } finally {
    await browser.close();
    await killAll();
    tmp.cleanup();
  }
});
