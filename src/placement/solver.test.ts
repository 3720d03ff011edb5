import { test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../random/mulberry32.js";
import { predictDecode, stageMemoryBytes } from "./cost.js";
import { exoBaseline } from "./exo-baseline.js";
import { LLAMA_3_2_3B_Q4_K_M, LLAMA_3_8B_Q4_K_M, needsFromShape, totalNeededBytes } from "./model-needs.js";
import { place } from "./solver.js";
import { device, fullMesh, GB, MB, randomCluster } from "./test-support.js";
import type { Placement, PlacementOk } from "./types.js";

const needs8b = needsFromShape(LLAMA_3_8B_Q4_K_M, { contextLength: 4096 });
const wifi = (ids: string[]) => fullMesh(ids.map((id) => device(id, 1, 1)), 5, 20 * MB);

function ok(p: Placement): PlacementOk {
  assert.ok(p.ok, `expected a placement, got ${JSON.stringify(p)}`);
  return p;
}
const statusOf = (p: Placement, id: string) => p.reasons.find((r) => r.nodeId === id)?.status;

test("a model that fits on one fast device runs there alone, whatever exo's rule would do (exo #489)", () => {
  const needs = needsFromShape(LLAMA_3_2_3B_Q4_K_M, { contextLength: 4096 });
  const fast = device("m2-max", 32, 240);
  const slow = device("m1-air", 16, 50);
  const links = wifi(["m2-max", "m1-air"]);
  const p = ok(place(needs, [fast, slow], links));
  assert.deepEqual(p.stages, [{ nodeId: "m2-max", start: 0, end: 28 }]);
  assert.equal(statusOf(p, "m1-air"), "not_needed");
  const exo = exoBaseline(needs, [fast, slow], links);
  assert.equal(exo.stages.length, 2);
  assert.ok(exo.predicted!.secondsPerToken > p.predicted.secondsPerToken * 1.5);
});

test("the model is split when no device holds it, every stage within its memory", () => {
  const a = device("a", 3.5, 100);
  const b = device("b", 3.5, 50);
  const p = ok(place(needs8b, [a, b], fullMesh([a, b], 0.5, 1000 * MB)));
  assert.equal(p.stages.length, 2);
  for (const s of p.predicted.breakdown.stages) assert.ok(s.memoryBytes <= s.capacityBytes);
  // The faster device is filled as far as memory allows: one more layer would not fit.
  const onA = p.stages.find((s) => s.nodeId === "a")!;
  const first = p.stages[0]!.nodeId === "a";
  const grown = first ? stageMemoryBytes(needs8b, 0, onA.end + 1, true, false) : stageMemoryBytes(needs8b, onA.start - 1, 32, false, true);
  assert.ok(grown > 0.9 * 3.5 * GB);
});

test("the KV cache counts: a longer context × more sequences changes the answer", () => {
  const big = device("big", 6.5, 100);
  const small = device("small", 4, 80);
  const links = fullMesh([big, small], 0.5, 1000 * MB);
  const short = ok(place(needsFromShape(LLAMA_3_8B_Q4_K_M, { contextLength: 2048 }), [big, small], links));
  assert.deepEqual(short.stages.map((s) => s.nodeId), ["big"]);
  const long = ok(place(needsFromShape(LLAMA_3_8B_Q4_K_M, { contextLength: 8192, sequences: 2 }), [big, small], links));
  assert.equal(long.stages.length, 2);
  for (const s of long.predicted.breakdown.stages) assert.ok(s.memoryBytes <= s.capacityBytes);
});

test("exclusions, battery floor and critical thermal state leave devices out, with reasons", () => {
  const fast = device("fast", 16, 200);
  const hot = device("hot", 16, 400, { thermal: "critical" });
  const flat = device("flat", 16, 300, { battery: { percent: 10, charging: false, lowPowerMode: false } });
  const plugged = device("plugged", 16, 250, { battery: { percent: 10, charging: true, lowPowerMode: false } });
  const devices = [fast, hot, flat, plugged];
  const links = wifi(devices.map((d) => d.id));
  const p = ok(place(needs8b, devices, links));
  assert.deepEqual(p.stages.map((s) => s.nodeId), ["plugged"]);
  assert.equal(statusOf(p, "hot"), "thermal_critical");
  assert.equal(statusOf(p, "flat"), "battery_low");
  const q = ok(place(needs8b, devices, links, { excluded: ["plugged"] }));
  assert.deepEqual(q.stages.map((s) => s.nodeId), ["fast"]);
  assert.equal(statusOf(q, "plugged"), "excluded");
  // A lower floor admits the flat device, the fastest left.
  const r = ok(place(needs8b, devices, links, { minBatteryPercent: 5 }));
  assert.deepEqual(r.stages.map((s) => s.nodeId), ["flat"]);
  // Thermal "serious" derates to 0.6: 400 × 0.6 = 240 beats 200.
  const warm = ok(place(needs8b, [fast, { ...hot, thermal: "serious" }], links));
  assert.deepEqual(warm.stages.map((s) => s.nodeId), ["hot"]);
});

test("minNodes and maxNodes bound the chain", () => {
  const a = device("a", 16, 200);
  const b = device("b", 16, 100);
  const c = device("c", 3.5, 100);
  const links = fullMesh([a, b, c], 0.2, 1000 * MB);
  assert.equal(ok(place(needs8b, [a, b, c], links)).stages.length, 1);
  assert.equal(ok(place(needs8b, [a, b, c], links, { minNodes: 2 })).stages.length, 2);
  assert.equal(ok(place(needs8b, [a, b, c], links, { minNodes: 3 })).stages.length, 3);
  const tooSmall = [device("x", 3.5, 100), device("y", 3.5, 100), device("z", 3.5, 100)];
  const p = place(needs8b, tooSmall, fullMesh(tooSmall, 0.2, 1000 * MB), { maxNodes: 1 });
  assert.equal(p.ok, false);
  assert.equal(ok(place(needs8b, tooSmall, fullMesh(tooSmall, 0.2, 1000 * MB), { maxNodes: 2 })).stages.length, 2);
  const q = place(needs8b, [a], [], { minNodes: 2 });
  assert.equal(!q.ok && q.reason, "not_enough_devices");
});

test("does not fit: the exact shortfall in bytes", () => {
  const needed = totalNeededBytes(needs8b);
  // Two devices whose usable bytes (memory × 0.9) fall exactly 1 GB short of the total.
  const each = (needed - 1e9) / 2 / 0.9;
  const devices = [device("a", each / GB, 100), device("b", each / GB, 100)];
  const p = place(needs8b, devices, fullMesh(devices, 1, 100 * MB));
  assert.equal(p.ok, false);
  if (p.ok) return;
  assert.equal(p.reason, "does_not_fit");
  assert.equal(p.neededBytes, needed);
  assert.ok(Math.abs(p.shortfallBytes - 1e9) <= 2, `shortfall ${p.shortfallBytes}`);
  // Unlinked devices that could hold it together: no route.
  const roomy = [device("a", 4, 100), device("b", 4, 100)];
  const q = place(needs8b, roomy, []);
  assert.equal(!q.ok && q.reason, "no_route");
  const none = place(needs8b, roomy, [], { excluded: ["a", "b"] });
  assert.equal(!none.ok && none.reason, "no_eligible_devices");
});

test("never slower than the best single device, exact and heuristic, on 300 random clusters", () => {
  const rand = mulberry32(7);
  let checked = 0;
  for (let i = 0; i < 300; i++) {
    const { needs, devices, links } = randomCluster(rand);
    const singles = devices.flatMap((d) => {
      const alone = place(needs, [d], []);
      return alone.ok ? [alone.predicted.secondsPerToken] : [];
    });
    if (singles.length === 0) continue;
    checked++;
    const bestSingle = Math.min(...singles);
    for (const strategy of ["exact", "heuristic"] as const) {
      const p = ok(place(needs, devices, links, {}, { strategy }));
      assert.ok(p.predicted.secondsPerToken <= bestSingle * (1 + 1e-12), `cluster ${i} ${strategy}`);
    }
  }
  assert.ok(checked > 80, `checked ${checked}`);
});

test("deterministic: shuffled inputs give the same placement", () => {
  const rand = mulberry32(99);
  for (let i = 0; i < 40; i++) {
    const { needs, devices, links, constraints } = randomCluster(rand);
    const a = place(needs, devices, links, constraints);
    const b = place(needs, [...devices].reverse(), [...links].reverse(), constraints);
    assert.deepEqual(b, a);
  }
  // Exact ties (identical devices) break by seed score, then id.
  const twins = [device("b", 16, 100), device("a", 16, 100), device("c", 16, 100, { utilisation: 0 })];
  const p = ok(place(needs8b, twins, wifi(["a", "b", "c"])));
  assert.deepEqual(p.stages.map((s) => s.nodeId), ["a"]);
});

test("the reported prediction is the cost model's for the returned stages", () => {
  const devices = [device("a", 3, 100), device("b", 4, 60), device("c", 8, 20)];
  const links = fullMesh(devices, 1, 100 * MB);
  const p = ok(place(needs8b, devices, links));
  assert.deepEqual(p.predicted, predictDecode(needs8b, p.stages, devices, links));
  assert.equal(p.strategy, "exact");
});
