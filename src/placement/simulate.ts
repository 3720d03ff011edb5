// Prints docs/placement.md's tables: Tessera's placement against exo's memory-proportional split on
// simulated clusters (both scored by the same cost model), then solve times for 4, 16 and 64 devices.
// Run: npx tsc -p . && node dist/placement/simulate.js
import { performance } from "node:perf_hooks";
import { mulberry32 } from "../random/mulberry32.js";
import { exoBaseline } from "./exo-baseline.js";
import { LLAMA_3_2_3B_Q4_K_M, LLAMA_3_70B_Q4_K_M, LLAMA_3_8B_Q4_K_M, needsFromShape, type ModelShape } from "./model-needs.js";
import { place } from "./solver.js";
import type { DeviceProfile, Link, ModelNeeds, Stage } from "./types.js";

const GB = 1e9;
const MB = 1e6;
/** Effective decode rate as a share of peak memory bandwidth (llama.cpp-class engines reach 50–70%). */
const EFFECTIVE = 0.6;

function dev(id: string, name: string, memoryGB: number, peakGBs: number, share: number, extra: Partial<DeviceProfile> = {}): DeviceProfile {
  return { id, name, memoryBytes: memoryGB * GB, backends: [{ kind: "webgpu", weightBytesPerSec: peakGBs * share * GB }], utilisation: 0, thermal: "nominal", ...extra };
}

function mesh(ids: readonly string[], latencyMs: number, throughputBytesPerSec: number): Link[] {
  const out: Link[] = [];
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) out.push({ from: ids[i]!, to: ids[j]!, latencyMs, throughputBytesPerSec });
  return out;
}

interface Scenario {
  readonly name: string;
  readonly devices: readonly DeviceProfile[];
  readonly links: readonly Link[];
}

const rtx = (id: string) => dev(id, "RTX 3090 box: 22 GB of 24 GB VRAM usable, 936 GB/s peak", 22, 936, EFFECTIVE);
const m2 = dev("m2", "M2 Mac 16 GB: 11 GB usable by the GPU, 100 GB/s peak", 11, 100, EFFECTIVE);

const SCENARIOS: readonly Scenario[] = [
  { name: "(a) 3090 box + M2 Mac, 1 GbE (0.3 ms, 117 MB/s)", devices: [rtx("3090"), m2], links: mesh(["3090", "m2"], 0.3, 117 * MB) },
  {
    name: "(b) three phones + a laptop, Wi-Fi (5 ms, 20 MB/s)",
    devices: [
      dev("pixel8", "Pixel 8: 3.5 GB usable, 68 GB/s peak, 30% effective (mobile GPU)", 3.5, 68, 0.3),
      dev("s23", "Galaxy S23: 3.5 GB usable, 68 GB/s peak, 35% effective, thermal fair", 3.5, 68, 0.35, { thermal: "fair" }),
      dev("iphone15", "iPhone 15 Pro: 3 GB usable, 51 GB/s peak, 60% effective, on battery 60%", 3, 51, EFFECTIVE, { battery: { percent: 60, charging: false, lowPowerMode: false } }),
      dev("laptop", "x86 laptop 16 GB: 12 GB usable, 89.6 GB/s peak (DDR5-5600), 40% effective (CPU)", 12, 89.6, 0.4),
    ],
    links: mesh(["pixel8", "s23", "iphone15", "laptop"], 5, 20 * MB),
  },
  {
    name: "(c) fast node + slow node behind Wi-Fi (5 ms, 20 MB/s)",
    devices: [
      dev("m1max", "M1 Max 64 GB: 48 GB usable by the GPU, 400 GB/s peak", 48, 400, EFFECTIVE),
      dev("minipc", "mini PC 32 GB: 28 GB usable, 51 GB/s peak (DDR4), 60% effective", 28, 51, EFFECTIVE),
    ],
    links: mesh(["m1max", "minipc"], 5, 20 * MB),
  },
  {
    name: "(d) two 3090 boxes on 10 GbE (0.1 ms, 1.1 GB/s) + M2 Mac on 1 GbE",
    devices: [rtx("3090a"), rtx("3090b"), m2],
    links: [...mesh(["3090a", "3090b"], 0.1, 1100 * MB), ...mesh(["3090a", "m2"], 0.3, 117 * MB), ...mesh(["3090b", "m2"], 0.3, 117 * MB)],
  },
];

const MODELS: readonly ModelShape[] = [LLAMA_3_2_3B_Q4_K_M, LLAMA_3_8B_Q4_K_M, LLAMA_3_70B_Q4_K_M];
const CONTEXT = 4096;

const stagesText = (stages: readonly Stage[]) => stages.map((s) => `${s.nodeId} ${s.start}–${s.end - 1}`).join(" → ");

function comparisonTable(): string[] {
  const rows = ["| cluster | model | Tessera placement | Tessera tok/s | exo placement | exo tok/s | speed-up |", "| --- | --- | --- | --- | --- | --- | --- |"];
  for (const sc of SCENARIOS) {
    for (const shape of MODELS) {
      const needs = needsFromShape(shape, { contextLength: CONTEXT });
      const ours = place(needs, sc.devices, sc.links);
      const exo = exoBaseline(needs, sc.devices, sc.links);
      const exoTok = !exo.fits ? "does not fit" : exo.predicted ? exo.predicted.tokPerSec.toFixed(1) : "no route";
      if (!ours.ok) {
        rows.push(`| ${sc.name.slice(0, 3)} | ${shape.name} | does not fit (short ${(ours.shortfallBytes / GB).toFixed(1)} GB) | – | ${stagesText(exo.stages)} | ${exoTok} | – |`);
        continue;
      }
      const speedup = exo.fits && exo.predicted ? `${(ours.predicted.tokPerSec / exo.predicted.tokPerSec).toFixed(2)}×` : "–";
      rows.push(`| ${sc.name.slice(0, 3)} | ${shape.name} | ${stagesText(ours.stages)} | ${ours.predicted.tokPerSec.toFixed(1)} | ${stagesText(exo.stages)} | ${exoTok} | ${speedup} |`);
    }
  }
  return rows;
}

function randomCluster(n: number, seed: number): { devices: DeviceProfile[]; links: Link[] } {
  const r = mulberry32(seed);
  const devices: DeviceProfile[] = [];
  for (let i = 0; i < n; i++) {
    devices.push(dev(`n${String(i).padStart(2, "0")}`, "random", 3 + 45 * r(), 30 + 900 * r(), EFFECTIVE, { utilisation: 0.3 * r() }));
  }
  const links: Link[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) links.push({ from: devices[i]!.id, to: devices[j]!.id, latencyMs: 0.1 + 5 * r(), throughputBytesPerSec: (20 + 1100 * r()) * MB });
  }
  return { devices, links };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function solveTimes(): string[] {
  const rows = ["| devices | model | path | stages | median solve time |", "| --- | --- | --- | --- | --- |"];
  for (const n of [4, 16, 64]) {
    for (const shape of [LLAMA_3_8B_Q4_K_M, LLAMA_3_70B_Q4_K_M]) {
      const needs: ModelNeeds = needsFromShape(shape, { contextLength: CONTEXT });
      const { devices, links } = randomCluster(n, 1000 + n);
      const reps = n >= 64 ? 7 : 21;
      for (let i = 0; i < 3; i++) place(needs, devices, links);
      const times: number[] = [];
      let last = place(needs, devices, links);
      for (let i = 0; i < reps; i++) {
        const t = performance.now();
        last = place(needs, devices, links);
        times.push(performance.now() - t);
      }
      const stages = last.ok ? String(last.stages.length) : last.reason;
      rows.push(`| ${n} | ${shape.name} | ${last.ok ? last.strategy : "–"} | ${stages} | ${median(times).toFixed(2)} ms |`);
    }
  }
  return rows;
}

const out: string[] = [];
out.push(`Context ${CONTEXT} tokens, 1 sequence, memory safety fraction 0.9. Devices:`, "");
for (const sc of SCENARIOS) {
  out.push(`- ${sc.name}`);
  for (const d of sc.devices) out.push(`  - \`${d.id}\`: ${d.name} → ${(d.backends[0]!.weightBytesPerSec / GB).toFixed(1)} GB/s effective`);
}
out.push("", ...comparisonTable(), "", ...solveTimes());
console.log(out.join("\n"));
