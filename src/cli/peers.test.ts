// `tessera send` and `tessera ping` between two real nodes: the message shows up in the peer's log
// (its stderr), ping reports round trips and throughput, and mistakes are one-line errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { generateClusterKey } from "../net/cluster-key.js";
import { agreed, killAll, QUIET, startNode, until } from "../testing/cluster-procs.js";
import { nodeIds } from "../testing/api-client.js";
import { TESSERA_BIN, tempDir } from "../testing/paths.js";

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The CLI as a user runs it, with a HOME of its own so no personal config file takes part. */
function tessera(home: string, env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TESSERA_BIN, ...args], { env: { ...process.env, HOME: home, TESSERA_CONFIG: "", ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

async function waitForText(read: () => string, text: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!read().includes(text)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${JSON.stringify(text)} in: ${read()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("send is echoed in the peer's log; ping reports round trips and throughput; mistakes are one line", { timeout: 180_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const a = await startNode(join(tmp.dir, "a"), ["--name", "alpha", "--join", key, ...QUIET]);
    const b = await startNode(join(tmp.dir, "b"), ["--name", "beta", "--join", key, "--peer", `127.0.0.1:${a.port}`, ...QUIET]);
    let bLog = "";
    b.proc.stderr!.on("data", (chunk: Buffer) => (bLog += chunk.toString()));
    await until([a, b], agreed(2));
    const [aId, bId] = await nodeIds([a, b]);
    const api = `http://127.0.0.1:${a.api}`;
    const run = (...args: string[]) => tessera(tmp.dir, {}, ...args, "--api", api);

    const sent = await run("send", bId, "hello", "from", "the", "test");
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, new RegExp(`^beta \\(${bId}\\) received the message in \\d+\\.\\d\\d ms\\n$`));
    await waitForText(() => bLog, `tessera: message from alpha (${aId}): hello from the test\n`);

    // By name, with the API taken from the environment, as JSON.
    const byName = await tessera(tmp.dir, { TESSERA_API: api }, "send", "beta", "second message", "--json");
    assert.equal(byName.code, 0, byName.stderr);
    assert.deepEqual({ ...JSON.parse(byName.stdout), rtt_ms: 0 }, { peer_id: bId, name: "beta", rtt_ms: 0, logged: true });
    await waitForText(() => bLog, `tessera: message from alpha (${aId}): second message\n`);

    const ping = await run("ping", "beta", "--count", "5", "--bytes", "512KiB", "--json");
    assert.equal(ping.code, 0, ping.stderr);
    const p = JSON.parse(ping.stdout);
    assert.equal(p.peer_id, bId);
    assert.equal(p.count, 5);
    assert.equal(p.bytes, 512 * 1024);
    assert.ok(p.rtt_ms.min > 0 && p.rtt_ms.min <= p.rtt_ms.avg && p.rtt_ms.avg <= p.rtt_ms.max, JSON.stringify(p.rtt_ms));
    assert.ok(p.throughput_bps > 0 && p.transfer_ms > 0, JSON.stringify(p));

    const text = await run("ping", bId);
    assert.equal(text.code, 0, text.stderr);
    t.diagnostic(`tessera ping on loopback (default 10 round trips, 1 MiB): ${text.stdout.trim().replace(/\n/g, " | ")}`);
    assert.match(text.stdout, /^ping beta \(\S+\): 10 round trips, 1048576 bytes of payload$/m);
    assert.match(text.stdout, /^rtt min\/avg\/max = \d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3} ms$/m);
    assert.match(text.stdout, /^throughput \d+(\.\d+)? [kMGT]?B\/s \(1048576 bytes in \d+\.\d\d ms\)$/m);

    // Mistakes: one line on stderr, a non-zero exit, no stack trace.
    const mistakes: [string[], RegExp][] = [
      [["send", "nobody", "hi"], /no member "nobody" in the cluster; members: .*alpha/],
      [["send", bId], /expected a node id and a message/],
      [["ping", aId], /that is this node/],
      [["ping", bId, "--count", "0"], /invalid value for --count/],
      [["ping", bId, "--bytes", "1TiB"], /invalid value for --bytes/],
      [["send", "x".repeat(300), "hi"], /no member/],
    ];
    for (const [args, pattern] of mistakes) {
      const r = await run(...args);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const unreachable = await tessera(tmp.dir, {}, "ping", bId, "--api", "http://127.0.0.1:1");
    assert.match(unreachable.stderr, /^tessera ping: cannot reach a tessera node at http:\/\/127\.0\.0\.1:1/);

    // The routes check what they are given.
    const post = (path: string, body: unknown) =>
      fetch(`${api}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    assert.equal((await post(`/peers/${bId}/send`, { text: "y".repeat(5000) })).status, 400);
    assert.equal((await post(`/peers/${bId}/ping`, { count: 1, bytes: 1 << 30 })).status, 400);
    assert.equal((await post(`/peers/${bId}/ping`, { count: 1, extra: true })).status, 400);
    assert.equal((await post("/peers/12D3KooWNotAMember/send", { text: "hi" })).status, 404);
    assert.equal((await post("/peers/bad%ZZ/send", { text: "hi" })).status, 400);
    assert.equal((await fetch(`${api}/peers/${bId}/ping`)).status, 405);
    assert.doesNotMatch(bLog, /y{100}/);
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
