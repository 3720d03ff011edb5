// Load on the API: 50 streaming completions at once, spread over the APIs of three real `tessera start`
// processes holding stories260K as one instance with a stage on each. Every stream must end with the
// same greedy text its prompt gives when asked alone, every stage must hold no sequence afterwards, and
// each node's resident memory (VmRSS of the node process, stage threads included) must stay bounded.
// The memory figures are printed as diagnostics and recorded in docs/benchmarks.md ("API load").
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { generateClusterKey } from "../net/index.js";
import { complete, completeStreaming, post, untilReady, type Completion } from "../testing/api-client.js";
import { agreed, killAll, startNode, until, type RunningNode } from "../testing/cluster-procs.js";
import { STORIES_260K, tempDir } from "../testing/paths.js";

const REQUESTS = 50;
const MAX_TOKENS = 32;
const PROMPTS = ["Once upon a time", "The little dog", "Lily wanted to", "One day, a boy", "The sun was"];
const MIB = 1024 * 1024;
// Generous bounds, far from what a healthy node uses (about 100-200 MiB here), so that only a leak or
// an unbounded buffer can trip them: no node above 1 GiB at any moment, and after the load no node
// holds more than twice its memory before it plus 256 MiB (allocator and JIT growth are not leaks).
const PEAK_CAP = 1024 * MIB;
const AFTER_FACTOR = 2;
const AFTER_SLACK = 256 * MIB;

/** Resident memory of a process, from the kernel (VmRSS is in kB). */
function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  assert.ok(m, `no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

const mib = (bytes: number) => `${(bytes / MIB).toFixed(0)} MiB`;

/** Samples every node's RSS until stopped; returns each node's peak (or throws what a sample met, e.g. a node gone). */
function sampleRss(nodes: readonly RunningNode[], everyMs: number): { stop: () => number[] } {
  const peaks = nodes.map((n) => rssBytes(n.proc.pid!));
  let failure: unknown;
  const sample = () => nodes.forEach((n, i) => (peaks[i] = Math.max(peaks[i], rssBytes(n.proc.pid!))));
  const timer = setInterval(() => {
    try {
      sample();
    } catch (e) {
      failure ??= e;
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      if (failure !== undefined) throw failure;
      sample();
      return peaks;
    },
  };
}

interface RunnerView {
  instance_id: string;
  active_sequences: number;
}

async function activeSequences(nodes: readonly RunningNode[], instance: string): Promise<number[]> {
  const all = await Promise.all(nodes.map(async (n) => ((await (await fetch(`http://127.0.0.1:${n.api}/runners`)).json()) as { runners: RunnerView[] }).runners));
  return all.flat().filter((r) => r.instance_id === instance).map((r) => r.active_sequences);
}

test(`${REQUESTS} concurrent streaming completions over 3 nodes: all complete with the greedy text, memory stays bounded`, { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const args = (i: number) => ["--name", `n${i}`, "--join", key, "--threads", "1", "--telemetry-ms", "500"];
    const nodes: RunningNode[] = [await startNode(join(tmp.dir, "n0"), args(0))];
    for (let i = 1; i < 3; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), [...args(i), "--peer", `127.0.0.1:${nodes[0].port}`]));
    await until(nodes, agreed(3));
    await until(nodes, (states) => states.every((s) => Object.values(s.nodes).every((n) => (n as { device?: { placement?: unknown } }).device?.placement !== undefined)), 60_000);
    const created = await post(nodes[0], "/instance", { model: STORIES_260K, instance_id: "load", constraints: { min_nodes: 3, max_nodes: 3 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await untilReady(nodes, ["load"]);

    // Each prompt alone first: the answer every concurrent stream of it must reproduce.
    const alone = new Map<string, Completion>();
    for (const prompt of PROMPTS) {
      const r = await complete(nodes[0], "/v1/completions", { model: "load", prompt, max_tokens: MAX_TOKENS, temperature: 0 });
      assert.equal(r.status, 200, r.error ?? "");
      assert.equal(r.tokens.length, MAX_TOKENS);
      alone.set(prompt, r);
    }
    assert.equal(new Set([...alone.values()].map((r) => r.text)).size, PROMPTS.length, "the prompts give different answers");

    const before = nodes.map((n) => rssBytes(n.proc.pid!));
    const sampler = sampleRss(nodes, 50);
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => {
      const prompt = PROMPTS[i % PROMPTS.length];
      // Request i goes to node i % 3, so every node's API proxies to the head or is the head.
      return completeStreaming(nodes[i % nodes.length], "/v1/completions", { model: "load", prompt, max_tokens: MAX_TOKENS, temperature: 0 }).then((r) => ({ prompt, r }));
    }));
    const seconds = (Date.now() - started) / 1000;
    const peak = sampler.stop();

    for (const [i, { prompt, r }] of results.entries()) {
      assert.equal(r.status, 200, `request ${i}: ${r.error}`);
      assert.equal(r.error, undefined, `request ${i}: ${r.error}`);
      assert.equal(r.finishReason, "length", `request ${i}`);
      assert.deepEqual(r.tokens, alone.get(prompt)!.tokens, `request ${i} (${prompt}) differs from the same prompt asked alone`);
      assert.equal(r.text, alone.get(prompt)!.text);
    }

    // Nothing is left held on any stage once the streams have ended.
    const deadline = Date.now() + 20_000;
    let active = await activeSequences(nodes, "load");
    while (active.some((a) => a > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      active = await activeSequences(nodes, "load");
    }
    assert.deepEqual(active, [0, 0, 0], "every stage freed its sequences");

    // Memory a few seconds after the load, once in-flight buffers are gone.
    await new Promise((r) => setTimeout(r, 3000));
    const after = nodes.map((n) => rssBytes(n.proc.pid!));
    t.diagnostic(`${REQUESTS} streams x ${MAX_TOKENS} tokens in ${seconds.toFixed(1)} s (${((REQUESTS * MAX_TOKENS) / seconds).toFixed(0)} tok/s in total)`);
    for (const i of nodes.keys()) t.diagnostic(`node ${i} RSS: before ${mib(before[i])}, peak ${mib(peak[i])}, 3 s after ${mib(after[i])}`);
    for (const i of nodes.keys()) {
      assert.ok(peak[i] < PEAK_CAP, `node ${i} peaked at ${mib(peak[i])}, above ${mib(PEAK_CAP)}`);
      assert.ok(after[i] < before[i] * AFTER_FACTOR + AFTER_SLACK, `node ${i} holds ${mib(after[i])} after the load, from ${mib(before[i])} before`);
    }
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
