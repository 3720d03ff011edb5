// Elementwise and attention kernels of the CPU backend, on plain Float32Arrays.
// They follow ggml's CPU arithmetic where it changes results: sums of squares in double, and keys,
// values and queries rounded to f16 as llama.cpp's default f16 KV cache does. Attention comes in
// llama.cpp's two forms: "flash" (its default: online softmax, the value sum kept in f16) and
// "classic" (full softmax, weights rounded to f16 for the value product).
import { roundToF16 } from "../../../gguf/quants/f16.js";
import type { RopeParams } from "../../backend.js";

export function rmsnorm(x: Float32Array, weight: Float32Array, rows: number, width: number, eps: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let sum = 0;
    for (let i = 0; i < width; i++) sum += x[base + i] * x[base + i];
    const scale = Math.fround(1 / Math.sqrt(Math.fround(sum / width) + eps));
    for (let i = 0; i < width; i++) out[base + i] = Math.fround(x[base + i] * scale) * weight[i];
  }
}

/** cos/sin per rotated pair for one position, built the way ggml's rope cache is (theta *= theta_scale in f32). */
function ropeAngles(pos: number, rope: RopeParams, cos: Float32Array, sin: Float32Array): void {
  const thetaScale = Math.fround(Math.pow(rope.base, -2 / rope.dims));
  let theta = Math.fround(pos);
  for (let i = 0; i < rope.dims / 2; i++) {
    const factor = rope.freqFactors ? rope.freqFactors[i] : 1;
    const angle = Math.fround(rope.freqScale * Math.fround(theta / factor));
    cos[i] = Math.cos(angle);
    sin[i] = Math.sin(angle);
    theta = Math.fround(theta * thetaScale);
  }
}

/** Per position: dims/2 cos values, then dims/2 sin values (f32), as rope uses them. */
export function ropeTable(positions: readonly number[], nTok: number, rope: RopeParams): Float32Array {
  const half = rope.dims / 2;
  const table = new Float32Array(nTok * 2 * half);
  for (let t = 0; t < nTok; t++) ropeAngles(positions[t], rope, table.subarray(2 * t * half, (2 * t + 1) * half), table.subarray((2 * t + 1) * half, (2 * t + 2) * half));
  return table;
}

export function rope(x: Float32Array, nTok: number, heads: number, headDim: number, positions: readonly number[], rope: RopeParams, table = ropeTable(positions, nTok, rope)): void {
  const half = rope.dims / 2;
  for (let t = 0; t < nTok; t++) {
    const cos = table.subarray(2 * t * half, (2 * t + 1) * half);
    const sin = table.subarray((2 * t + 1) * half, (2 * t + 2) * half);
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        // normal: pairs (2i, 2i+1); NeoX: pairs (i, i + dims/2).
        const a = rope.style === "normal" ? base + 2 * i : base + i;
        const b = rope.style === "normal" ? a + 1 : a + half;
        const x0 = x[a];
        const x1 = x[b];
        x[a] = x0 * cos[i] - x1 * sin[i];
        x[b] = x0 * sin[i] + x1 * cos[i];
      }
    }
  }
}

export interface CpuKvLayer {
  readonly k: Float32Array;
  readonly v: Float32Array;
}

/** Scaled dot products of one query head with every visible cached key, into scores[0..visible). */
function headScores(qh: Float32Array, k: Float32Array, kvDim: number, kvOff: number, visible: number, scale: number, scores: Float32Array): void {
  const headDim = qh.length;
  for (let p = 0; p < visible; p++) {
    const kBase = p * kvDim + kvOff;
    let dot = 0;
    for (let d = 0; d < headDim; d++) dot += qh[d] * k[kBase + d];
    scores[p] = Math.fround(Math.fround(dot) * scale);
  }
}

/** The query head at qBase, rounded to f16 when the kernel being reproduced converts it to the K type. */
function loadQuery(q: Float32Array, qBase: number, qh: Float32Array, toF16: boolean): void {
  for (let d = 0; d < qh.length; d++) qh[d] = toF16 ? roundToF16(q[qBase + d]) : q[qBase + d];
}

/**
 * f32(x * w + c) rounded once from the exact value, as a fused multiply-add gives it, for x * w exact
 * in f64: true of an f16 value times an f32 (11 + 24 significant bits). The f64 sum s is exact but in
 * the rarest cases, and rounding it to f32 gives the fused result unless s lies exactly halfway
 * between two f32 values while the exact sum does not: then the error of s (TwoSum) picks the side.
 */
export function fmaF32(x: number, w: number, c: number): number {
  const p = x * w;
  const s = p + c;
  const r = Math.fround(s);
  if (r === s) return r;
  // s = r + d with |d| at most half an f32 step; the f32 neighbour on s's other side is r + 2d when s is halfway.
  const other = 2 * s - r;
  if (Math.fround(other) !== other) return r;
  const b = s - p;
  const err = (p - (s - b)) + (c - b);
  if (err === 0) return r;
  return (err > 0) === (s > r) ? other : r;
}

/**
 * Causal flash attention for nTok new rows starting at position `start`, as ggml's CPU
 * flash_attn_ext computes it for fewer than 64 query rows: one pass over the cache with a running
 * maximum, the weighted value sum accumulated in f16 and rescaled whenever the maximum grows,
 * divided by the weight sum at the end. Each value update is one fused multiply-add in f32, as
 * ggml's vectorised f16 update is on x86 with FMA and on Arm (fmaF32), then rounded to f16.
 */
export function flashAttention(
  q: Float32Array, layer: CpuKvLayer, start: number, nTok: number,
  heads: number, kvHeads: number, headDim: number, out: Float32Array, scores: Float32Array,
): void {
  const group = heads / kvHeads;
  const kvDim = kvHeads * headDim;
  const scale = Math.fround(1 / Math.sqrt(headDim));
  const qh = new Float32Array(headDim);
  const acc = new Float32Array(headDim);
  for (let t = 0; t < nTok; t++) {
    const visible = start + t + 1;
    for (let h = 0; h < heads; h++) {
      const qBase = (t * heads + h) * headDim;
      const kvOff = Math.floor(h / group) * headDim;
      loadQuery(q, qBase, qh, true);
      headScores(qh, layer.k, kvDim, kvOff, visible, scale, scores);
      acc.fill(0);
      let sum = 0;
      let max = -Infinity;
      for (let p = 0; p < visible; p++) {
        const s = scores[p];
        let ms = 1;
        let vs = 1;
        if (s > max) {
          ms = Math.fround(Math.exp(max - s));
          max = s;
          if (ms !== 1) for (let d = 0; d < headDim; d++) acc[d] = roundToF16(acc[d] * ms);
        } else {
          vs = Math.fround(Math.exp(s - max));
        }
        const vBase = p * kvDim + kvOff;
        for (let d = 0; d < headDim; d++) acc[d] = roundToF16(fmaF32(layer.v[vBase + d], vs, acc[d]));
        sum = Math.fround(sum * ms + vs);
      }
      const inv = Math.fround(1 / sum);
      for (let d = 0; d < headDim; d++) out[qBase + d] = acc[d] * inv;
    }
  }
}

/**
 * Causal softmax attention for nTok new rows starting at position `start`, after their keys and
 * values were stored. q: nTok × heads × headDim; out likewise. Heads share kv heads in groups (GQA).
 * `f16Softmax` reproduces llama.cpp without flash attention (query and attention weights rounded to
 * f16 for their products with the f16 cache); without it, everything stays f32, as ggml's tiled
 * flash attention computes batches of 64 or more query rows. The weighted values are summed in f32,
 * one fused multiply-add per value (fmaF32), as ggml's vectorised f32 loops do.
 */
export function attention(
  q: Float32Array, layer: CpuKvLayer, start: number, nTok: number,
  heads: number, kvHeads: number, headDim: number, out: Float32Array, scores: Float32Array, f16Softmax: boolean,
): void {
  const group = heads / kvHeads;
  const kvDim = kvHeads * headDim;
  const scale = Math.fround(1 / Math.sqrt(headDim));
  const qh = new Float32Array(headDim);
  for (let t = 0; t < nTok; t++) {
    const visible = start + t + 1;
    for (let h = 0; h < heads; h++) {
      const qBase = (t * heads + h) * headDim;
      const kvOff = Math.floor(h / group) * headDim;
      loadQuery(q, qBase, qh, f16Softmax);
      headScores(qh, layer.k, kvDim, kvOff, visible, scale, scores);
      let max = -Infinity;
      for (let p = 0; p < visible; p++) if (scores[p] > max) max = scores[p];
      let sum = 0;
      for (let p = 0; p < visible; p++) {
        const e = Math.fround(Math.exp(scores[p] - max));
        scores[p] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let p = 0; p < visible; p++) scores[p] = f16Softmax ? roundToF16(scores[p] * inv) : Math.fround(scores[p] * inv);
      for (let d = 0; d < headDim; d++) out[qBase + d] = 0;
      for (let p = 0; p < visible; p++) {
        const w = scores[p];
        const vBase = p * kvDim + kvOff;
        for (let d = 0; d < headDim; d++) out[qBase + d] = fmaF32(layer.v[vBase + d], w, out[qBase + d]);
      }
    }
  }
}

export function storeKv(layer: CpuKvLayer, start: number, nTok: number, kvDim: number, k: Float32Array, v: Float32Array): void {
  for (let i = 0; i < nTok * kvDim; i++) {
    layer.k[start * kvDim + i] = roundToF16(k[i]);
    layer.v[start * kvDim + i] = roundToF16(v[i]);
  }
}

export function siluMul(gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    gate[i] = Math.fround(g / (1 + Math.exp(-g))) * up[i];
  }
}

export function add(dst: Float32Array, src: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] += src[i];
}
