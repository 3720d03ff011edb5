// `npm run bench:telemetry`: what telemetry costs a node in CPU time.
// 1. The sampler alone, in this process: many samples back to back (each also turned into its events
//    and validated, as the publisher does), CPU time from process.cpuUsage() ÷ samples, and that as a
//    share of one core at the default 2 s period and at 500 ms.
// 2. (Linux) A whole single-node cluster, `tessera start` with telemetry every 100 ms (the floor, to
//    make the cost stand out of the node's own heartbeat work) against the same node with telemetry
//    off: the difference in the process's CPU time (/proc/PID/stat) over the same window, per sample
//    applied. That adds sequencing, the log append, the gossip and the history to the sampling.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EventSchema } from "../cluster/index.js";
import { TelemetrySampler } from "../devices/telemetry-sampler.js";
import { generateClusterKey } from "../net/index.js";
import { sampleEvents } from "../runtime/telemetry.js";
import { agreed, killAll, startNode, state, until } from "../testing/cluster-procs.js";
import { tempDir } from "../testing/paths.js";

const SAMPLES = 300;
const NODE_WINDOW_MS = 12_000;
const NODE_TELEMETRY_MS = 100;
/** After start: the profile's benchmark (a cache miss in a fresh data dir) must be over before measuring. */
const NODE_SETTLE_MS = 4_000;
const CLOCK_TICKS_PER_S = 100; // USER_HZ, 100 on every mainstream Linux build

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

async function samplerCost(): Promise<{ samples: number; cpu_ms_per_sample: number; wall_ms_per_sample: number; first_sample_cpu_ms: number; core_share_at_2000ms: number; core_share_at_500ms: number }> {
  const sampler = new TelemetrySampler();
  await sampler.prime();
  const c0 = process.cpuUsage();
  await sampler.sample(); // the first sample reads sysfs in full and finds which tools are missing
  const first = process.cpuUsage(c0);
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  for (let i = 0; i < SAMPLES; i++) {
    const s = await sampler.sample();
    for (const e of sampleEvents("12D3KooWBenchBenchBenchBenchBenchBenchBenchBenchBench", s, false)) if (!EventSchema.safeParse(e).success) throw new Error("invalid event");
  }
  const used = process.cpuUsage(c1);
  const wall = performance.now() - t1;
  const cpuMs = (used.user + used.system) / 1000 / SAMPLES;
  return {
    samples: SAMPLES,
    cpu_ms_per_sample: round(cpuMs),
    wall_ms_per_sample: round(wall / SAMPLES),
    first_sample_cpu_ms: round((first.user + first.system) / 1000),
    core_share_at_2000ms: round(cpuMs / 2000, 6),
    core_share_at_500ms: round(cpuMs / 500, 6),
  };
}

function cpuTicks(pid: number): number {
  // Fields after the command name (which may hold spaces, hence the last ')'): utime is 14th, stime 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU ms the node process used over the window, and how many events it applied meanwhile. */
async function nodeCpu(telemetryMs: number): Promise<{ cpuMs: number; events: number }> {
  const tmp = tempDir("tessera-bench-telemetry-");
  try {
    const node = await startNode(join(tmp.dir, "n"), ["--join", generateClusterKey(), "--telemetry-ms", String(telemetryMs), "--probe-ms", "0"]);
    await until([node], agreed(1), 30_000);
    await new Promise((r) => setTimeout(r, NODE_SETTLE_MS));
    const before = cpuTicks(node.proc.pid!);
    const first = (await state(node)).last_event_index;
    await new Promise((r) => setTimeout(r, NODE_WINDOW_MS));
    const cpuMs = ((cpuTicks(node.proc.pid!) - before) * 1000) / CLOCK_TICKS_PER_S;
    return { cpuMs, events: (await state(node)).last_event_index - first };
  } finally {
    await killAll();
    tmp.cleanup();
  }
}

async function main(): Promise<void> {
  const sampler = await samplerCost();
  process.stdout.write(
    `sampler: ${sampler.cpu_ms_per_sample} ms CPU per sample (${sampler.wall_ms_per_sample} ms wall; first sample ${sampler.first_sample_cpu_ms} ms), ` +
      `${(sampler.core_share_at_2000ms * 100).toFixed(3)}% of one core at 2 s, ${(sampler.core_share_at_500ms * 100).toFixed(3)}% at 500 ms\n`,
  );
  let node: { window_s: number; telemetry_ms: number; on_cpu_ms: number; on_samples: number; off_cpu_ms: number; cpu_ms_per_sample: number; core_share_at_2000ms: number } | null = null;
  if (process.platform === "linux") {
    const on = await nodeCpu(NODE_TELEMETRY_MS);
    const off = await nodeCpu(0);
    const perSample = (on.cpuMs - off.cpuMs) / Math.max(1, on.events - off.events);
    node = {
      window_s: NODE_WINDOW_MS / 1000,
      telemetry_ms: NODE_TELEMETRY_MS,
      on_cpu_ms: on.cpuMs,
      on_samples: on.events - off.events,
      off_cpu_ms: off.cpuMs,
      cpu_ms_per_sample: round(perSample),
      core_share_at_2000ms: round(perSample / 2000, 6),
    };
    process.stdout.write(
      `one-node cluster over ${node.window_s} s: ${on.cpuMs} ms CPU with a sample every ${NODE_TELEMETRY_MS} ms (${node.on_samples} applied), ${off.cpuMs} ms with telemetry off: ` +
        `${node.cpu_ms_per_sample} ms per sample end to end, ${(node.core_share_at_2000ms * 100).toFixed(3)}% of one core at 2 s\n`,
    );
  }
  process.stdout.write(JSON.stringify({ bench: "telemetry-overhead", node: process.version, sampler, single_node: node }) + "\n");
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`bench:telemetry: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
