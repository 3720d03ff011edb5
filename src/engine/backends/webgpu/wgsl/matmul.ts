// Matmul kernels: out[t, r] = W[r] · x[t]. Weights stay in their GGUF bytes.
// - matmulShader: one workgroup computes one weight row for a group of tokens (TOKENS_PER_GROUP, or 1
//   for a decode step of F32/F16 weights), so each weight byte is dequantised once per group; its
//   threads split the row and add their partial sums in workgroup memory. Both variants split and add
//   in the same order, so a row's result does not depend on how many tokens share the dispatch.
// - matvecShader: the decode step of quantised weights, several rows per workgroup, optionally fused
//   with the op that follows it in a layer.
import { GgmlType } from "../../../../gguf/types.js";
import { BYTE_HELPERS, readersOf, renameReaders } from "./bytes.js";
import { QUANT_FORMATS, UnsupportedWebGpuTypeError } from "./formats.js";

export const MATMUL_WORKGROUP = 64;
export const TOKENS_PER_GROUP = 8;

/** Uniform of every matmul: see the struct in the shader. */
export const MATMUL_PARAMS = `
struct P {
  rows: u32,      // rows in this weight chunk
  cols: u32,      // values per row
  nTok: u32,
  rowStart: u32,  // first row of this chunk in the whole matrix
  outRows: u32,   // rows of the whole matrix: the stride of out
  rowBytes: u32,
  gridX: u32,     // workgroups along x; rows beyond it continue along y
  _pad: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> w: array<u32>;
`;

const REDUCE_AND_STORE = `
  for (var t = 0u; t < TT; t++) { red[t * WG + tid] = acc[t]; }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { for (var t = 0u; t < TT; t++) { red[t * WG + tid] += red[t * WG + tid + s]; } }
    workgroupBarrier();
  }
  if (r < p.rows && tid < nt) { out[(t0 + tid) * p.outRows + p.rowStart + r] = red[tid * WG]; }
`;

function header(xType: string, tokens: number): string {
  return `${MATMUL_PARAMS}
@group(0) @binding(2) var<storage, read_write> x: array<${xType}>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
const WG = ${MATMUL_WORKGROUP}u;
const TT = ${tokens}u;
var<workgroup> red: array<f32, ${MATMUL_WORKGROUP * tokens}>;
${BYTE_HELPERS}
@compute @workgroup_size(${MATMUL_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let r = wid.x + wid.y * p.gridX;
  let t0 = wid.z * TT;
  let nt = min(TT, p.nTok - t0);
  var acc: array<f32, ${tokens}>;`;
}

/** A quantised type: x is read as vec4s (rows are whole blocks, so cols is a multiple of 32). */
function quantShader(type: GgmlType, tokens: number): string {
  const f = QUANT_FORMATS.get(type);
  if (!f) throw new UnsupportedWebGpuTypeError(type, "matmul");
  return `${header("vec4<f32>", tokens)}
  if (r < p.rows) {
    let rowBase = r * p.rowBytes;
    let units = p.cols >> 5u;
    let xRow = p.cols >> 2u;
    for (var u = tid; u < units; u += WG) {
      ${f.unit}
      for (var k = 0u; k < 8u; k++) {
        ${f.word}
        let xi = t0 * xRow + u * 8u + k;
        for (var t = 0u; t < TT; t++) { if (t < nt) { acc[t] += dot(wv, x[xi + t * xRow]); } }
      }
    }
  }
${REDUCE_AND_STORE}
}`;
}

/** F32 and F16 rows of any length; F16 rows of even length read two values per word. */
function floatShader(type: GgmlType.F32 | GgmlType.F16, tokens: number): string {
  const body = type === GgmlType.F32
    ? `let base = rowBase >> 2u;
    for (var c = tid; c < p.cols; c += WG) {
      let wv = bitcast<f32>(w[base + c]);
      for (var t = 0u; t < TT; t++) { if (t < nt) { acc[t] += wv * x[(t0 + t) * p.cols + c]; } }
    }`
    : `if ((p.cols & 1u) == 0u) {
      let base = rowBase >> 2u;
      for (var c = tid; c < (p.cols >> 1u); c += WG) {
        let wv = unpack2x16float(w[base + c]);
        for (var t = 0u; t < TT; t++) {
          if (t < nt) { let xi = (t0 + t) * p.cols + 2u * c; acc[t] += wv.x * x[xi] + wv.y * x[xi + 1u]; }
        }
      }
    } else {
      for (var c = tid; c < p.cols; c += WG) {
        let wv = f16at(rowBase + 2u * c);
        for (var t = 0u; t < TT; t++) { if (t < nt) { acc[t] += wv * x[(t0 + t) * p.cols + c]; } }
      }
    }`;
  return `${header("f32", tokens)}
  if (r < p.rows) {
    let rowBase = r * p.rowBytes;
    ${body}
  }
${REDUCE_AND_STORE}
}`;
}

/** How a decode-step matvec spreads over the GPU: threads per workgroup, rows per workgroup, reduction. */
export interface MatvecShape {
  readonly workgroup: number;
  readonly rows: number;
  /** Add partial sums with subgroupAdd (the device was opened with the "subgroups" feature). */
  readonly subgroups: boolean;
}

/** Chosen on an H100 (Vulkan) from a sweep of shapes; see docs/webgpu.md. */
export const DEFAULT_MATVEC_SHAPE: MatvecShape = { workgroup: 64, rows: 4, subgroups: true };

/**
 * What a decode-step matvec writes, fused with the op that follows it in a layer:
 * - store: out = W·x;
 * - add: out += W·x (the residual add after the attention output and FFN down projections);
 * - swiglu: out = silu(G·x) * (U·x) (the FFN's gate and up projections and their product);
 * - split3: out0 = W0·x, out1 = W1·x, out2 = W2·x (the q, k and v projections, rows one after another).
 * Each fused form computes exactly what the separate kernels would (the same sums, the same f32
 * expression after them), so results do not depend on whether a backend fuses.
 */
export type MatvecKind = "store" | "add" | "swiglu" | "split3";

/** Weight buffers each kind binds. */
export const MATVEC_WEIGHTS: Record<MatvecKind, number> = { store: 1, add: 1, swiglu: 2, split3: 3 };

/** Uniform of the decode-step matvecs. */
const MATVEC_PARAMS = `
struct P {
  rows0: u32,     // rows of the first weight (of each, for swiglu)
  rows1: u32,     // split3: rows of the second and third weights
  rows2: u32,
  cols: u32,
  rowBytes: u32,
  gridX: u32,     // workgroups along x; groups beyond it continue along y
  rowStart: u32,  // store, add: first row of this weight chunk in the whole matrix
  groups0: u32,   // split3: workgroups of the first weight, then of the first two
  groups1: u32,
}
@group(0) @binding(0) var<uniform> p: P;
`;

/**
 * The decode-step matvec of a quantised type: each workgroup computes `rows` neighbouring rows, so
 * every 32 activations a thread loads serve that many weight rows (one row per workgroup re-read the
 * whole activation vector per row, from cache, which capped the rate well below the memory bus). The
 * loops over rows and words are unrolled here, so accumulators and the loaded activations stay in
 * registers. Rows past the end are clamped onto the last row and their sums dropped.
 */
export function matvecShader(type: GgmlType, shape: MatvecShape, kind: MatvecKind = "store"): string {
  const f = QUANT_FORMATS.get(type);
  if (!f) throw new UnsupportedWebGpuTypeError(type, "matvec");
  const { workgroup: WG, rows: R, subgroups } = shape;
  if (!Number.isInteger(Math.log2(WG)) || WG < 8 || R < 1) throw new RangeError(`matvec shape ${WG} threads × ${R} rows`);
  const each = (n: number, body: (i: number) => string) => Array.from({ length: n }, (_, i) => body(i)).join("\n");
  const weights = MATVEC_WEIGHTS[kind];
  const outs = kind === "split3" ? 3 : 1;
  // Accumulators: one per row, or a gate and an up sum per row for swiglu.
  const named = (prefix: string) => Array.from({ length: R }, (_, i) => `${prefix}${i}`);
  const accs = kind === "swiglu" ? [...named("g"), ...named("u")] : named("a");
  const suffix = (wi: number) => (wi === 0 ? "" : `_${wi}`);
  const unit = (wi: number) => renameReaders(f.unit, suffix(wi));
  const fac = f.factored;
  const word = (wi: number) => renameReaders(fac ? fac.raw : f.word, suffix(wi));
  // One row's sum over a 32-value unit from weight buffer wi, added to accumulator acc.
  const rowSum = (wi: number, i: number, acc: string) => `    {
      let r = min(r0 + ${i}u, nRows - 1u);
      let rowBase = r * p.rowBytes;
      ${unit(wi)}
      var sq = 0.0;
${each(8, (k) => `      { let k = ${k}u; ${word(wi)} sq += dot(${fac ? "wq" : "wv"}, x${k}); }`)}
      ${acc} += ${fac ? fac.sum : "sq"};
    }`;
  const unitLoop = (body: string) => `  for (var u = tid; u < units; u += WG) {
${each(8, (k) => `    let x${k} = x[u * 8u + ${k}u];`)}
${fac?.sum.includes("sx") ? "    let sx = dot((x0 + x1) + (x2 + x3) + ((x4 + x5) + (x6 + x7)), vec4<f32>(1.0));" : ""}
${body}
  }`;
  let loops: string;
  if (kind === "swiglu") loops = unitLoop(each(R, (i) => rowSum(0, i, `g${i}`) + "\n" + rowSum(1, i, `u${i}`)));
  else if (kind === "split3") {
    loops = [0, 1, 2].map((wi) => `if (which == ${wi}u) {\n${unitLoop(each(R, (i) => rowSum(wi, i, `a${i}`)))}\n  }`).join(" else ");
  } else loops = unitLoop(each(R, (i) => rowSum(0, i, `a${i}`)));

  // Partial sums of all threads, added per accumulator: by subgroups and then across them, or by a
  // tree in workgroup memory. total(a) is accumulator a's sum, read by thread tid < R.
  const NA = accs.length;
  const reduce = subgroups
    ? `${accs.map((a) => `  let s_${a} = subgroupAdd(${a});`).join("\n")}
  let nsg = (WG + sgSize - 1u) / sgSize;
  if (sgLane == 0u) {
${accs.map((a, i) => `    red[${i}u * WG + tid / sgSize] = s_${a};`).join("\n")}
  }
  workgroupBarrier();`
    : `${accs.map((a, i) => `  red[${i}u * WG + tid] = ${a};`).join("\n")}
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { for (var i = 0u; i < ${NA}u; i++) { red[i * WG + tid] += red[i * WG + tid + s]; } }
    workgroupBarrier();
  }`;
  const total = subgroups
    ? `fn total(a: u32, n: u32) -> f32 { var t = 0.0; for (var i = 0u; i < n; i++) { t += red[a * WG + i]; } return t; }`
    : `fn total(a: u32, n: u32) -> f32 { return red[a * WG]; }`;
  const n = subgroups ? "nsg" : "1u";
  let store: string;
  if (kind === "store") store = `out0[p.rowStart + r0 + tid] = total(tid, ${n});`;
  else if (kind === "add") store = `out0[p.rowStart + r0 + tid] += total(tid, ${n});`;
  else if (kind === "swiglu") store = `let g = total(tid, ${n}); out0[r0 + tid] = g / (1.0 + exp(-g)) * total(R + tid, ${n});`;
  else store = `let t = total(tid, ${n}); if (which == 0u) { out0[r0 + tid] = t; } else if (which == 1u) { out1[r0 + tid] = t; } else { out2[r0 + tid] = t; }`;

  const bindings = [
    ...each(weights, (wi) => `@group(0) @binding(${1 + wi}) var<storage, read> ${wi === 0 ? "w" : `w${wi}`}: array<u32>;`).split("\n"),
    `@group(0) @binding(${1 + weights}) var<storage, read_write> x: array<vec4<f32>>;`,
    ...each(outs, (o) => `@group(0) @binding(${2 + weights + o}) var<storage, read_write> out${o}: array<f32>;`).split("\n"),
  ].join("\n");
  const which = kind === "split3"
    ? `  var which = 0u; var gl = g; var nRows = p.rows0;
  if (g >= p.groups1) { which = 2u; gl = g - p.groups1; nRows = p.rows2; } else if (g >= p.groups0) { which = 1u; gl = g - p.groups0; nRows = p.rows1; }`
    : `  let gl = g; let nRows = p.rows0;`;
  return `${subgroups ? "enable subgroups;" : ""}
${MATVEC_PARAMS}
${bindings}
const WG = ${WG}u;
const R = ${R}u;
var<workgroup> red: array<f32, ${WG * NA}>;
${BYTE_HELPERS}
${each(weights - 1, (i) => readersOf(`w${i + 1}`, suffix(i + 1)))}
${total}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32${subgroups ? ", @builtin(subgroup_invocation_id) sgLane: u32, @builtin(subgroup_size) sgSize: u32" : ""}) {
  let g = wid.x + wid.y * p.gridX;
${which}
  let r0 = gl * R;
${accs.map((a) => `  var ${a} = 0.0;`).join("\n")}
  let units = p.cols >> 5u;
${loops}
${reduce}
  if (tid < R && r0 + tid < nRows) { ${store} }
}`;
}

/** The matmul of `type` weights for groups of `tokens` tokens (1: a decode step of float weights). */
export function matmulShader(type: GgmlType, tokens: number): string {
  if (type === GgmlType.F32 || type === GgmlType.F16) return floatShader(type, tokens);
  return quantShader(type, tokens);
}
