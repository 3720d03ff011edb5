// place(): choose the devices, their order and the contiguous layer split that minimise the predicted
// time per decoded token (cost.ts), within each device's memory. Pure: data in, a placement (or a
// refusal with numbers) out. Up to EXACT_MAX_DEVICES eligible devices every ordered subset is searched,
// sharing DP rows between chains with a common prefix and pruning by a lower bound; beyond that a
// greedy chain plus local search (heuristic.ts) is used. Single-device placements are always among the
// candidates, so a model that fits on one device never gets a slower plan than that device alone.
import { capacityBytes, deratedRate, linkLookup, predictDecode, PlacementInputError, stageMemoryBytes, TOKEN_ID_BYTES } from "./cost.js";
import { ineligibility } from "./eligibility.js";
import { exactSearch } from "./exact.js";
import { heuristicSearch } from "./heuristic.js";
import { totalNeededBytes } from "./model-needs.js";
import { seedDeviceScore } from "./score.js";
import type { Candidate, SearchProblem } from "./search.js";
import { splitContext } from "./split.js";
import type { Constraints, DeviceProfile, DeviceReason, Link, ModelNeeds, Placement, PlacementFailure, Stage } from "./types.js";
import { DEFAULT_MEMORY_SAFETY_FRACTION } from "./types.js";

export const EXACT_MAX_DEVICES = 7;

export interface SolveOptions {
  /** "auto" (default): exact up to EXACT_MAX_DEVICES eligible devices, heuristic beyond. */
  readonly strategy?: "auto" | "exact" | "heuristic";
}

function failure(
  reason: PlacementFailure["reason"],
  needs: ModelNeeds,
  cands: readonly Candidate[],
  maxNodes: number,
  detail: string,
  reasons: DeviceReason[],
): PlacementFailure {
  const neededBytes = totalNeededBytes(needs);
  const caps = cands.map((c) => c.capacity).sort((a, b) => b - a);
  const usableBytes = caps.slice(0, maxNodes).reduce((a, b) => a + b, 0);
  for (const c of cands) reasons.push({ nodeId: c.device.id, status: "not_needed", detail: "eligible, but no placement was found" });
  return { ok: false, reason, shortfallBytes: Math.max(0, neededBytes - usableBytes), neededBytes, usableBytes, detail, reasons: sortReasons(reasons) };
}

function sortReasons(r: DeviceReason[]): DeviceReason[] {
  return r.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

function checkInputs(needs: ModelNeeds, devices: readonly DeviceProfile[], c: Constraints): void {
  const ids = new Set<string>();
  for (const d of devices) {
    if (ids.has(d.id)) throw new PlacementInputError(`device ${d.id} is listed twice`);
    ids.add(d.id);
  }
  const f = c.memorySafetyFraction ?? DEFAULT_MEMORY_SAFETY_FRACTION;
  if (!(f > 0 && f <= 1)) throw new PlacementInputError(`memorySafetyFraction ${f} must be in (0, 1]`);
  if (c.minNodes !== undefined && !(Number.isInteger(c.minNodes) && c.minNodes >= 1)) throw new PlacementInputError(`minNodes ${c.minNodes} must be a positive integer`);
  if (c.maxNodes !== undefined && !(Number.isInteger(c.maxNodes) && c.maxNodes >= (c.minNodes ?? 1))) throw new PlacementInputError(`maxNodes ${c.maxNodes} must be an integer ≥ minNodes`);
  if (needs.layers < 1 || needs.layerBytes.length !== needs.layers) throw new PlacementInputError(`model needs list ${needs.layerBytes.length} layers for ${needs.layers}`);
}

const GB = 1e9;
const fmt = (b: number) => `${(b / GB).toFixed(2)} GB`;

/** Place `needs` on some of `devices`; see the module comment. Same input, same output. */
export function place(needs: ModelNeeds, devices: readonly DeviceProfile[], links: readonly Link[], constraints: Constraints = {}, options: SolveOptions = {}): Placement {
  checkInputs(needs, devices, constraints);
  const safety = constraints.memorySafetyFraction ?? DEFAULT_MEMORY_SAFETY_FRACTION;
  const sorted = [...devices].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const reasons: DeviceReason[] = [];
  const eligible: DeviceProfile[] = [];
  for (const d of sorted) {
    const why = ineligibility(d, constraints);
    if (why) reasons.push(why);
    else eligible.push(d);
  }
  const maxMem = eligible.reduce((m, d) => Math.max(m, d.memoryBytes), 0);
  const cands: Candidate[] = eligible.map((d, index) => ({ index, device: d, rate: deratedRate(d), capacity: capacityBytes(d, safety), score: seedDeviceScore(d, maxMem) }));
  const minNodes = constraints.minNodes ?? 1;
  const maxNodes = Math.min(constraints.maxNodes ?? cands.length, cands.length, needs.layers);
  if (cands.length === 0) return failure("no_eligible_devices", needs, cands, 0, "every device is excluded, too hot, low on battery or without a backend", reasons);
  if (minNodes > maxNodes) return failure("not_enough_devices", needs, cands, maxNodes, `minNodes ${minNodes} but only ${maxNodes} usable devices (eligible, ≤ maxNodes, ≤ layers)`, reasons);

  const lookup = linkLookup(links);
  const problem: SearchProblem = {
    ctx: splitContext(needs),
    cands,
    links: lookup,
    hopBytes: needs.hiddenBytesPerToken * needs.sequences,
    returnBytes: TOKEN_ID_BYTES * needs.sequences,
    minNodes,
    maxNodes,
  };
  const strategy = options.strategy === "exact" || (options.strategy !== "heuristic" && cands.length <= EXACT_MAX_DEVICES) ? "exact" : "heuristic";
  const search = strategy === "exact" ? exactSearch : heuristicSearch;
  const best = search(problem);
  if (!best) {
    // Would it fit if every pair were linked? Then links, not memory, are what is missing.
    const anyLink: Link = { from: "", to: "", latencyMs: 0, throughputBytesPerSec: 1 };
    if (search({ ...problem, links: () => anyLink })) return failure("no_route", needs, cands, maxNodes, "the devices that could hold the model are not linked to each other", reasons);
    const needed = totalNeededBytes(needs);
    return failure("does_not_fit", needs, cands, maxNodes, `needs ${fmt(needed)} (weights + KV cache for ${needs.contextLength} tokens × ${needs.sequences} sequences) in whole layers`, reasons);
  }

  const stages: Stage[] = best.order.map((ci, j) => ({ nodeId: cands[ci]!.device.id, start: j === 0 ? 0 : best.ends[j - 1]!, end: best.ends[j]! }));
  const predicted = predictDecode(needs, stages, eligible, lookup, safety);
  let smallestStage = Infinity;
  for (let l = 0; l < needs.layers; l++) smallestStage = Math.min(smallestStage, stageMemoryBytes(needs, l, l + 1, false, false));
  const usedAt = new Map(stages.map((s, j) => [s.nodeId, j]));
  for (const c of cands) {
    const j = usedAt.get(c.device.id);
    if (j !== undefined) {
      const s = predicted.breakdown.stages[j]!;
      reasons.push({ nodeId: c.device.id, status: "used", detail: `stage ${j + 1} of ${stages.length}: layers ${s.start}–${s.end - 1}, holds ${fmt(s.memoryBytes)} of ${fmt(s.capacityBytes)}, ${(s.seconds * 1000).toFixed(2)} ms/token` });
    } else if (smallestStage > c.capacity) {
      reasons.push({ nodeId: c.device.id, status: "too_small", detail: `${fmt(c.capacity)} usable cannot hold one layer and its KV cache` });
    } else {
      reasons.push({ nodeId: c.device.id, status: "not_needed", detail: `eligible (${fmt(c.rate)}/s), but every plan using it was predicted slower` });
    }
  }
  return { ok: true, strategy, stages, predicted, reasons: sortReasons(reasons) };
}
