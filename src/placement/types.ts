// The placement solver's vocabulary: what a model needs, what a device offers, how devices are linked,
// what the caller forbids, and the placement (or the refusal) the solver returns. All plain data.

/** What one model asks of the devices that run it, in bytes, for one configured context. */
export interface ModelNeeds {
  readonly name: string;
  readonly layers: number;
  /** Weight bytes of each transformer block (its `blk.N.*` tensors); quant types can differ per layer. */
  readonly layerBytes: readonly number[];
  /** Multiply-adds × 2 of each block's weight matrices for one token (prefill's compute). */
  readonly layerFlopsPerToken: readonly number[];
  /** token_embd: held by the first stage; decode reads one row of it, so it is not streamed. */
  readonly embeddingBytes: number;
  /** The output head (output.weight, or the tied embedding) plus output_norm: streamed by the last stage. */
  readonly outputBytes: number;
  readonly outputFlopsPerToken: number;
  /** Bytes of outputBytes that are the embedding itself (tied heads): held once when first = last. */
  readonly tiedHeadBytes: number;
  /** Tensors every stage holds (e.g. rope_freqs). */
  readonly sharedBytes: number;
  /** K and V for one token in one layer: 2 × kvHeads × headDim × 2 bytes (f16 cache). */
  readonly kvBytesPerTokenPerLayer: number;
  /** Activations sent between stages for one token: dim × 4 bytes (f32). */
  readonly hiddenBytesPerToken: number;
  /** Tokens of KV cache reserved per sequence. */
  readonly contextLength: number;
  /** Sequences decoded together; the KV cache and each hop's payload scale with it. */
  readonly sequences: number;
  /** The ggml type holding most of the layers' bytes (e.g. "Q8_0"): decode speed depends on it. */
  readonly weightType?: string;
}

export type BackendKind = "cpu" | "webgpu";
export type Thermal = "nominal" | "fair" | "serious" | "critical";

export interface BackendProfile {
  readonly kind: BackendKind;
  /** Measured decode rate in weight bytes per second (decode is memory-bound: bytes read ÷ time). */
  readonly weightBytesPerSec: number;
  /** Measured dense matmul throughput; prefill uses it when present. */
  readonly flopsPerSec?: number;
}

export interface DeviceProfile {
  readonly id: string;
  readonly name: string;
  /** Memory available for weights and KV cache on the backend that runs them. */
  readonly memoryBytes: number;
  readonly backends: readonly BackendProfile[];
  /** Fraction of the device already busy with other work, 0..1. */
  readonly utilisation: number;
  readonly thermal: Thermal;
  readonly battery?: { readonly percent: number; readonly charging: boolean; readonly lowPowerMode: boolean };
}

/** A measured link; a link given one way is assumed to hold the other way too unless that one is given. */
export interface Link {
  readonly from: string;
  readonly to: string;
  readonly latencyMs: number;
  readonly throughputBytesPerSec: number;
}

export interface Constraints {
  /** Fraction of each device's memory the solver may plan to fill (default 0.9). */
  readonly memorySafetyFraction?: number;
  readonly excluded?: readonly string[];
  /** A device on battery (not charging) below this percentage is left out (default 20). */
  readonly minBatteryPercent?: number;
  readonly minNodes?: number;
  readonly maxNodes?: number;
}

export const DEFAULT_MEMORY_SAFETY_FRACTION = 0.9;
export const DEFAULT_MIN_BATTERY_PERCENT = 20;

/** One pipeline stage: device `nodeId` runs layers [start, end). */
export interface Stage {
  readonly nodeId: string;
  readonly start: number;
  readonly end: number;
}

export interface StageCost {
  readonly nodeId: string;
  readonly start: number;
  readonly end: number;
  /** Bytes read from memory per decoded token: its layers, plus the output head on the last stage. */
  readonly streamBytes: number;
  /** The device's derated decode rate. */
  readonly bytesPerSec: number;
  readonly seconds: number;
  /** Bytes it must hold (weights, KV cache, embedding/head where held), before the safety fraction. */
  readonly memoryBytes: number;
  /** memoryBytes × safety fraction: what the solver lets it fill. */
  readonly capacityBytes: number;
}

export interface HopCost {
  readonly from: string;
  readonly to: string;
  /** "forward": the hidden state to the next stage; "return": the sampled token back to the first. */
  readonly kind: "forward" | "return";
  readonly bytes: number;
  readonly seconds: number;
}

export interface Prediction {
  readonly secondsPerToken: number;
  /** Tokens per second for each sequence (every sequence advances one token per step). */
  readonly tokPerSec: number;
  readonly breakdown: { readonly stages: readonly StageCost[]; readonly hops: readonly HopCost[] };
}

export type DeviceStatus =
  | "used"
  | "not_needed"
  | "excluded"
  | "thermal_critical"
  | "battery_low"
  | "no_backend"
  | "too_small";

export interface DeviceReason {
  readonly nodeId: string;
  readonly status: DeviceStatus;
  readonly detail: string;
}

export interface PlacementOk {
  readonly ok: true;
  readonly strategy: "exact" | "heuristic";
  readonly stages: readonly Stage[];
  readonly predicted: Prediction;
  readonly reasons: readonly DeviceReason[];
}

export type PlacementFailureReason = "does_not_fit" | "no_eligible_devices" | "not_enough_devices" | "no_route";

export interface PlacementFailure {
  readonly ok: false;
  readonly reason: PlacementFailureReason;
  /** neededBytes − usableBytes when positive; 0 when the bytes add up but whole layers do not pack. */
  readonly shortfallBytes: number;
  /** Every tensor once plus the KV cache for all layers. */
  readonly neededBytes: number;
  /** Σ memory × safety over the (up to maxNodes) largest eligible devices. */
  readonly usableBytes: number;
  readonly detail: string;
  readonly reasons: readonly DeviceReason[];
}

export type Placement = PlacementOk | PlacementFailure;
