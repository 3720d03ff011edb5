// Real `tessera start` processes on 127.0.0.1 (ports chosen by the OS): convergence, master failover,
// restart with the same data dir, keys that keep strangers out, and a clean leave on SIGTERM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { generateClusterKey } from "../net/index.js";
import { TESSERA_BIN, tempDir } from "../testing/paths.js";

// Short timings so failover fits a test; the defaults are 500 ms / 2.5 s / 10 s.
const TIMING = ["--heartbeat-ms", "250", "--master-timeout-ms", "1500", "--node-timeout-ms", "3000"];

interface RunningNode {
  readonly proc: ChildProcess;
  readonly api: number;
  readonly port: number;
  readonly dataDir: string;
  readonly exited: Promise<number | null>;
}

interface StateView {
  readonly node_id: string;
  readonly master_id: string | null;
  readonly term: number;
  readonly last_event_index: number;
  readonly hash: string;
  readonly nodes: Record<string, { status: string }>;
}

const running = new Set<ChildProcess>();

async function startNode(dataDir: string, args: string[]): Promise<RunningNode> {
  const proc = spawn(process.execPath, [TESSERA_BIN, "start", "--data-dir", dataDir, "--listen", "127.0.0.1", "--port", "0",
    "--api-port", "0", "--no-mdns", "--no-broadcast", ...TIMING, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  running.add(proc);
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => {
    running.delete(proc);
    resolve(code);
  }));
  let out = "";
  const ready = await new Promise<{ api: number; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start: ${out}`)), 30_000);
    proc.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /ready api=(\d+) port=(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ api: Number(m[1]), port: Number(m[2]) });
      }
    });
    proc.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((code) => reject(new Error(`node exited with ${code}: ${out}`)));
  });
  return { proc, dataDir, exited, ...ready };
}

async function state(node: RunningNode): Promise<StateView> {
  const res = await fetch(`http://127.0.0.1:${node.api}/state`);
  return (await res.json()) as StateView;
}

/** Polls until `check` passes on every node's state (or fails with the last states seen). */
async function until(nodes: readonly RunningNode[], check: (states: StateView[]) => boolean, timeoutMs = 30_000): Promise<StateView[]> {
  const deadline = Date.now() + timeoutMs;
  let last: StateView[] = [];
  while (Date.now() < deadline) {
    last = await Promise.all(nodes.map(state));
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out; last states: ${JSON.stringify(last.map((s) => ({ id: s.node_id.slice(-6), master: s.master_id?.slice(-6), term: s.term, idx: s.last_event_index, hash: s.hash.slice(0, 8) })))}`);
}

const agreed = (alive: number) => (states: StateView[]) =>
  states.every((s) => s.master_id !== null && s.master_id === states[0].master_id && s.hash === states[0].hash &&
    s.last_event_index === states[0].last_event_index &&
    Object.values(s.nodes).filter((n) => n.status === "alive").length === alive);

test("five nodes converge; the master fails over; a restarted node keeps its id and catches up; strangers stay out", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const first = await startNode(join(tmp.dir, "n0"), ["--name", "n0", "--join", key]);
    const peer = ["--peer", `127.0.0.1:${first.port}`];
    const nodes = [first];
    for (let i = 1; i < 5; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), ["--name", `n${i}`, "--join", key, ...peer]));

    const converged = await until(nodes, agreed(5));
    assert.equal(new Set(converged.map((s) => s.master_id)).size, 1);

    // Strangers: another key, and an open node, never appear in the cluster's state.
    const stranger = await startNode(join(tmp.dir, "x"), ["--name", "stranger", "--join", generateClusterKey(), ...peer]);
    const open = await startNode(join(tmp.dir, "o"), ["--name", "open", "--open", ...peer]);
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

    // Restart the killed node with its data dir: same peer id, and it catches up.
    // No --peer: it redials the members its persisted log knows (the first node's address is gone).
    const back = await startNode(victim.dataDir, ["--name", "back"]);
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
    for (const p of running) p.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    tmp.cleanup();
  }
});
