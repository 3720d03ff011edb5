// The cost model: how long one decoded token takes on a given pipeline. Decode is memory-bound, so a
// stage costs the bytes it streams per token ÷ its device's (derated) weight rate, and each hop costs its
// latency plus payload ÷ throughput. The solver optimises exactly this function; simulate.ts and the
// exo baseline are scored with it too, so comparisons are like for like.
import type { DeviceProfile, HopCost, Link, ModelNeeds, Prediction, Stage, StageCost, Thermal } from "./types.js";
import { DEFAULT_MEMORY_SAFETY_FRACTION } from "./types.js";

/** A placement handed to the cost model names a device, link or layer range that is not there. */
export class PlacementInputError extends Error {
  override readonly name = "PlacementInputError";
}

/** Sustained-rate factors under thermal pressure (critical devices are never used). */
export const THERMAL_FACTOR: Readonly<Record<Thermal, number>> = { nominal: 1, fair: 0.85, serious: 0.6, critical: 0 };
/** Low-power mode roughly halves sustained CPU/GPU clocks on phones and laptops. */
export const LOW_POWER_FACTOR = 0.5;
/** Bytes of the sampled token id sent back from the last stage to the first. */
export const TOKEN_ID_BYTES = 4;
/** Prefill runs in chunks of this many tokens; each chunk streams the weights once. */
export const PREFILL_CHUNK = 512;
/**
 * Without a measured flopsPerSec, prefill compute is assumed to run at 16 flops per weight byte/s of
 * decode rate: between CPUs (~10) and discrete GPUs (~80), near phone and laptop GPUs.
 */
export const ASSUMED_FLOPS_PER_WEIGHT_BYTE = 16;

function bestBackend(d: DeviceProfile) {
  let best = undefined as DeviceProfile["backends"][number] | undefined;
  for (const b of d.backends) if (b.weightBytesPerSec > 0 && (!best || b.weightBytesPerSec > best.weightBytesPerSec)) best = b;
  return best;
}

/**
 * The least share of a busy device we count on: the OS scheduler still gives a new runnable thread a
 * fair slice, so a device that reads 100 % busy is slow, not unusable.
 */
export const MIN_CPU_SHARE = 0.1;

/** The fraction of its best backend's rate a device can give us now. */
export function derateFactor(d: DeviceProfile): number {
  const util = Math.min(1, Math.max(0, d.utilisation));
  return Math.max(MIN_CPU_SHARE, 1 - util) * THERMAL_FACTOR[d.thermal] * (d.battery?.lowPowerMode ? LOW_POWER_FACTOR : 1);
}

/** Weight bytes per second this device streams now: best backend × (1 − utilisation) × thermal × low power. */
export function deratedRate(d: DeviceProfile): number {
  const b = bestBackend(d);
  return b ? b.weightBytesPerSec * derateFactor(d) : 0;
}

/** Flops per second for prefill: the best backend's measured figure, else the stated assumption. */
export function deratedFlops(d: DeviceProfile): number {
  const b = bestBackend(d);
  if (!b) return 0;
  return (b.flopsPerSec ?? b.weightBytesPerSec * ASSUMED_FLOPS_PER_WEIGHT_BYTE) * derateFactor(d);
}

/** Whole bytes a device may plan to fill: memory × safety fraction, rounded down. */
export function capacityBytes(d: DeviceProfile, memorySafetyFraction = DEFAULT_MEMORY_SAFETY_FRACTION): number {
  return Math.floor(d.memoryBytes * memorySafetyFraction);
}

export type LinkLookup = (from: string, to: string) => Link | undefined;

/** Indexes links by direction; a link given only one way serves both. */
export function linkLookup(links: readonly Link[]): LinkLookup {
  const exact = new Map<string, Link>();
  for (const l of links) exact.set(`${l.from}\u0000${l.to}`, l);
  return (from, to) => exact.get(`${from}\u0000${to}`) ?? exact.get(`${to}\u0000${from}`);
}

export function hopSeconds(link: Link, bytes: number): number {
  return link.latencyMs / 1000 + bytes / link.throughputBytesPerSec;
}

function sum(xs: readonly number[], start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s += xs[i]!;
  return s;
}

/** Bytes a stage streams per decoded token: its layers, and the output head on the last stage. */
export function stageStreamBytes(n: ModelNeeds, start: number, end: number, last: boolean): number {
  return sum(n.layerBytes, start, end) + (last ? n.outputBytes : 0);
}

/** Bytes a stage holds: its layers' weights and KV cache, shared tensors, the embedding and/or head where held. */
export function stageMemoryBytes(n: ModelNeeds, start: number, end: number, first: boolean, last: boolean): number {
  const kv = (end - start) * n.kvBytesPerTokenPerLayer * n.contextLength * n.sequences;
  const head = last ? n.outputBytes - (first ? n.tiedHeadBytes : 0) : 0;
  return sum(n.layerBytes, start, end) + kv + n.sharedBytes + (first ? n.embeddingBytes : 0) + head;
}

function checkStages(n: ModelNeeds, stages: readonly Stage[], devices: ReadonlyMap<string, DeviceProfile>): void {
  if (stages.length === 0) throw new PlacementInputError("a placement needs at least one stage");
  let expect = 0;
  for (const s of stages) {
    if (!devices.has(s.nodeId)) throw new PlacementInputError(`unknown device ${s.nodeId}`);
    if (s.start !== expect || s.end <= s.start) throw new PlacementInputError(`stage ${s.nodeId} [${s.start}, ${s.end}) does not continue at layer ${expect}`);
    expect = s.end;
  }
  if (expect !== n.layers) throw new PlacementInputError(`stages cover ${expect} of ${n.layers} layers`);
}

function deviceMap(devices: readonly DeviceProfile[] | ReadonlyMap<string, DeviceProfile>): ReadonlyMap<string, DeviceProfile> {
  return devices instanceof Map ? devices : new Map((devices as readonly DeviceProfile[]).map((d) => [d.id, d]));
}

function requireLink(links: LinkLookup, from: string, to: string): Link {
  const l = links(from, to);
  if (!l) throw new PlacementInputError(`no link from ${from} to ${to}`);
  return l;
}

/**
 * Predicted seconds per decoded token for a pipeline: Σ stage stream bytes ÷ derated rate, plus each
 * forward hop (hidden state × sequences) and the return hop (token ids) that closes the loop so the
 * first stage can embed the next token.
 */
export function predictDecode(
  n: ModelNeeds,
  stages: readonly Stage[],
  devices: readonly DeviceProfile[] | ReadonlyMap<string, DeviceProfile>,
  links: readonly Link[] | LinkLookup,
  memorySafetyFraction = DEFAULT_MEMORY_SAFETY_FRACTION,
): Prediction {
  const byId = deviceMap(devices);
  checkStages(n, stages, byId);
  const lookup = typeof links === "function" ? links : linkLookup(links);
  const stageCosts: StageCost[] = stages.map((s, i) => {
    const d = byId.get(s.nodeId)!;
    const first = i === 0;
    const last = i === stages.length - 1;
    const streamBytes = stageStreamBytes(n, s.start, s.end, last);
    const bytesPerSec = deratedRate(d);
    return {
      nodeId: s.nodeId,
      start: s.start,
      end: s.end,
      streamBytes,
      bytesPerSec,
      seconds: streamBytes / bytesPerSec,
      memoryBytes: stageMemoryBytes(n, s.start, s.end, first, last),
      capacityBytes: capacityBytes(d, memorySafetyFraction),
    };
  });
  const hops: HopCost[] = [];
  for (let i = 0; i + 1 < stages.length; i++) {
    const from = stages[i]!.nodeId;
    const to = stages[i + 1]!.nodeId;
    const bytes = n.hiddenBytesPerToken * n.sequences;
    hops.push({ from, to, kind: "forward", bytes, seconds: hopSeconds(requireLink(lookup, from, to), bytes) });
  }
  if (stages.length > 1) {
    const from = stages[stages.length - 1]!.nodeId;
    const to = stages[0]!.nodeId;
    const bytes = TOKEN_ID_BYTES * n.sequences;
    hops.push({ from, to, kind: "return", bytes, seconds: hopSeconds(requireLink(lookup, from, to), bytes) });
  }
  let seconds = 0;
  for (const s of stageCosts) seconds += s.seconds;
  for (const h of hops) seconds += h.seconds;
  return { secondsPerToken: seconds, tokPerSec: 1 / seconds, breakdown: { stages: stageCosts, hops } };
}

export interface PrefillPrediction {
  readonly promptTokens: number;
  readonly seconds: number;
  readonly tokPerSec: number;
  readonly stages: readonly { readonly nodeId: string; readonly computeSeconds: number; readonly memorySeconds: number; readonly seconds: number }[];
  readonly hopSeconds: number;
}

/**
 * Predicted time to prefill a P-token prompt (one sequence). Each stage takes the larger of its compute
 * (2 flops per weight per token ÷ flops/s) and its weight streaming (once per 512-token chunk); hops
 * carry P hidden states and pay their latency once per chunk. Stages are summed, not overlapped, so
 * this is an upper bound for a pipelined prefill. Attention's own flops are left out.
 */
export function predictPrefill(
  n: ModelNeeds,
  stages: readonly Stage[],
  devices: readonly DeviceProfile[] | ReadonlyMap<string, DeviceProfile>,
  links: readonly Link[] | LinkLookup,
  promptTokens: number,
): PrefillPrediction {
  if (!Number.isInteger(promptTokens) || promptTokens < 1) throw new RangeError(`promptTokens ${promptTokens} must be a positive integer`);
  const byId = deviceMap(devices);
  checkStages(n, stages, byId);
  const lookup = typeof links === "function" ? links : linkLookup(links);
  const chunks = Math.ceil(promptTokens / PREFILL_CHUNK);
  const stageTimes = stages.map((s, i) => {
    const d = byId.get(s.nodeId)!;
    const last = i === stages.length - 1;
    const flops = (sum(n.layerFlopsPerToken, s.start, s.end) + (last ? n.outputFlopsPerToken : 0)) * promptTokens;
    const computeSeconds = flops / deratedFlops(d);
    const memorySeconds = (stageStreamBytes(n, s.start, s.end, last) * chunks) / deratedRate(d);
    return { nodeId: s.nodeId, computeSeconds, memorySeconds, seconds: Math.max(computeSeconds, memorySeconds) };
  });
  let hops = 0;
  for (let i = 0; i + 1 < stages.length; i++) {
    const link = requireLink(lookup, stages[i]!.nodeId, stages[i + 1]!.nodeId);
    hops += chunks * (link.latencyMs / 1000) + (promptTokens * n.hiddenBytesPerToken) / link.throughputBytesPerSec;
  }
  if (stages.length > 1) hops += hopSeconds(requireLink(lookup, stages[stages.length - 1]!.nodeId, stages[0]!.nodeId), TOKEN_ID_BYTES);
  const seconds = stageTimes.reduce((a, s) => a + s.seconds, 0) + hops;
  return { promptTokens, seconds, tokPerSec: promptTokens / seconds, stages: stageTimes, hopSeconds: hops };
}
