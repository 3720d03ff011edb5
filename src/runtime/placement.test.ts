// Placement in a running cluster: nodes publish measured profiles, GET /instance/previews and
// `tessera place` show the solver's plans, POST /instance without a placement lets the master place the
// model, and the placed instance serves the same tokens as one process.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { generateClusterKey } from "../net/index.js";
import { complete, post, untilReady } from "../testing/api-client.js";
import { agreed, killAll, startNode, until, type RunningNode } from "../testing/cluster-procs.js";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";

interface PreviewsReply {
  previews: { placement: { node_id: string; start: number; end: number }[]; predicted: { tok_per_sec: number } }[];
  devices: { node_id: string; status: string }[];
  failure?: { reason: string };
}

test("previews, `tessera place` and POST /instance without a placement use the solver on measured devices", { timeout: 180_000 }, async () => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const args = ["--join", key, "--threads", "1", "--telemetry-ms", "500"];
    const first = await startNode(join(tmp.dir, "n0"), args);
    const nodes: RunningNode[] = [first];
    for (let i = 1; i < 3; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), [...args, "--peer", `127.0.0.1:${first.port}`]));
    await until(nodes, agreed(3));
    // Every node's measured profile reaches every node's state.
    await until(nodes, (states) => states.every((s) => Object.values(s.nodes).every((n) => (n as { device?: { placement?: unknown } }).device?.placement !== undefined)), 60_000);

    const res = await fetch(`http://127.0.0.1:${nodes[1].api}/instance/previews?model=${encodeURIComponent(STORIES_260K)}&count=3`);
    assert.equal(res.status, 200);
    const previews = (await res.json()) as PreviewsReply;
    assert.equal(previews.failure, undefined);
    assert.ok(previews.previews.length >= 2, "the best plan and at least one alternative");
    const best = previews.previews[0];
    assert.deepEqual(best.placement.map((s) => [s.start, s.end]), [[0, 5]], "a model that fits one device goes on one device");
    for (const alt of previews.previews.slice(1)) assert.ok(alt.predicted.tok_per_sec <= best.predicted.tok_per_sec);
    assert.equal(previews.devices.length, 3);

    // The CLI shows the same plans.
    const cli = spawnSync(process.execPath, [TESSERA_BIN, "place", "--model", STORIES_260K, "--api", `http://127.0.0.1:${nodes[2].api}`, "--json"], { encoding: "utf8" });
    assert.equal(cli.status, 0, cli.stderr);
    const fromCli = JSON.parse(cli.stdout) as PreviewsReply;
    assert.deepEqual(fromCli.previews[0].placement.map((s) => [s.start, s.end]), [[0, 5]]);

    // The master places it; the instance loads and serves.
    const created = await post(nodes[2], "/instance", { model: STORIES_260K, instance_id: "placed" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await untilReady(nodes, ["placed"]);
    const reference = spawnSync(process.execPath, [TESSERA_BIN, "generate", "--model", STORIES_260K, "--prompt", "Once upon a time", "--max-tokens", "16", "--temperature", "0", "--json"], { encoding: "utf8" });
    const got = await complete(nodes[0], "/v1/completions", { model: "placed", prompt: "Once upon a time", max_tokens: 16, temperature: 0 });
    assert.deepEqual(got.tokens, (JSON.parse(reference.stdout) as { tokens: number[] }).tokens);

    // Constraints that leave nothing: a clear refusal with the reason, and nothing is created.
    const ids = previews.devices.map((d) => d.node_id);
    const refused = await post(nodes[0], "/instance", { model: STORIES_260K, constraints: { excluded: ids } });
    assert.equal(refused.status, 422);
    assert.match(JSON.stringify(refused.body), /cannot place .*no_eligible_devices/);
    const missing = await fetch(`http://127.0.0.1:${nodes[0].api}/instance/previews?model=/nope.gguf`);
    assert.equal(missing.status, 400);
    assert.equal((await fetch(`http://127.0.0.1:${nodes[0].api}/instance/previews`)).status, 400);
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
