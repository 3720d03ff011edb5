import { test } from "node:test";
import assert from "node:assert/strict";
import { stat, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CLUSTER_KEY_FILE,
  clusterHint,
  generateClusterKey,
  loadClusterKey,
  loadOrCreateClusterKey,
  parseClusterKey,
  toSwarmKey,
} from "./cluster-key.js";
import { ClusterKeyError } from "./errors.js";
import { removeDir, tempDir } from "./test-support.js";

test("generated keys are tsk_ + 43 base64url chars, distinct, and parse to 32 bytes", () => {
  const a = generateClusterKey();
  const b = generateClusterKey();
  assert.match(a, /^tsk_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
  assert.equal(parseClusterKey(a).length, 32);
  assert.equal(parseClusterKey(`  ${a}\n`).length, 32, "surrounding whitespace from copy-paste is ignored");
});

test("malformed keys are rejected with ClusterKeyError", () => {
  const good = generateClusterKey();
  for (const bad of ["", "tsk_", good.slice(4), `tsx_${good.slice(4)}`, good.slice(0, -1), `${good}A`, `${good.slice(0, -1)}+`]) {
    assert.throws(() => parseClusterKey(bad), ClusterKeyError, JSON.stringify(bad));
  }
  // Non-canonical: the last base64url char carries 2 padding bits that must be zero.
  const body = "A".repeat(42) + "B";
  assert.throws(() => parseClusterKey(`tsk_${body}`), ClusterKeyError);
  assert.equal(parseClusterKey(`tsk_${"A".repeat(42)}E`).length, 32);
});

test("swarm key is the pnet v1 text format carrying the same 32 bytes in hex", () => {
  const key = generateClusterKey();
  const text = new TextDecoder().decode(toSwarmKey(key));
  const lines = text.split("\n");
  assert.equal(lines[0], "/key/swarm/psk/1.0.0/");
  assert.equal(lines[1], "/base16/");
  assert.equal(lines[2], Buffer.from(parseClusterKey(key)).toString("hex"));
  assert.equal(lines.length, 3);
});

test("cluster hint is short, stable, differs between keys and does not contain the key", () => {
  const key = generateClusterKey();
  const hint = clusterHint(key);
  assert.match(hint, /^[0-9a-f]{8}$/);
  assert.equal(clusterHint(key), hint);
  assert.notEqual(clusterHint(generateClusterKey()), hint);
  const hex = Buffer.from(parseClusterKey(key)).toString("hex");
  assert.ok(!hex.includes(hint) && !key.includes(hint));
});

test("cluster key persists in the data dir with mode 0600", async () => {
  const dir = await tempDir();
  try {
    assert.equal(await loadClusterKey(dir), undefined);
    const first = await loadOrCreateClusterKey(dir);
    assert.equal(first.created, true);
    const again = await loadOrCreateClusterKey(dir);
    assert.deepEqual(again, { key: first.key, created: false });
    const st = await stat(join(dir, CLUSTER_KEY_FILE));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal((await readFile(join(dir, CLUSTER_KEY_FILE), "utf8")).trim(), first.key);
    await writeFile(join(dir, CLUSTER_KEY_FILE), "garbage\n");
    await assert.rejects(loadClusterKey(dir), ClusterKeyError);
  } finally {
    await removeDir(dir);
  }
});
