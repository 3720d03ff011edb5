// Stages on a browser: a 2-node cluster plus a headless Chromium page (SwiftShader WebGPU) joined
// through n1 make 3 devices. Instances of stories260K hand-placed with a layer range on the page —
// one in the middle of a 3-stage pipeline (its neighbours: n0 over libp2p, and n1, the page's own
// relay, in-process), one with the page as the head — give exactly the greedy tokens of
// single-process `tessera generate`, for a chat completion and a plain one. A second tab of the same
// browser (the same device) then takes the device over: the first tab's stages die with its socket
// and are reported failed, and the device, on its new tab, takes the next placement. Closing the tab
// fails the page's runners. With no other device measured, the solver places a whole instance on the page.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { generateClusterKey } from "../net/index.js";
import { complete, createInstance, nodeIds, post, runnersOf, untilReady } from "../testing/api-client.js";
import { agreed, killAll, until } from "../testing/cluster-procs.js";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";
import { joinUrl } from "../api/join-link.js";
import { joinedDeviceId, launchWebGpuChromium, startTwoNodes } from "./browser-support.js";

const MAX_TOKENS = 24;

function reference(prompt: string, chat: boolean): number[] {
  const r = spawnSync(process.execPath, [TESSERA_BIN, "generate", "--model", STORIES_260K, "--prompt", prompt, "--max-tokens", String(MAX_TOKENS),
    "--temperature", "0", "--threads", "1", "--json", ...(chat ? ["--chat"] : [])], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { tokens: number[] }).tokens;
}

test("a browser page runs a layer range of stories260K in the cluster's pipeline and the tokens match a single process", { timeout: 300_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  const browser = await launchWebGpuChromium();
  try {
    const nodes = await startTwoNodes(tmp.dir, key);
    const [n0, n1] = await nodeIds(nodes);

    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    const collectErrors = (e: Error) => pageErrors.push(e.message);
    page.on("pageerror", collectErrors);
    const url = joinUrl("127.0.0.1", nodes[1].api, key);
    await page.goto(url);
    const web = await joinedDeviceId(page);
    await until(nodes, agreed(3), 30_000);

    await createInstance(nodes[0], STORIES_260K, [{ node_id: n0, start: 0, end: 2 }, { node_id: web, start: 2, end: 4 }, { node_id: n1, start: 4, end: 5 }], "middle");
    await createInstance(nodes[1], STORIES_260K, [{ node_id: web, start: 0, end: 3 }, { node_id: n0, start: 3, end: 5 }], "headed");
    await untilReady(nodes, ["middle", "headed"], 120_000);
    await page.waitForSelector("#layers:has-text('middle: layers 2–3')", { timeout: 10_000 });

    const chatPrompt = "Tell me a story about a cat.";
    const chat = await complete(nodes[0], "/v1/chat/completions", { model: "middle", messages: [{ role: "user", content: chatPrompt }], max_tokens: MAX_TOKENS, temperature: 0 });
    assert.equal(chat.status, 200, chat.error ?? "");
    assert.deepEqual(chat.tokens, reference(chatPrompt, true), "3 devices (n0, the page, n1) give the single-process chat tokens");

    const prompt = "Once upon a time";
    const plain = await complete(nodes[0], "/v1/completions", { model: "headed", prompt, max_tokens: MAX_TOKENS, temperature: 0 });
    assert.equal(plain.status, 200, plain.error ?? "");
    assert.deepEqual(plain.tokens, reference(prompt, false), "the page as the head's stage gives the single-process tokens");
    assert.equal(plain.tokens.length, MAX_TOKENS);
    t.diagnostic(`chat: ${JSON.stringify(chat.text)}; completion: ${JSON.stringify(plain.text)}`);
    t.diagnostic(`page: ${await page.textContent("#layers")}; ${await page.textContent("#speed")}; ${await page.textContent("#memory")}`);
    assert.match((await page.textContent("#memory")) ?? "", /MiB/);
    assert.deepEqual(pageErrors, []);

    // The same device from a second tab (same context, so the same stored secret): the node replaces
    // the first tab's socket (that tab is told and stops), and the stages that lived there are
    // reported failed: the pipelines through them are broken.
    const second = await context.newPage();
    second.on("pageerror", collectErrors);
    await second.goto(url);
    assert.equal(await joinedDeviceId(second), web);
    await page.waitForSelector('#status[data-state="error"]', { timeout: 30_000 });
    assert.match((await page.textContent("#status")) ?? "", /another tab/);
    await until(nodes, (states) => states.every((s) => {
      const runners = Object.values(runnersOf(s)).filter((r) => r.nodeId === web);
      return runners.length === 2 && runners.every((r) => r.status === "failed") && s.nodes[web]?.status === "alive";
    }), 30_000);
    await page.close();

    // Solver-placed: with telemetry off the nodes publish no profile, so the page (now its second tab),
    // measured on WebGPU, is the one device the solver can use, and the master places the whole model on it.
    const solved = await post(nodes[0], "/instance", { model: STORIES_260K, instance_id: "solved" });
    assert.equal(solved.status, 201, JSON.stringify(solved.body));
    assert.deepEqual((solved.body["placement"] as { node_id: string }[]).map((p) => p.node_id), [web], "the solver places it on the page");
    await untilReady(nodes, ["solved"], 120_000);
    const alone = await complete(nodes[1], "/v1/completions", { model: "solved", prompt, max_tokens: MAX_TOKENS, temperature: 0 });
    assert.equal(alone.status, 200, alone.error ?? "");
    assert.deepEqual(alone.tokens, reference(prompt, false), "the page alone, solver-placed, gives the single-process tokens");

    // The tab closes: the page's stages are reported failed, and the device times out.
    await second.close();
    await until(nodes, (states) => states.every((s) => {
      const runners = Object.values(runnersOf(s)).filter((r) => r.nodeId === web);
      return runners.length === 3 && runners.every((r) => r.status === "failed") && (s.nodes[web]?.status ?? "") !== "alive";
    }), 30_000);
  } finally {
    await browser.close();
    await killAll();
    tmp.cleanup();
  }
});
