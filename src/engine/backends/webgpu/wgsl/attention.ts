// Causal attention over the device-resident KV cache, one workgroup per (query row, head). The cache
// is walked in tiles of ATTENTION_TILE positions with a running maximum and sum (online softmax), so
// any context length works in fixed workgroup memory; each thread owns headDim/ATTENTION_TILE of the
// output values. Heads share KV heads in groups (GQA).
export const ATTENTION_TILE = 64;
/** Largest head size: each of the tile's threads keeps four output accumulators. */
export const MAX_HEAD_DIM = ATTENTION_TILE * 4;

export const ATTENTION = `
struct P { start: u32, heads: u32, headDim: u32, kvDim: u32, group: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> kc: array<f32>;
@group(0) @binding(3) var<storage, read_write> vc: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
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
  workgroupBarrier();
  let visible = p.start + t + 1u;
  var m = -3.0e38;
  var l = 0.0;
  var acc = vec4<f32>(0.0);
  for (var tile = 0u; tile < visible; tile += TILE) {
    let pos = tile + tid;
    var s = -3.0e38;
    if (pos < visible) {
      let kBase = pos * p.kvDim + kvOff;
      var dotp = 0.0;
      for (var d = 0u; d < p.headDim; d++) { dotp += qs[d] * kc[kBase + d]; }
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
      let vBase = (tile + i) * p.kvDim + kvOff;
      for (var a = 0u; a < 4u; a++) {
        let d = tid + a * TILE;
        if (d < p.headDim) { acc[a] += e * vc[vBase + d]; }
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
