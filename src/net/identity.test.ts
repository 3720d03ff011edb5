import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { IDENTITY_FILE, loadOrCreateIdentity } from "./identity.js";
import { IdentityError } from "./errors.js";
import { createHost } from "./host.js";
import { generateClusterKey } from "./cluster-key.js";
import { removeDir, tempDir } from "./test-support.js";

test("identity is created once (mode 0600, no temp files left) and loaded again", async () => {
  const dir = await tempDir();
  try {
    const a = await loadOrCreateIdentity(dir);
    assert.match(a.peerId, /^12D3KooW/);
    assert.equal(a.privateKey.type, "Ed25519");
    const st = await stat(join(dir, IDENTITY_FILE));
    assert.equal(st.mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), [IDENTITY_FILE]);
    const b = await loadOrCreateIdentity(dir);
    assert.equal(b.peerId, a.peerId);
    const other = await tempDir();
    try {
      assert.notEqual((await loadOrCreateIdentity(other)).peerId, a.peerId);
    } finally {
      await removeDir(other);
    }
  } finally {
    await removeDir(dir);
  }
});

test("a corrupt identity file is an IdentityError, not a silent new identity", async () => {
  const dir = await tempDir();
  try {
    await writeFile(join(dir, IDENTITY_FILE), "not a key");
    await assert.rejects(loadOrCreateIdentity(dir), IdentityError);
  } finally {
    await removeDir(dir);
  }
});

test("a restarted host keeps its peer id", async () => {
  const dir = await tempDir();
  const clusterKey = generateClusterKey();
  try {
    const first = await createHost({ dataDir: dir, listenHost: "127.0.0.1", clusterKey });
    const id = first.peerId;
    assert.ok(first.multiaddrs.every((m) => m.endsWith(`/p2p/${id}`)));
    await first.stop();
    const second = await createHost({ dataDir: dir, listenHost: "127.0.0.1", clusterKey });
    try {
      assert.equal(second.peerId, id);
    } finally {
      await second.stop();
    }
  } finally {
    await removeDir(dir);
  }
});
