// A stage thread that crashes while its node stays up: its runner is reported failed within seconds,
// the master places the instance again without that node, and the stream resumes with exactly the
// output it would have had. The crash is real (an uncaught error kills the worker thread), set off by
// the chaos-testing hook: TESSERA_FAULT_INJECTION=1 and SIGUSR2 to the node.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { generateClusterKey } from "../net/index.js";
import { completeStreaming, nodeIds, post, untilReady } from "../testing/api-client.js";
import { agreed, killAll, startNode, state, until, type RunningNode } from "../testing/cluster-procs.js";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";

interface View {
  nodes: Record<string, { status: string; device?: { placement?: unknown } }>;
  instances: Record<string, { instanceId: string; placement: { nodeId: string }[]; replaces?: string }>;
  runners: Record<string, { status: string; error?: string }>;
}

test("a crashed stage thread is reported failed, its node stays, and the stream resumes on a new placement", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const prompt = "Once upon a time";
    const tokens = 100;
    const ref = spawnSync(process.execPath, [TESSERA_BIN, "generate", "--model", STORIES_260K, "--prompt", prompt, "--max-tokens", String(tokens), "--temperature", "0", "--json"], { encoding: "utf8" });
    const want = JSON.parse(ref.stdout) as { tokens: number[]; text: string };

    const env = { TESSERA_FAULT_INJECTION: "1" };
    const args = (i: number) => ["--name", `n${i}`, "--join", key, "--threads", "1", "--telemetry-ms", "500"];
    const nodes: RunningNode[] = [await startNode(join(tmp.dir, "n0"), args(0), env)];
    for (let i = 1; i < 4; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), [...args(i), "--peer", `127.0.0.1:${nodes[0].port}`], env));
    await until(nodes, agreed(4));
    const ids = await nodeIds(nodes);
    await until(nodes, (states) => states.every((s) => Object.values((s as unknown as View).nodes).every((n) => n.device?.placement !== undefined)), 60_000);

    const created = await post(nodes[0], "/instance", { model: STORIES_260K, instance_id: "crashy", constraints: { min_nodes: 3, max_nodes: 3 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await untilReady(nodes, ["crashy"]);
    const placed = ((await state(nodes[0])) as unknown as View).instances["crashy"].placement.map((p) => p.nodeId);
    const victimId = placed[1];
    const victim = nodes[ids.indexOf(victimId)];
    const apiNode = nodes[ids.indexOf(placed[0])];

    let signalled = 0;
    let noticedAfterMs: number | undefined;
    // How long until the cluster knows: the runner recorded failed, or already replaced.
    const watch = (async () => {
      while (signalled === 0) await new Promise((r) => setTimeout(r, 20));
      for (;;) {
        const s = (await state(apiNode)) as unknown as View;
        const runner = s.runners[`crashy#${victimId}`];
        if (runner?.status === "failed" || Object.values(s.instances).some((i) => i.replaces === "crashy")) return (noticedAfterMs = Date.now() - signalled);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const result = await completeStreaming(apiNode, "/v1/completions", { model: "crashy", prompt, max_tokens: tokens, temperature: 0 }, (n) => {
      if (n === 20) {
        signalled = Date.now();
        victim.proc.kill("SIGUSR2");
      }
    });
    assert.ok(signalled > 0, "the crash came mid-stream");
    await watch;
    assert.equal(result.error, undefined, String(result.error));
    assert.deepEqual(result.tokens, want.tokens, "the resumed stream equals the uninterrupted greedy output");
    assert.equal(result.text, want.text);

    const after = (await until(nodes, (states) => states.every((s) => Object.values((s as unknown as View).instances).some((i) => i.replaces === "crashy"))))[0] as unknown as View;
    assert.equal(after.nodes[victimId].status, "alive", "the node whose thread crashed stays in the cluster");
    const next = Object.values(after.instances).find((i) => i.replaces === "crashy")!;
    assert.ok(!next.placement.some((p) => p.nodeId === victimId), "the replacement leaves out the node whose runner failed");
    assert.equal(victim.proc.exitCode, null, "the node process is still running");

    // When was the failure recorded? The /events stream carries every applied event with its index.
    const res = await fetch(`http://127.0.0.1:${nodes[0].api}/events?since=0`);
    const reader = res.body!.getReader();
    let text = "";
    while (!/RunnerStatusUpdated[^\n]*"status":"failed"[^\n]*thread died|thread died[^\n]*"status":"failed"/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    const failedLine = text.split("\n").find((l) => l.includes("RunnerStatusUpdated") && l.includes("thread died"));
    assert.ok(failedLine, "a RunnerStatusUpdated failed event names the dead thread");
    assert.ok(failedLine.includes(victimId));
    t.diagnostic(`the cluster recorded the crash ${noticedAfterMs} ms after the signal; failure event: ${failedLine.slice(0, 240)}`);
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
