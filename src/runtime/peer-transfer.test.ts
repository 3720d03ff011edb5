// Shards from peers: three nodes with their own models directories, only one holding the model. Placing
// it across all three makes the other two fetch only their layers' tensors from the holder (the holder's
// byte count, the fetchers' progress events and their disk blocks show it), and the generation then
// equals single-process output. A node holding only its shard relays a /join page's range reads from
// the holder.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { generateClusterKey } from "../net/index.js";
import { complete, nodeIds, post, untilReady } from "../testing/api-client.js";
import { agreed, killAll, startNode, state, until, type RunningNode } from "../testing/cluster-procs.js";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";

interface View {
  nodes: Record<string, {
    device?: { placement?: unknown };
    models?: { name: string; tensorManifest?: string }[];
    downloads?: Record<string, { status: string; bytesDone: number; bytesTotal: number; source: string }>;
  }>;
  instances: Record<string, { placement: { nodeId: string; start: number; end: number }[] }>;
}

test("nodes without the model fetch only their shard from the holder, the output matches, and a shard holder relays page reads", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const prompt = "Once upon a time";
    const ref = spawnSync(process.execPath, [TESSERA_BIN, "generate", "--model", STORIES_260K, "--prompt", prompt, "--max-tokens", "32", "--temperature", "0", "--json"], { encoding: "utf8" });
    const want = JSON.parse(ref.stdout) as { tokens: number[]; text: string };

    const dirs = [0, 1, 2].map((i) => join(tmp.dir, `models${i}`));
    for (const d of dirs) mkdirSync(d, { recursive: true });
    // The holder's own copy, in a temporary models directory (never in the repository).
    copyFileSync(STORIES_260K, join(dirs[0], "stories260K.gguf"));
    const size = statSync(STORIES_260K).size;

    const args = (i: number) => ["--name", `n${i}`, "--join", key, "--threads", "1", "--models-dir", dirs[i], "--telemetry-ms", "500"];
    const nodes: RunningNode[] = [await startNode(join(tmp.dir, "n0"), args(0))];
    for (let i = 1; i < 3; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), [...args(i), "--peer", `127.0.0.1:${nodes[0].port}`]));
    await until(nodes, agreed(3));
    const ids = await nodeIds(nodes);
    // Profiles in (the solver needs them) and the holder's model list with its tensor manifest.
    await until(nodes, (states) => states.every((s) => {
      const v = s as unknown as View;
      return Object.values(v.nodes).every((n) => n.device?.placement !== undefined) && v.nodes[ids[0]].models?.some((m) => m.name === "stories260K.gguf" && m.tensorManifest) === true;
    }), 60_000);
    const before = (await state(nodes[1])) as unknown as View;
    assert.deepEqual(before.nodes[ids[1]].models ?? [], [], "the other nodes hold no model");

    const created = await post(nodes[0], "/instance", { model: "stories260K.gguf", instance_id: "shared", constraints: { min_nodes: 3, max_nodes: 3 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await untilReady(nodes, ["shared"], 120_000);

    const s = (await until(nodes, (states) => states.every((st) => [1, 2].every((i) => (st as unknown as View).nodes[ids[i]].downloads?.["stories260K.gguf"]?.status === "done"))))[0] as unknown as View;
    const placement = s.instances["shared"].placement;
    assert.equal(placement.length, 3);
    let fetched = 0;
    for (const i of [1, 2]) {
      const d = s.nodes[ids[i]].downloads!["stories260K.gguf"];
      const slice = placement.find((p) => p.nodeId === ids[i])!;
      assert.equal(d.source, "peer");
      assert.equal(d.bytesDone, d.bytesTotal);
      assert.ok(d.bytesTotal > 0 && d.bytesTotal < size, `node ${i} (layers [${slice.start}, ${slice.end})) fetched ${d.bytesTotal} of ${size} bytes`);
      fetched += d.bytesTotal;
      // A sparse file: only the shard's bytes take disk blocks.
      const partial = statSync(join(dirs[i], "stories260K.gguf.partial"));
      assert.ok(partial.blocks * 512 < size, `node ${i} stores ${partial.blocks * 512} bytes on disk for a ${size}-byte model`);
      t.diagnostic(`node ${i}, layers [${slice.start}, ${slice.end}): fetched ${d.bytesTotal} bytes, ${partial.blocks * 512} on disk, of a ${size}-byte model`);
    }
    const served = ((await (await fetch(`http://127.0.0.1:${nodes[0].api}/runners`)).json()) as { model_bytes_served: number }).model_bytes_served;
    assert.equal(served, fetched, "the holder sent exactly what the two shards needed");

    const out = await complete(nodes[2], "/v1/completions", { model: "shared", prompt, max_tokens: 32, temperature: 0 });
    assert.equal(out.status, 200);
    assert.deepEqual(out.tokens, want.tokens, "the pipeline over fetched shards gives the single-process tokens");

    // A /join page may join through a node that holds only its own shard: that node relays the
    // page's range reads from the holder. Ranges across the header, the middle and the end of the file.
    const file = readFileSync(STORIES_260K);
    const read = (node: RunningNode, name: string, range: string, method = "GET") =>
      fetch(`http://127.0.0.1:${node.api}/join/model/${encodeURIComponent(name)}`, { method, headers: { "x-tessera-cluster-key": key, range } });
    const servedBefore = ((await (await fetch(`http://127.0.0.1:${nodes[0].api}/runners`)).json()) as { model_bytes_served: number }).model_bytes_served;
    let relayed = 0;
    for (const [name, a, b] of [["shared", 0, 4095], ["stories260K.gguf", 300_000, 700_123], ["shared", size - 1000, size - 1]] as const) {
      const res = await read(nodes[1], name, `bytes=${a}-${b}`);
      assert.equal(res.status, 206, await res.clone().text().catch(() => ""));
      assert.equal(res.headers.get("content-range"), `bytes ${a}-${b}/${size}`);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(file.subarray(a, b + 1)), `bytes ${a}-${b} relayed as they are in the file`);
      relayed += b - a + 1;
    }
    const servedAfter = ((await (await fetch(`http://127.0.0.1:${nodes[0].api}/runners`)).json()) as { model_bytes_served: number }).model_bytes_served;
    assert.equal(servedAfter - servedBefore, relayed, "every relayed byte came from the holder");
    const head = await read(nodes[2], "shared", "bytes=10-19", "HEAD");
    assert.equal(head.status, 206);
    assert.equal(head.headers.get("content-length"), "10");
    assert.equal((await read(nodes[1], "shared", `bytes=${size}-`)).status, 416, "a range past the end is refused before any peer is asked");
    assert.equal((await read(nodes[1], "nothing-by-this-name", "bytes=0-3")).status, 404);
    t.diagnostic(`relayed ${relayed} bytes through a node holding only its shard`);

    // With the holder gone, the relay fails with a clear error (502 while the holder still looks alive, 404 once it is gone).
    nodes[0].proc.kill("SIGKILL");
    const orphan = await read(nodes[1], "shared", "bytes=0-3");
    assert.ok([404, 502].includes(orphan.status), `status ${orphan.status}`);
    const why = ((await orphan.json()) as { error: { message: string } }).error.message;
    assert.match(why, /peer/);
    t.diagnostic(`with the holder killed: ${orphan.status} ${why.slice(0, 160)}`);
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
