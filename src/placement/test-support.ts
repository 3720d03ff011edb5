// Test helpers: seeded random clusters and an exhaustive reference solver that knows nothing of the DP.
// It walks every ordered subset of eligible devices × every contiguous split, pricing each stage with
// cost.ts's public functions, so the solver is checked against the cost model's definition.
import { capacityBytes, deratedRate, hopSeconds, linkLookup, stageMemoryBytes, stageStreamBytes, TOKEN_ID_BYTES } from "./cost.js";
import { ineligibility } from "./eligibility.js";
import type { Constraints, DeviceProfile, Link, ModelNeeds, Stage, Thermal } from "./types.js";
import { DEFAULT_MEMORY_SAFETY_FRACTION } from "./types.js";

export const GB = 1e9;
export const MB = 1e6;

export function device(id: string, memoryGB: number, rateGBs: number, extra: Partial<DeviceProfile> = {}): DeviceProfile {
  return {
    id,
    name: id,
    memoryBytes: memoryGB * GB,
    backends: [{ kind: "cpu", weightBytesPerSec: rateGBs * GB }],
    utilisation: 0,
    thermal: "nominal",
    ...extra,
  };
}

/** Every pair linked both ways with the same figures. */
export function fullMesh(devices: readonly DeviceProfile[], latencyMs: number, throughputBytesPerSec: number): Link[] {
  const links: Link[] = [];
  for (let i = 0; i < devices.length; i++) {
    for (let j = i + 1; j < devices.length; j++) links.push({ from: devices[i]!.id, to: devices[j]!.id, latencyMs, throughputBytesPerSec });
  }
  return links;
}

/** A small model with per-layer bytes that vary (as mixed quantisation makes them). */
export function smallNeeds(rand: () => number, layers: number): ModelNeeds {
  const layerBytes = Array.from({ length: layers }, () => Math.round((80 + 80 * rand()) * MB));
  const tied = rand() < 0.3;
  const embeddingBytes = Math.round((50 + 150 * rand()) * MB);
  return {
    name: "random",
    layers,
    layerBytes,
    layerFlopsPerToken: layerBytes.map((b) => 4 * b),
    embeddingBytes,
    outputBytes: tied ? embeddingBytes + 8192 : Math.round((50 + 150 * rand()) * MB),
    outputFlopsPerToken: 2 * embeddingBytes,
    tiedHeadBytes: tied ? embeddingBytes : 0,
    sharedBytes: rand() < 0.3 ? 4096 : 0,
    kvBytesPerTokenPerLayer: 1024 * (1 + Math.floor(rand() * 8)),
    hiddenBytesPerToken: 4 * 2048,
    contextLength: 256 * (1 + Math.floor(rand() * 16)),
    sequences: 1 + Math.floor(rand() * 2),
  };
}

const THERMALS: readonly Thermal[] = ["nominal", "nominal", "fair", "serious"];

export interface RandomCluster {
  readonly needs: ModelNeeds;
  readonly devices: DeviceProfile[];
  readonly links: Link[];
  readonly constraints: Constraints;
}

/** 2–6 devices whose memories range from a slice of the model to more than all of it. */
export function randomCluster(rand: () => number): RandomCluster {
  const layers = 8 + Math.floor(rand() * 5);
  const needs = smallNeeds(rand, layers);
  const total = needs.layerBytes.reduce((a, b) => a + b, 0) + needs.embeddingBytes + needs.outputBytes;
  const n = 2 + Math.floor(rand() * 5);
  const devices: DeviceProfile[] = [];
  for (let i = 0; i < n; i++) {
    devices.push({
      id: `d${i}`,
      name: `device ${i}`,
      memoryBytes: Math.round(total * (0.15 + 1.2 * rand())),
      backends: [
        { kind: "cpu", weightBytesPerSec: (5 + 50 * rand()) * GB },
        ...(rand() < 0.5 ? [{ kind: "webgpu" as const, weightBytesPerSec: (5 + 400 * rand()) * GB }] : []),
      ],
      utilisation: rand() < 0.5 ? 0 : 0.6 * rand(),
      thermal: THERMALS[Math.floor(rand() * THERMALS.length)]!,
      ...(rand() < 0.3 ? { battery: { percent: 30 + Math.round(70 * rand()), charging: false, lowPowerMode: rand() < 0.5 } } : {}),
    });
  }
  const links: Link[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (rand() < 0.08) continue; // some pairs cannot talk
      const a = { latencyMs: 0.1 + 10 * rand() * rand(), throughputBytesPerSec: (10 + 2000 * rand()) * MB };
      links.push({ from: `d${i}`, to: `d${j}`, ...a });
      if (rand() < 0.3) links.push({ from: `d${j}`, to: `d${i}`, latencyMs: a.latencyMs * 2, throughputBytesPerSec: a.throughputBytesPerSec / 2 });
    }
  }
  const r = rand();
  const constraints: Constraints = r < 0.1 ? { minNodes: 2 } : r < 0.2 ? { maxNodes: 2 } : {};
  return { needs, devices, links, constraints };
}

/** The exhaustive optimum: every ordered subset of eligible devices × every contiguous split. */
export function bruteForce(needs: ModelNeeds, devices: readonly DeviceProfile[], links: readonly Link[], c: Constraints = {}): { seconds: number; stages: Stage[] } | undefined {
  const eligible = devices.filter((d) => !ineligibility(d, c));
  const safety = c.memorySafetyFraction ?? DEFAULT_MEMORY_SAFETY_FRACTION;
  const minNodes = c.minNodes ?? 1;
  const maxNodes = c.maxNodes ?? Infinity;
  const lookup = linkLookup(links);
  const L = needs.layers;
  let best: { seconds: number; stages: Stage[] } | undefined;
  const stages: Stage[] = [];
  const used = new Set<string>();

  const walk = (start: number, seconds: number) => {
    for (const d of eligible) {
      if (used.has(d.id)) continue;
      const prev = stages[stages.length - 1];
      let hop = 0;
      if (prev) {
        const link = lookup(prev.nodeId, d.id);
        if (!link) continue;
        hop = hopSeconds(link, needs.hiddenBytesPerToken * needs.sequences);
      }
      const first = stages.length === 0;
      for (let end = start + 1; end <= L; end++) {
        const last = end === L;
        // A longer stage holds more, and the last stage more still, so nothing beyond fits either.
        if (stageMemoryBytes(needs, start, end, first, last) > capacityBytes(d, safety)) break;
        const t = seconds + hop + stageStreamBytes(needs, start, end, last) / deratedRate(d);
        // Every cost is positive, so a partial plan already slower than the best cannot win.
        if (best && t >= best.seconds) continue;
        stages.push({ nodeId: d.id, start, end });
        used.add(d.id);
        if (last) {
          const k = stages.length;
          if (k >= minNodes && k <= maxNodes) {
            let total = t;
            let ok = true;
            if (k > 1) {
              const back = lookup(d.id, stages[0]!.nodeId);
              if (back) total += hopSeconds(back, TOKEN_ID_BYTES * needs.sequences);
              else ok = false;
            }
            if (ok && (!best || total < best.seconds)) best = { seconds: total, stages: [...stages] };
          }
        } else if (stages.length < maxNodes) {
          walk(end, t);
        }
        stages.pop();
        used.delete(d.id);
      }
    }
  };
  walk(0, 0);
  return best;
}
