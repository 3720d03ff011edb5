// Real `tessera start` processes on 127.0.0.1 (ports chosen by the OS): convergence, master failover,
// restart with the same data dir, keys that keep strangers out, and a clean leave on SIGTERM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generateClusterKey } from "../net/index.js";
import { spawnSync } from "node:child_process";
import { TESSERA_BIN, tempDir } from "../testing/paths.js";
import { agreed, killAll, startNode, state, streamedIndexes, until, QUIET } from "../testing/cluster-procs.js";

test("five nodes converge; the master fails over; a restarted node keeps its id and catches up; strangers stay out", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const first = await startNode(join(tmp.dir, "n0"), [...QUIET, "--name", "n0", "--join", key]);
    const peer = ["--peer", `127.0.0.1:${first.port}`];
    const nodes = [first];
    for (let i = 1; i < 5; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), [...QUIET, "--name", `n${i}`, "--join", key, ...peer]));

    const converged = await until(nodes, agreed(5));
    assert.equal(new Set(converged.map((s) => s.master_id)).size, 1);

    // Strangers: another key, and an open node, never appear in the cluster's state.
    const stranger = await startNode(join(tmp.dir, "x"), [...QUIET, "--name", "stranger", "--join", generateClusterKey(), ...peer]);
    const open = await startNode(join(tmp.dir, "o"), [...QUIET, "--name", "open", "--open", ...peer]);
    await new Promise((r) => setTimeout(r, 3000));
    for (const s of await Promise.all(nodes.map(state))) {
      assert.equal(Object.keys(s.nodes).length, 5, "only the five keyed nodes are members");
    }
    stranger.proc.kill("SIGKILL");
    open.proc.kill("SIGKILL");

    // Kill the master outright; the others elect a new one in a higher term.
    const masterId = converged[0].master_id!;
    const ids = converged.map((s) => s.node_id);
    const victim = nodes[ids.indexOf(masterId)];
    const killedAt = Date.now();
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const survivors = nodes.filter((n) => n !== victim);
    const after = await until(survivors, (states) => agreed(4)(states) && states[0].master_id !== masterId);
    t.diagnostic(`re-election after SIGKILL of the master: ${Date.now() - killedAt} ms (master timeout 1500 ms)`);
    assert.ok(after[0].term > converged[0].term);
    assert.ok(after[0].last_event_index > converged[0].last_event_index);
    // No index missing or duplicated across the failover: the stream is exactly 0..last.
    const indexes = await streamedIndexes(survivors[0], after[0].last_event_index);
    assert.deepEqual(indexes, Array.from({ length: after[0].last_event_index + 1 }, (_, i) => i));

    // `tessera list` against a survivor shows every member with its status.
    const list = spawnSync(process.execPath, [TESSERA_BIN, "list", "--api", `http://127.0.0.1:${survivors[0].api}`, "--json"], { encoding: "utf8" });
    assert.equal(list.status, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { master_id: string; nodes: { status: string }[] };
    assert.equal(listed.master_id, after[0].master_id);
    assert.deepEqual(listed.nodes.map((n) => n.status).sort(), ["alive", "alive", "alive", "alive", "timed_out"]);

    // Restart the killed node with its data dir: same peer id, and it catches up.
    // No --peer: it redials the members its persisted log knows (the first node's address is gone).
    const back = await startNode(victim.dataDir, [...QUIET, "--name", "back"]);
    const rejoined = await until([...survivors, back], agreed(5));
    assert.equal(rejoined.at(-1)!.node_id, masterId, "the restarted node kept its peer id");

    // SIGTERM: the node leaves cleanly and exits 0; the others record NodeLeft.
    const leaver = survivors.find((n) => n !== survivors[0])!;
    const leaverId = (await state(leaver)).node_id;
    leaver.proc.kill("SIGTERM");
    assert.equal(await leaver.exited, 0);
    const rest = [...survivors.filter((n) => n !== leaver), back];
    const final = await until(rest, (states) => agreed(4)(states) && states[0].nodes[leaverId]?.status === "left");
    assert.equal(final[0].nodes[leaverId].status, "left");
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
