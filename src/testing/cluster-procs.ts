// Real `tessera start` processes on 127.0.0.1 for tests and benchmarks: start them with ports the OS
// picks, read their API, wait for conditions, and make sure none outlives the caller.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { TESSERA_BIN } from "./paths.js";

// Short timings so failover fits a test; the defaults are 500 ms / 2.5 s / 10 s.
export const TIMING = ["--heartbeat-ms", "250", "--master-timeout-ms", "1500", "--node-timeout-ms", "3000"];

/** For tests of the log itself: no telemetry samples or link probes adding events of their own. */
export const QUIET = ["--telemetry-ms", "0", "--probe-ms", "0"];

export interface RunningNode {
  readonly proc: ChildProcess;
  readonly api: number;
  readonly port: number;
  readonly dataDir: string;
  readonly exited: Promise<number | null>;
}

export interface StateView {
  readonly node_id: string;
  readonly master_id: string | null;
  readonly term: number;
  readonly last_event_index: number;
  readonly hash: string;
  readonly nodes: Record<string, { status: string }>;
}

const running = new Set<ChildProcess>();

/** `env` adds to this process's environment (e.g. a chaos-testing fault for one node). */
export async function startNode(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<RunningNode> {
  const proc = spawn(process.execPath, [TESSERA_BIN, "start", "--data-dir", dataDir, "--listen", "127.0.0.1", "--port", "0",
    "--api-port", "0", "--no-mdns", "--no-broadcast", ...TIMING, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  running.add(proc);
  // TESSERA_NODE_LOGS=1 passes every node's stderr through, prefixed with its data dir, for debugging.
  if (process.env["TESSERA_NODE_LOGS"]) proc.stderr!.on("data", (chunk: Buffer) => process.stderr.write(`[${dataDir}] ${chunk.toString()}`));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code, signal) => {
    if (process.env["TESSERA_NODE_LOGS"]) process.stderr.write(`[${dataDir}] exited with ${code ?? signal}\n`);
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

export async function state(node: RunningNode): Promise<StateView> {
  const res = await fetch(`http://127.0.0.1:${node.api}/state`);
  return (await res.json()) as StateView;
}

/** Polls until `check` passes on every node's state (or fails with the last states seen). */
export async function until(nodes: readonly RunningNode[], check: (states: StateView[]) => boolean, timeoutMs = 30_000): Promise<StateView[]> {
  const deadline = Date.now() + timeoutMs;
  let last: StateView[] = [];
  while (Date.now() < deadline) {
    last = await Promise.all(nodes.map(state));
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out; last states: ${JSON.stringify(last.map((s) => ({ id: s.node_id.slice(-6), master: s.master_id?.slice(-6), term: s.term, idx: s.last_event_index, hash: s.hash.slice(0, 8) })))}`);
}


/** Kills every node this process started that is still running. */
export async function killAll(): Promise<void> {
  const exits = [...running].map((p) => new Promise((r) => p.once("exit", r)));
  for (const p of running) p.kill("SIGKILL");
  await Promise.all(exits);
}

/** All nodes agree: one master, one log position and hash, and `alive` live members. */
export const agreed = (alive: number) => (states: StateView[]) =>
  states.every((s) => s.master_id !== null && s.master_id === states[0].master_id && s.hash === states[0].hash &&
    s.last_event_index === states[0].last_event_index &&
    Object.values(s.nodes).filter((n) => n.status === "alive").length === alive);

/** The events a node's /events stream delivers, from index 0 through `last`. */
export async function streamedEvents(node: RunningNode, last: number): Promise<{ index: number; event: { type: string } }[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 20_000);
  const events: { index: number; event: { type: string } }[] = [];
  try {
    const res = await fetch(`http://127.0.0.1:${node.api}/events?since=0`, { signal: abort.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    // Read until `last` has arrived: one chunk may carry it together with events applied since.
    while ((events.at(-1)?.index ?? -1) < last) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const data = /^data: (.*)$/m.exec(buf.slice(0, cut));
        buf = buf.slice(cut + 2);
        if (data) events.push(JSON.parse(data[1]) as { index: number; event: { type: string } });
      }
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return events.filter((e) => e.index <= last);
}

/** The event indexes a node's /events stream delivers, from 0 through `last`. */
export async function streamedIndexes(node: RunningNode, last: number): Promise<number[]> {
  return (await streamedEvents(node, last)).map((e) => e.index);
}
