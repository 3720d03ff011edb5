// Kernels that work a row at a time: rmsnorm (one workgroup per row), rope (one thread per rotated
// pair) and embedding look-up (one thread per value, straight from the table's GGUF bytes).
import type { GgmlType } from "../../../../gguf/types.js";
import { BYTE_HELPERS } from "./bytes.js";
import { elemBody } from "./formats.js";

export const ROW_WORKGROUP = 64;

/** out[r] = x[r] / rms(x[r]) * weight over rows of width; `inPlace` writes the result back into x. */
export function rmsnormShader(inPlace: boolean): string {
  return `
struct P { rows: u32, width: u32, eps: f32, gridX: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
${inPlace ? "" : "@group(0) @binding(3) var<storage, read_write> out: array<f32>;"}
var<workgroup> red: array<f32, ${ROW_WORKGROUP}>;
@compute @workgroup_size(${ROW_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let r = wid.y * p.gridX + wid.x;
  let base = r * p.width;
  var sum = 0.0;
  if (r < p.rows) { for (var i = tid; i < p.width; i += ${ROW_WORKGROUP}u) { let v = x[base + i]; sum += v * v; } }
  red[tid] = sum;
  workgroupBarrier();
  for (var s = ${ROW_WORKGROUP / 2}u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  if (r >= p.rows) { return; }
  let scale = 1.0 / sqrt(red[0] / f32(p.width) + p.eps);
  // Each thread rewrites only the values it read, so the in-place form needs no second barrier.
  for (var i = tid; i < p.width; i += ${ROW_WORKGROUP}u) { ${inPlace ? "x" : "out"}[base + i] = x[base + i] * scale * weight[i]; }
}`;
}

/**
 * Rotary embedding in place. Angles are built as ggml builds its rope cache (theta multiplied by
 * theta_scale once per pair, in f32), then reduced to [-pi/4, pi/4] before sin and cos: shader sin/cos
 * are only accurate near zero, and positions reach thousands of radians.
 */
export function ropeShader(pair: boolean): string {
  return `
struct P { nTok: u32, heads: u32, headDim: u32, half: u32, thetaScale: f32, freqScale: f32, neox: u32, hasFactors: u32, gridX: u32, yHeads: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> positions: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read> factors: array<f32>;
${pair ? "@group(0) @binding(4) var<storage, read_write> y: array<f32>;" : ""}
fn sincos(a: f32) -> vec2<f32> {
  // Cody-Waite reduction by pi/2 in three parts, then polynomials on [-pi/4, pi/4].
  let j = round(a * 0.63661977236758134);
  let r = ((a - j * 1.5703125) - j * 4.837512969970703125e-4) - j * 7.54978995489188216e-8;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let q = i32(j) & 3;
  if (q == 0) { return vec2<f32>(s, c); }
  if (q == 1) { return vec2<f32>(c, -s); }
  if (q == 2) { return vec2<f32>(-s, -c); }
  return vec2<f32>(-c, s);
}
@compute @workgroup_size(${ROW_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = (wid.y * p.gridX + wid.x) * ${ROW_WORKGROUP}u + lid;
  let i = g % p.half;
  let xRows = p.nTok * p.heads;
  var th = g / p.half;
  ${pair ? "let inY = th >= xRows;\n  if (inY) { th -= xRows; }\n  if (th >= p.nTok * select(p.heads, p.yHeads, inY)) { return; }\n  let t = th / select(p.heads, p.yHeads, inY);" : "if (th >= xRows) { return; }\n  let t = th / p.heads;"}
  var theta = f32(positions[t]);
  for (var k = 0u; k < i; k++) { theta = theta * p.thetaScale; }
  var f = 1.0;
  if (p.hasFactors != 0u) { f = factors[i]; }
  let sc = sincos(p.freqScale * (theta / f));
  let base = th * p.headDim;
  var a = base + 2u * i;
  var b = a + 1u;
  if (p.neox != 0u) { a = base + i; b = a + p.half; }
  ${pair ? `if (inY) {
    let y0 = y[a];
    let y1 = y[b];
    y[a] = y0 * sc.y - y1 * sc.x;
    y[b] = y0 * sc.x + y1 * sc.y;
    return;
  }` : ""}
  let x0 = x[a];
  let x1 = x[b];
  x[a] = x0 * sc.y - x1 * sc.x;
  x[b] = x0 * sc.x + x1 * sc.y;
}`;
}

/** out[pairs[2n], :] = row pairs[2n+1] of this table chunk, for n < count. */
export function embedShader(type: GgmlType): string {
  return `
struct P { count: u32, cols: u32, rowBytes: u32, gridX: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> pairs: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${BYTE_HELPERS}
fn elem(rowBase: u32, c: u32) -> f32 { ${elemBody(type)} }
@compute @workgroup_size(${ROW_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * ${ROW_WORKGROUP}u + lid;
  let n = wid.y;
  if (c >= p.cols || n >= p.count) { return; }
  out[pairs[2u * n] * p.cols + c] = elem(pairs[2u * n + 1u] * p.rowBytes, c);
}`;
}
