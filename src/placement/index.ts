// The placement solver's public surface: model needs, the cost model, the solver and exo's baseline.
export type * from "./types.js";
export { DEFAULT_MEMORY_SAFETY_FRACTION, DEFAULT_MIN_BATTERY_PERCENT } from "./types.js";
export { modelNeeds, needsFromShape, totalNeededBytes, q4kmLayerType, LLAMA_3_2_3B_Q4_K_M, LLAMA_3_8B_Q4_K_M, LLAMA_3_70B_Q4_K_M } from "./model-needs.js";
export type { ModelShape, NeedsOptions } from "./model-needs.js";
export {
  PlacementInputError,
  THERMAL_FACTOR,
  LOW_POWER_FACTOR,
  ASSUMED_FLOPS_PER_WEIGHT_BYTE,
  PREFILL_CHUNK,
  TOKEN_ID_BYTES,
  capacityBytes,
  derateFactor,
  deratedRate,
  deratedFlops,
  linkLookup,
  hopSeconds,
  stageStreamBytes,
  stageMemoryBytes,
  predictDecode,
  predictPrefill,
} from "./cost.js";
export type { LinkLookup, PrefillPrediction } from "./cost.js";
export { seedDeviceScore, SEED_MEMORY_WEIGHT, SEED_UTILISATION_WEIGHT, SEED_THERMAL_PENALTY } from "./score.js";
export { place, EXACT_MAX_DEVICES } from "./solver.js";
export type { SolveOptions } from "./solver.js";
export { exoBaseline, exoMemoryProportionalStages } from "./exo-baseline.js";
export type { BaselinePlan } from "./exo-baseline.js";
