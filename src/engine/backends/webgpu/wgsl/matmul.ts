// Matmul kernels: out[t, r] = W[r] · x[t]. One workgroup computes one weight row for a group of
// tokens (TOKENS_PER_GROUP, or 1 for the decode-step matvec), so each weight byte is dequantised once
// per group; its threads split the row and add their partial sums in workgroup memory. Weights stay
// in their GGUF bytes. Both variants split and add in the same order, so a row's result does not
// depend on how many tokens share the dispatch.
import { GgmlType } from "../../../../gguf/types.js";
import { BYTE_HELPERS } from "./bytes.js";
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

/** The matmul of `type` weights for groups of `tokens` tokens (1: the matvec of a decode step). */
export function matmulShader(type: GgmlType, tokens: number): string {
  if (type === GgmlType.F32 || type === GgmlType.F16) return floatShader(type, tokens);
  return quantShader(type, tokens);
}
