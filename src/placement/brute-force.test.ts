// The solver against exhaustive enumeration on 500 seeded random clusters of 2–6 devices and 8–12 layers:
// the exact search must reach the brute-force optimum every time, and the heuristic must stay within
// HEURISTIC_BOUND of it (and find a placement whenever one exists).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../random/mulberry32.js";
import { predictDecode } from "./cost.js";
import { place } from "./solver.js";
import { bruteForce, randomCluster } from "./test-support.js";

const CLUSTERS = 500;
/** The heuristic's stated guarantee on these clusters: at most this many times the optimal time per token. */
const HEURISTIC_BOUND = 1.15;

test("exact search equals the brute-force optimum on 500 random clusters; heuristic within its bound", () => {
  const rand = mulberry32(20240611);
  let feasible = 0;
  let multiStage = 0;
  let worstRatio = 1;
  let heuristicOptimal = 0;
  for (let i = 0; i < CLUSTERS; i++) {
    const { needs, devices, links, constraints } = randomCluster(rand);
    const truth = bruteForce(needs, devices, links, constraints);
    const exact = place(needs, devices, links, constraints, { strategy: "exact" });
    const heur = place(needs, devices, links, constraints, { strategy: "heuristic" });
    if (!truth) {
      assert.equal(exact.ok, false, `cluster ${i}: exact found a placement the brute force did not`);
      assert.equal(heur.ok, false, `cluster ${i}: heuristic found a placement the brute force did not`);
      continue;
    }
    feasible++;
    assert.ok(exact.ok, `cluster ${i}: exact found nothing; brute force ${truth.seconds}`);
    // The brute-force figure, re-priced by the cost model as a whole, and the solver's own prediction.
    const truthSeconds = predictDecode(needs, truth.stages, devices, links).secondsPerToken;
    assert.ok(Math.abs(truthSeconds - truth.seconds) <= 1e-12 * truthSeconds);
    const rel = Math.abs(exact.predicted.secondsPerToken - truthSeconds) / truthSeconds;
    assert.ok(rel <= 1e-9, `cluster ${i}: exact ${exact.predicted.secondsPerToken} vs brute force ${truthSeconds}`);
    if (exact.stages.length > 1) multiStage++;
    assert.ok(heur.ok, `cluster ${i}: heuristic found nothing though a placement exists`);
    const ratio = heur.predicted.secondsPerToken / truthSeconds;
    assert.ok(ratio >= 1 - 1e-9, `cluster ${i}: heuristic beat the optimum (${ratio})`);
    if (ratio <= 1 + 1e-9) heuristicOptimal++;
    worstRatio = Math.max(worstRatio, ratio);
  }
  // The sample must exercise both outcomes and real splits, or it proves little.
  assert.ok(feasible > 300 && feasible < CLUSTERS, `feasible clusters: ${feasible}`);
  assert.ok(multiStage > 100, `multi-stage optima: ${multiStage}`);
  assert.ok(worstRatio <= HEURISTIC_BOUND, `heuristic worst ratio ${worstRatio}`);
  console.log(`# ${feasible}/${CLUSTERS} feasible, ${multiStage} multi-stage optima; heuristic optimal in ${heuristicOptimal}, worst ratio ${worstRatio.toFixed(6)}`);
});
