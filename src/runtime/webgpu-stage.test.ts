// A node started with --backend webgpu runs its stages on WebGPU (llvmpipe on CI, a real GPU where
// there is one), publishes that backend's measured rate in its profile, and a pipeline with one stage
// on WebGPU and one on the CPU gives the single-process greedy tokens.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { generateClusterKey } from "../net/index.js";
import { complete, createInstance, nodeIds, untilReady } from "../testing/api-client.js";
import { agreed, killAll, startNode, until, type RunningNode } from "../testing/cluster-procs.js";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";

interface View {
  nodes: Record<string, { device?: { placement?: { backends: { kind: string; weightBytesPerSec: number }[] }; webgpu?: { adapter: string } } }>;
}

interface Telemetry {
  nodes: Record<string, { telemetry?: { cpu?: { utilisation?: number; ownUtilisation?: number } } }>;
}

test("a stage on WebGPU next to a stage on the CPU gives the single-process tokens; the GPU rate is in the profile", { timeout: 180_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const prompt = "Once upon a time";
    const ref = spawnSync(process.execPath, [TESSERA_BIN, "generate", "--model", STORIES_260K, "--prompt", prompt, "--max-tokens", "24", "--temperature", "0", "--json"], { encoding: "utf8" });
    const want = JSON.parse(ref.stdout) as { tokens: number[] };
    const nodes: RunningNode[] = [await startNode(join(tmp.dir, "cpu"), ["--name", "cpu", "--join", key, "--threads", "1", "--telemetry-ms", "500"])];
    nodes.push(await startNode(join(tmp.dir, "gpu"), ["--name", "gpu", "--join", key, "--threads", "1", "--telemetry-ms", "500", "--backend", "webgpu", "--peer", `127.0.0.1:${nodes[0].port}`]));
    await until(nodes, agreed(2));
    const ids = await nodeIds(nodes);
    const [s] = await until(nodes, (states) => states.every((st) => (st as unknown as View).nodes[ids[1]].device?.placement !== undefined), 90_000);
    const gpuNode = (s as unknown as View).nodes[ids[1]].device!;
    const webgpu = gpuNode.placement!.backends.find((b) => b.kind === "webgpu");
    assert.ok(webgpu && webgpu.weightBytesPerSec > 0, `the WebGPU node publishes a measured WebGPU rate: ${JSON.stringify(gpuNode.placement)}`);
    assert.ok((gpuNode.webgpu?.adapter ?? "").length > 0, "and names its adapter");
    const cpuOnly = (s as unknown as View).nodes[ids[0]].device?.placement?.backends.map((b) => b.kind);
    assert.ok(cpuOnly === undefined || !cpuOnly.includes("webgpu"), "a CPU node publishes no WebGPU rate");
    assert.deepEqual(gpuNode.placement!.backends.map((b) => b.kind), ["webgpu"], "it plans with the backend its stages run on");
    const cpuRate = (s as unknown as View).nodes[ids[0]].device!.placement!.backends[0].weightBytesPerSec;
    t.diagnostic(`WebGPU node: ${gpuNode.webgpu?.adapter}, ${(webgpu.weightBytesPerSec / 1e9).toFixed(3)} GB/s of Q8_0 weights; CPU node ${(cpuRate / 1e9).toFixed(3)} GB/s`);

    // The solver follows the measurements: the slower device gets no layers when one device suffices,
    // and the smaller share when two are required. It also derates a device by the CPU load of other
    // work, and on a 2-core machine the GPU node's own start (llvmpipe runs on the CPU) is such work
    // for the CPU node: compare once that load has passed.
    await until(nodes, (states) => states.every((st) => {
      const cpu = (st as unknown as Telemetry).nodes[ids[0]].telemetry?.cpu;
      return cpu?.utilisation !== undefined && cpu.utilisation - (cpu.ownUtilisation ?? 0) < 0.5;
    }), 90_000);
    const previews = async (query: string) => ((await (await fetch(`http://127.0.0.1:${nodes[0].api}/instance/previews?model=${encodeURIComponent(STORIES_260K)}${query}`)).json()) as { previews: { placement: { node_id: string; start: number; end: number }[] }[] }).previews[0].placement;
    const [fasterId, slowerId] = cpuRate >= webgpu.weightBytesPerSec ? [ids[0], ids[1]] : [ids[1], ids[0]];
    const best = await previews("");
    assert.deepEqual(best.map((p) => p.node_id), [fasterId], `one device suffices: the faster one (${JSON.stringify(best)})`);
    const two = await previews("&min_nodes=2");
    const layers = (id: string) => two.filter((p) => p.node_id === id).reduce((n, p) => n + p.end - p.start, 0);
    assert.ok(layers(slowerId) <= layers(fasterId), `with two devices the slower holds fewer layers: ${JSON.stringify(two)}`);

    await createInstance(nodes[0], STORIES_260K, [{ node_id: ids[0], start: 0, end: 2 }, { node_id: ids[1], start: 2, end: 5 }], "mixed");
    await untilReady(nodes, ["mixed"], 120_000);
    const out = await complete(nodes[0], "/v1/completions", { model: "mixed", prompt, max_tokens: 24, temperature: 0 });
    assert.equal(out.status, 200);
    assert.deepEqual(out.tokens, want.tokens, "CPU stage → WebGPU stage gives the single-process greedy tokens");
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
