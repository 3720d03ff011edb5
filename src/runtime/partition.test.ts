// Two halves that each elected a master (a partition, or devices that started apart) meet: one master
// remains, and the loser's log is replaced by the winner's, so every node ends with the same state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generateClusterKey } from "../net/index.js";
import { tempDir } from "../testing/paths.js";
import { agreed, killAll, startNode, until, QUIET } from "../testing/cluster-procs.js";

test("two separately elected masters merge into one cluster with one log", { timeout: 120_000 }, async () => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const a = await startNode(join(tmp.dir, "a"), [...QUIET, "--name", "a", "--join", key]);
    const b = await startNode(join(tmp.dir, "b"), [...QUIET, "--name", "b", "--join", key]);
    const [sa] = await until([a], agreed(1));
    const [sb] = await until([b], agreed(1));
    assert.notEqual(sa.master_id, sb.master_id, "each half has its own master");

    // A bridge that knows both halves heals the split.
    const bridge = await startNode(join(tmp.dir, "c"), [...QUIET, "--name", "c", "--join", key, "--peer", `127.0.0.1:${a.port}`, "--peer", `127.0.0.1:${b.port}`]);
    const merged = await until([a, b, bridge], agreed(3), 60_000);
    assert.ok([sa.master_id, sb.master_id].includes(merged[0].master_id), "one of the two masters remains");
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
