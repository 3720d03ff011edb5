import { F16_ROUND } from "./elementwise.js";
// Causal attention over the device-resident KV cache, one workgroup per (query row, head). The chunk's
// own keys and values are read from the k and v projections (rounded to f16 as the cache holds them),
// and the first query head of each KV group stores its row into the cache: no workgroup reads a cache
// row that another writes in the same dispatch, so appending needs no dispatch of its own. The cache
// is walked in tiles of ATTENTION_TILE positions with a running maximum and sum (online softmax), so
// any context length works in fixed workgroup memory; each thread owns headDim/ATTENTION_TILE of the
// output values. Heads share KV heads in groups (GQA).
export const ATTENTION_TILE = 64;
/** Largest head size: each of the tile's threads keeps four output accumulators. */
export const MAX_HEAD_DIM = ATTENTION_TILE * 4;

export const ATTENTION = /* wgsl */ `
struct P { start: u32, heads: u32, headDim: u32, kvDim: u32, group: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> kn: array<f32>;
@group(0) @binding(3) var<storage, read_write> vn: array<f32>;
@group(0) @binding(4) var<storage, read_write> kc: array<f32>;
@group(0) @binding(5) var<storage, read_write> vc: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
${F16_ROUND}
// Value off of position pos: from the cache before the chunk, else from the chunk's own row.
fn value(pos: u32, off: u32) -> f32 {
  if (pos < p.start) { return vc[pos * p.kvDim + off]; }
  return f16round(vn[(pos - p.start) * p.kvDim + off]);
}
const TILE = ${ATTENTION_TILE}u;
var<workgroup> qs: array<f32, ${MAX_HEAD_DIM}>;
var<workgroup> scores: array<f32, ${ATTENTION_TILE}>;
@compute @workgroup_size(${ATTENTION_TILE})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let t = wid.y;
  let qBase = (t * p.heads + h) * p.headDim;
  let kvOff = (h / p.group) * p.headDim;
  for (var d = tid; d < p.headDim; d += TILE) { qs[d] = q[qBase + d]; }
  if (h % p.group == 0u) {
    let src = t * p.kvDim + kvOff;
    let dst = (p.start + t) * p.kvDim + kvOff;
    for (var d = tid; d < p.headDim; d += TILE) {
      kc[dst + d] = f16round(kn[src + d]);
      vc[dst + d] = f16round(vn[src + d]);
    }
  }
  workgroupBarrier();
  let visible = p.start + t + 1u;
  var m = -3.0e38;
  var l = 0.0;
  var acc = vec4<f32>(0.0);
  for (var tile = 0u; tile < visible; tile += TILE) {
    let pos = tile + tid;
    var s = -3.0e38;
    if (pos < visible) {
      var dotp = 0.0;
      if (pos < p.start) {
        let kBase = pos * p.kvDim + kvOff;
        for (var d = 0u; d < p.headDim; d++) { dotp += qs[d] * kc[kBase + d]; }
      } else {
        let nBase = (pos - p.start) * p.kvDim + kvOff;
        for (var d = 0u; d < p.headDim; d++) { dotp += qs[d] * f16round(kn[nBase + d]); }
      }
      s = dotp * p.scale;
    }
    scores[tid] = s;
    workgroupBarrier();
    let n = min(TILE, visible - tile);
    var mNew = m;
    for (var i = 0u; i < n; i++) { mNew = max(mNew, scores[i]); }
    let corr = exp(m - mNew);
    l *= corr;
    acc *= corr;
    for (var i = 0u; i < n; i++) {
      let e = exp(scores[i] - mNew);
      l += e;
      for (var a = 0u; a < 4u; a++) {
        let d = tid + a * TILE;
        if (d < p.headDim) { acc[a] += e * value(tile + i, kvOff + d); }
      }
    }
    m = mNew;
    workgroupBarrier();
  }
  for (var a = 0u; a < 4u; a++) {
    let d = tid + a * TILE;
    if (d < p.headDim) { out[qBase + d] = acc[a] / l; }
  }
}`;
