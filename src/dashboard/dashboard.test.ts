// The dashboard in a real browser (headless Chromium through playwright-core) against three real
// `tessera start` nodes holding stories260K as a 3-stage instance: three devices in the topology, each
// with its memory bar, the links' latency, the placement's layer ranges with a predicted rate, a chat
// answer streamed into the page equal to the API's own greedy answer, a new event shown without a
// reload, and a killed node's card marked lost within the node timeout. Then one keyed node: the page
// loads without the key and works once it is typed. Both open "Add a device" and check its join links
// (the loopback one with a note unkeyed, the LAN ones keyed). TESSERA_SCREENSHOTS=DIR saves the pictures that
// docs/img/ holds (`TESSERA_SCREENSHOTS=docs/img node scripts/run-tests.js dist/dashboard/dashboard.test`).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { generateClusterKey } from "../net/index.js";
import { complete, createInstance, nodeIds, untilReady } from "../testing/api-client.js";
import { agreed, killAll, startNode, until, type StateView } from "../testing/cluster-procs.js";
import { STORIES_260K, tempDir } from "../testing/paths.js";
import { joinHosts } from "../api/join-link.js";

const CHROMIUM = "/usr/bin/chromium";
const PROMPT = "Tell me a story";
const MAX_TOKENS = 24;
const NAMES = ["alpha", "beta", "gamma"];
// TIMING's --node-timeout-ms (3 s) and --master-timeout-ms (1.5 s), with room for a loaded machine:
// the longest a killed node may take to show as lost.
const LOST_WITHIN_MS = 3000 + 1500 + 10_000;

type Full = StateView & {
  edges: Record<string, { latencyMs?: number }>;
  nodes: Record<string, { status: string; device?: unknown }>;
};

/** TESSERA_SCREENSHOTS=DIR keeps a picture of the page as it is now (the viewport: the part people see first). */
async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env["TESSERA_SCREENSHOTS"];
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  // Typing into the chat scrolls the page; the picture starts at the top, where the graph is.
  await page.evaluate("window.scrollTo(0, 0)");
  await page.screenshot({ path: join(dir, name) });
}

test("dashboard in Chromium on 3 nodes: devices, link latency, placement, streamed chat, live event log, a lost node", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  let browser: Browser | undefined;
  try {
    const a = await startNode(join(tmp.dir, "a"), ["--name", NAMES[0], "--join", key, "--threads", "1", "--probe-ms", "1000"]);
    const b = await startNode(join(tmp.dir, "b"), ["--name", NAMES[1], "--join", key, "--threads", "1", "--probe-ms", "1000", "--peer", `127.0.0.1:${a.port}`]);
    const c = await startNode(join(tmp.dir, "c"), ["--name", NAMES[2], "--join", key, "--threads", "1", "--probe-ms", "1000", "--peer", `127.0.0.1:${a.port}`]);
    const nodes = [a, b, c];
    await until(nodes, agreed(3));
    const ids = await nodeIds(nodes);
    await createInstance(a, STORIES_260K, [{ node_id: ids[0], start: 0, end: 2 }, { node_id: ids[1], start: 2, end: 4 }, { node_id: ids[2], start: 4, end: 5 }], "stories-3");
    await untilReady(nodes, ["stories-3"]);
    // Profiles published and every link probed both ways (3 pairs, 6 directed edges), so the page has all it draws.
    await until(nodes, (states) => states.every((s) => {
      const f = s as Full;
      return Object.values(f.nodes).every((n) => n.device !== undefined) && Object.values(f.edges).filter((e) => e.latencyMs !== undefined).length === 6;
    }), 60_000);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    await page.goto(`http://127.0.0.1:${b.api}/`);

    // All three devices, by name, each with a memory bar that is partly filled.
    // Page-side checks are strings: this project's TypeScript has no DOM types.
    await page.waitForFunction(`document.querySelectorAll("#devices .device").length === 3`, undefined, { timeout: 30_000 });
    for (const [i, name] of NAMES.entries()) {
      const card = page.locator(`#devices .device[data-node-id="${ids[i]}"]`);
      assert.equal(await card.locator(".device-name").textContent(), name);
      assert.equal(await card.getAttribute("data-status"), "alive");
      const memory = card.locator('[data-role="memory"]');
      assert.match((await memory.textContent()) ?? "", /Memory[\d.]+ [KMGT]?B \/ [\d.]+ [KMGT]?B/);
      const filled = Number(await memory.locator(".bar").getAttribute("aria-valuenow"));
      assert.ok(filled > 0 && filled < 1, `memory fraction ${filled}`);
      assert.match((await card.locator(".os").textContent()) ?? "", /linux/);
      assert.match((await card.locator(".backend").textContent()) ?? "", /cpu/);
    }
    // The topology: three devices, by name, and a link between each pair labelled with its round-trip time.
    const graphNodes = page.locator("#topology .node");
    assert.equal(await graphNodes.count(), 3);
    const graphIds = [];
    for (let i = 0; i < 3; i++) graphIds.push(await graphNodes.nth(i).getAttribute("data-node-id"));
    assert.deepEqual(graphIds.sort(), [...ids].sort());
    await page.waitForFunction(`[...document.querySelectorAll("#topology .link .edge-label")].filter((e) => / ms$/.test(e.textContent)).length === 3`, undefined, { timeout: 30_000 });
    for (const label of await page.locator("#topology .link .edge-label").allTextContents()) {
      assert.match(label, /^\d+(\.\d+)? ms$/);
      assert.ok(Number.parseFloat(label) > 0);
    }

    // The instance's placement: all three stages, on the right devices, with their layer ranges.
    const instance = page.locator('#instances .instance[data-instance-id="stories-3"]');
    await instance.waitFor({ timeout: 30_000 });
    const stages = instance.locator(".stage");
    assert.equal(await stages.count(), 3);
    const shown = [];
    for (let i = 0; i < 3; i++) shown.push([await stages.nth(i).getAttribute("data-node-id"), await stages.nth(i).locator(".layers").textContent()]);
    assert.deepEqual(shown, [[ids[0], "layers [0, 2)"], [ids[1], "layers [2, 4)"], [ids[2], "layers [4, 5)"]]);
    await page.waitForFunction(`/tok\\/s$/.test(document.querySelector('.instance[data-instance-id="stories-3"] .predicted')?.textContent ?? "")`, undefined, { timeout: 30_000 });

    // A chat message, streamed into the page, reads exactly as the API's non-streamed greedy answer.
    await page.selectOption("#chat-model", "stories-3");
    await page.fill("#chat-max-tokens", String(MAX_TOKENS));
    await page.fill("#chat-temperature", "0");
    await page.fill("#chat-input", PROMPT);
    await page.click("#chat-send");
    const answer = page.locator('#chat-log .msg.assistant[data-done="true"]');
    await answer.waitFor({ timeout: 60_000 });
    const streamed = (await answer.textContent()) ?? "";
    const want = await complete(a, "/v1/chat/completions", { model: "stories-3", messages: [{ role: "user", content: PROMPT }], max_tokens: MAX_TOKENS, temperature: 0 });
    assert.equal(want.status, 200, want.error ?? "");
    assert.equal(want.tokens.length, MAX_TOKENS);
    assert.ok(streamed.length > 0);
    assert.equal(streamed, want.text);
    t.diagnostic(`streamed chat: ${JSON.stringify(streamed)}`);

    await screenshot(page, "dashboard.png");

    // A new event reaches the log (and the instance list) without a reload.
    await page.evaluate("window.loadedOnce = true");
    assert.equal(await page.locator('#events li[data-type="InstanceDeleted"]').count(), 0);
    const del = await fetch(`http://127.0.0.1:${a.api}/instance/stories-3`, { method: "DELETE" });
    assert.equal(del.status, 200);
    const logged = page.locator('#events li[data-type="InstanceDeleted"]');
    await logged.waitFor({ timeout: 30_000 });
    assert.match((await logged.textContent()) ?? "", /instance stories-3 deleted/);
    await page.locator('#instances .instance[data-instance-id="stories-3"]').waitFor({ state: "detached", timeout: 30_000 });
    assert.equal(await page.evaluate("window.loadedOnce"), true, "the page was not reloaded");


    // A node killed outright: within the node timeout (and an election, if it was the master) its card
    // and its place in the graph say it is lost, while the other two stay alive.
    const killed = Date.now();
    a.proc.kill("SIGKILL");
    await page.locator(`#devices .device[data-node-id="${ids[0]}"][data-status="timed_out"]`).waitFor({ timeout: LOST_WITHIN_MS });
    t.diagnostic(`the killed node's card showed lost ${Date.now() - killed} ms after the kill (node timeout 3000 ms)`);
    assert.equal(await page.locator(`#devices .device[data-node-id="${ids[0]}"] .status`).textContent(), "lost");
    assert.equal(await page.locator(`#topology .node[data-node-id="${ids[0]}"]`).getAttribute("data-status"), "timed_out");
    for (const i of [1, 2]) assert.equal(await page.locator(`#devices .device[data-node-id="${ids[i]}"]`).getAttribute("data-status"), "alive");
    await screenshot(page, "dashboard-node-lost.png");

    // "Add a device": without an API key the API listens on 127.0.0.1 only, so the one link is the
    // loopback one (carrying the cluster key), with a note saying how to let other devices in.
    await page.click("#add-device");
    const link = page.locator("#add-device-panel .join-link");
    await link.first().waitFor({ timeout: 30_000 });
    assert.equal(await link.count(), 1);
    assert.equal(await link.locator(".join-url").inputValue(), `http://127.0.0.1:${b.api}/join#key=${key}`);
    assert.match((await page.locator("#add-device-panel .join-note").textContent()) ?? "", /--api-key/);
    await page.waitForFunction(`document.querySelector("#add-device-panel .qr")?.naturalWidth > 0`, undefined, { timeout: 10_000 });
    await page.click("#add-device-close");
    assert.equal(await page.locator("#add-device-panel").isHidden(), true);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser?.close();
    await killAll();
    tmp.cleanup();
  }
});

test("with an API key the page loads without it, works once the key is typed (kept across reloads), and shows LAN join links", { timeout: 120_000 }, async () => {
  const tmp = tempDir();
  const apiKey = "dashboard-test-key";
  const clusterKey = generateClusterKey();
  let browser: Browser | undefined;
  try {
    const node = await startNode(join(tmp.dir, "k"), ["--name", "keyed", "--join", clusterKey, "--threads", "1", "--probe-ms", "0", "--api-key", apiKey]);
    const base = `http://127.0.0.1:${node.api}`;
    assert.equal((await fetch(`${base}/`)).status, 200);
    assert.equal((await fetch(`${base}/dashboard/app.js`)).status, 200);
    assert.equal((await fetch(`${base}/state`)).status, 401);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${base}/`);
    await page.locator("#error:not([hidden])").waitFor({ timeout: 30_000 });
    assert.match((await page.locator("#error").textContent()) ?? "", /API key/);
    assert.equal(await page.locator("#devices .device").count(), 0);

    await page.fill("#api-key", apiKey);
    await page.click("#key-form button");
    await page.locator('#devices .device .device-name:text-is("keyed")').waitFor({ timeout: 30_000 });
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator("#error").isHidden(), true);
    assert.ok((await page.locator("#events li").count()) > 0, "events arrive through the keyed stream");

    // The key stays in this browser's storage: a reload needs no typing.
    await page.reload();
    await page.locator('#devices .device .device-name:text-is("keyed")').waitFor({ timeout: 30_000 });
    assert.equal(await page.inputValue("#api-key"), apiKey);

    // "Add a device" asks /join-link with the key: keyed, the API listens on every interface, so the
    // links are this machine's LAN addresses (never opened here), each with the cluster key and a QR code.
    await page.click("#add-device");
    const links = page.locator("#add-device-panel .join-link");
    await links.first().waitFor({ timeout: 30_000 });
    const expected = joinHosts("0.0.0.0", networkInterfaces(), "127.0.0.1").hosts;
    assert.equal(await links.count(), expected.length);
    for (const [i, host] of expected.entries()) {
      assert.equal(await links.nth(i).getAttribute("data-address"), host);
      assert.equal(await links.nth(i).locator(".join-url").inputValue(), `http://${host}:${node.api}/join#key=${clusterKey}`);
    }
    await page.waitForFunction(`[...document.querySelectorAll("#add-device-panel .qr")].every((q) => q.naturalWidth > 0)`, undefined, { timeout: 10_000 });
    await links.first().locator("button.copy").click();
    await page.waitForFunction(`document.querySelector("#add-device-panel button.copy").textContent === "Copied"`, undefined, { timeout: 10_000 });
    await screenshot(page, "dashboard-add-device.png");
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser?.close();
    await killAll();
    tmp.cleanup();
  }
});
