// A /join page comes back by itself: headless Chromium (SwiftShader WebGPU) joins through one node of a
// 2-node cluster, that node is killed outright (its sockets die with it) and the master times both out;
// the page shows it is reconnecting, and once the node is started again on the same data dir and API
// port the page rejoins with the same device id: the master records it joining again and the node
// republishes its profile. A node stopped (SIGSTOP: silent, nothing closed) is given up on by the
// page's watchdog, which reconnects once it runs again. A second tab of the same browser then takes the device over (the first is
// told so and stops instead of fighting back), and Leave in the second makes it leave.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { generateClusterKey } from "../net/index.js";
import { nodeIds } from "../testing/api-client.js";
import { agreed, killAll, startNode, streamedEvents, until, type StateView } from "../testing/cluster-procs.js";
import { tempDir } from "../testing/paths.js";
import { joinUrl } from "../api/join-link.js";
import { joinedDeviceId, launchWebGpuChromium, QUIET_JOIN_NODE } from "./browser-support.js";

interface DeviceView {
  status: string;
  device?: { relay?: string; collectedAt?: number };
}
const nodesOf = (s: StateView) => s.nodes as unknown as Record<string, DeviceView>;

test("a /join page reconnects by itself with the same device id after its node restarts, and a second tab takes over", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  const browser = await launchWebGpuChromium();
  try {
    const quiet = ["--join", key, ...QUIET_JOIN_NODE];
    const first = await startNode(join(tmp.dir, "n0"), ["--name", "n0", ...quiet]);
    const servingArgs = ["--name", "n1", ...quiet, "--peer", `127.0.0.1:${first.port}`];
    let serving = await startNode(join(tmp.dir, "n1"), servingArgs);
    await until([first, serving], agreed(2));
    const ids = await nodeIds([first, serving]);
    const url = joinUrl("127.0.0.1", serving.api, key);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    const deviceId = await joinedDeviceId(page);
    assert.match(deviceId, /^web-[0-9a-f]{40}$/);
    const [before] = await until([first, serving], (states) => states.every((s) => nodesOf(s)[deviceId]?.status === "alive" && nodesOf(s)[deviceId]?.device?.relay === ids[1]), 60_000);
    const firstProfileAt = nodesOf(before)[deviceId].device?.collectedAt;

    // The serving node dies with the page's socket: the page says it is reconnecting, and the
    // remaining node (master now, if it was not) times out both the node and the device.
    serving.proc.kill("SIGKILL");
    await serving.exited;
    await page.waitForSelector('#status[data-state="reconnecting"]', { timeout: 30_000 });
    assert.match((await page.textContent("#status")) ?? "", /reconnect/i);
    await until([first], ([s]) => nodesOf(s)[deviceId]?.status === "timed_out" && nodesOf(s)[ids[1]]?.status === "timed_out", 30_000);

    // The same node again (same data dir, so the same id; same API port, so the page's URL still works).
    serving = await startNode(serving.dataDir, [...servingArgs, "--api-port", String(serving.api)]);
    assert.deepEqual(await nodeIds([serving]), [ids[1]]);
    assert.equal(await joinedDeviceId(page, 60_000), deviceId, "the same stored secret, so the same device");
    assert.equal(await page.evaluate("tesseraPage.client.welcomes"), 2, "welcomed again on the same page, without a reload");
    const [after] = await until([first, serving], (states) => states.every((s) => {
      const d = nodesOf(s)[deviceId];
      return d?.status === "alive" && d.device?.relay === ids[1] && d.device.collectedAt !== firstProfileAt;
    }), 60_000);
    // Timed out and back: the log has it joining twice, like any node that returns.
    const log = (await streamedEvents(first, after.last_event_index)) as { index: number; event: { type: string; nodeId?: string } }[];
    const mine = log.filter((e) => e.event.nodeId === deviceId).map((e) => e.event.type);
    t.diagnostic(`the device's events: ${mine.join(", ")}`);
    assert.equal(mine.filter((type) => type === "NodeJoined").length, 2);
    assert.ok(mine.indexOf("NodeTimedOut") > mine.indexOf("NodeJoined"), "timed out after the first join");
    assert.ok(mine.lastIndexOf("NodeJoined") > mine.indexOf("NodeTimedOut"), "joined again after timing out");

    // A node that goes silent without closing anything (stopped, like a laptop with its lid shut): the
    // page's watchdog gives up on the open-looking socket and reconnects once the node runs again.
    serving.proc.kill("SIGSTOP");
    try {
      await page.waitForSelector('#status[data-state="reconnecting"]', { timeout: 60_000 });
    } finally {
      serving.proc.kill("SIGCONT");
    }
    assert.equal(await joinedDeviceId(page, 60_000), deviceId);
    assert.equal(await page.evaluate("tesseraPage.client.welcomes"), 3);
    await until([first, serving], (states) => states.every((s) => nodesOf(s)[deviceId]?.status === "alive" && nodesOf(s)[ids[1]]?.status === "alive"), 60_000);

    // A second tab of the same browser is the same device: it takes the socket over, and the first
    // tab is told so and stops (it does not reconnect and take it back).
    const second = await context.newPage();
    await second.goto(url);
    assert.equal(await joinedDeviceId(second), deviceId);
    await page.waitForSelector('#status[data-state="error"]', { timeout: 30_000 });
    assert.match((await page.textContent("#status")) ?? "", /another tab/);
    assert.equal(await page.evaluate("tesseraPage.client.welcomes"), 3);
    await until([first, serving], (states) => states.every((s) => nodesOf(s)[deviceId]?.status === "alive"), 30_000);

    // Leave: the device leaves, and no page brings it back.
    await second.click("#leave");
    await second.waitForSelector('#status[data-state="left"]', { timeout: 10_000 });
    await until([first, serving], (states) => states.every((s) => nodesOf(s)[deviceId]?.status === "left"), 30_000);
    assert.equal(await second.evaluate("tesseraPage.client.welcomes"), 1);
    await context.close();
  } finally {
    await browser.close();
    await killAll();
    tmp.cleanup();
  }
});
