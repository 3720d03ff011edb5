// The engine in the page: headless Chromium (SwiftShader WebGPU) opens a node's /join page, loads
// stories260K's layers from that node with HTTP Range reads, and runs them as a two-stage chain; its
// greedy tokens equal the CPU backend's in Node, and its prompt logits are within a stated tolerance.
// The model route serves only names (instances, held models), only with the cluster key, one range.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { generate, loadModel } from "../engine/generate.js";
import { generateClusterKey } from "../net/index.js";
import { createInstance, nodeIds } from "../testing/api-client.js";
import { agreed, killAll, startNode, until } from "../testing/cluster-procs.js";
import { STORIES_260K, tempDir } from "../testing/paths.js";
import { launchWebGpuChromium } from "./browser-support.js";
import { GREEDY_SAMPLER } from "../engine/sampler.js";

const GREEDY = GREEDY_SAMPLER;
const MAX_TOKENS = 16;

interface CheckResult {
  adapter: string;
  tokens: number[];
  logits: number[];
  weightBytes: number;
}

test("the /join page loads stories260K's layers over Range reads and runs them on WebGPU like the CPU backend", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  const browser = await launchWebGpuChromium();
  try {
    const node = await startNode(join(tmp.dir, "n0"), ["--name", "n0", "--join", key, "--threads", "1", "--telemetry-ms", "0", "--probe-ms", "0"]);
    await until([node], agreed(1));
    const [id] = await nodeIds([node]);
    await createInstance(node, STORIES_260K, [{ node_id: id, start: 0, end: 5 }], "stories");
    await until([node], (states) => (states[0] as unknown as { instances: Record<string, unknown> }).instances["stories"] !== undefined);
    const base = `http://127.0.0.1:${node.api}`;

    // The model route: names only, the cluster key, one bounded range.
    const get = (path: string, headers: Record<string, string>) => fetch(base + path, { headers });
    const auth = { "x-tessera-cluster-key": key, range: "bytes=0-3" };
    const magic = await get("/join/model/stories", auth);
    assert.equal(magic.status, 206);
    assert.equal(new TextDecoder().decode(await magic.arrayBuffer()), "GGUF");
    assert.equal((await get("/join/model/stories", { range: "bytes=0-3" })).status, 401, "no key, no bytes");
    assert.equal((await get("/join/model/stories", { ...auth, "x-tessera-cluster-key": "wrong" })).status, 401);
    assert.equal((await get(`/join/model/${encodeURIComponent(STORIES_260K)}`, auth)).status, 404, "a path is not a name");
    assert.equal((await get("/join/model/%2e%2e%2fetc%2fpasswd", auth)).status, 404);
    assert.equal((await get("/join/model/stories", { ...auth, range: "bytes=0-1,4-5" })).status, 416);
    assert.equal((await get("/join/model/stories", { ...auth, range: "bytes=999999999-" })).status, 416);
    assert.equal((await get("/join/model/stories", { "x-tessera-cluster-key": key })).status, 416, "a range is required");
    assert.equal((await get("/join/nothing", {})).status, 404);

    const reference = await loadModel(STORIES_260K);
    const prompt = reference.tokenizer.encode("Once upon a time");
    const want = await generate(reference, prompt, { maxTokens: MAX_TOKENS, sampler: GREEDY });
    const wantLogits = await reference.transformer.forward(prompt, prompt.length, reference.transformer.newSequence(64));
    await reference.close();

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${base}/join#nojoin`);
    await page.waitForFunction(() => (globalThis as { tesseraPage?: unknown }).tesseraPage !== undefined);
    const got = await page.evaluate(
      async ([k, p, n]) => {
        const hooks = (globalThis as unknown as { tesseraPage: { engineCheck: (url: string, key: string, bounds: number[], prompt: number[], max: number) => Promise<CheckResult> } }).tesseraPage;
        return hooks.engineCheck("/join/model/stories", k, [0, 2, 5], p, n);
      },
      [key, prompt, MAX_TOKENS] as [string, number[], number],
    );
    t.diagnostic(`page adapter: ${got.adapter}; ${got.weightBytes} weight bytes on the GPU`);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(got.tokens, want.tokens, "two WebGPU stages in the page give the CPU backend's greedy tokens");
    // Same tolerance as the Node WebGPU test: the CPU attention sums values in f16, the WGSL kernel in
    // f32; stories260K's logits span about -10 to 18.
    const diff = got.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - wantLogits[i])), 0);
    assert.equal(got.logits.length, wantLogits.length);
    assert.ok(diff < 1e-2, `max logit difference ${diff}`);
  } finally {
    await browser.close();
    await killAll();
    tmp.cleanup();
  }
});
