// Small kernels of the forward pass, one thread per value: silu·mul, add, add bias and copy; and the
// f16 rounding of the KV cache. Large counts continue along the y grid axis.
export const ELEMENTWISE_WORKGROUP = 256;

const INDEX = `@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * p.gridX + wid.x) * ${ELEMENTWISE_WORKGROUP}u + lid;
  if (i >= p.n) { return; }`;

/** gate[i] = silu(gate[i]) * up[i] */
export const SILU_MUL = `
struct P { n: u32, gridX: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> gate: array<f32>;
@group(0) @binding(2) var<storage, read_write> up: array<f32>;
${INDEX}
  let g = gate[i];
  gate[i] = g / (1.0 + exp(-g)) * up[i];
}`;

/** dst[i] += src[i] */
export const ADD = `
struct P { n: u32, gridX: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read_write> src: array<f32>;
${INDEX}
  dst[i] += src[i];
}`;

/** x[t, c] += bias[c] over n = nTok * width values. */
export const ADD_BIAS = `
struct P { n: u32, gridX: u32, width: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
${INDEX}
  x[i] += bias[i % p.width];
}`;

/** dst[dstOffset + i] = src[srcOffset + i] */
export const COPY = `
struct P { n: u32, gridX: u32, srcOffset: u32, dstOffset: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
${INDEX}
  dst[p.dstOffset + i] = src[p.srcOffset + i];
}`;

// Nearest-even rounding of the mantissa to f16's 10 bits, done on the bits: compilers may fold an
// unpack(pack(x)) round trip away. Exponents outside f16's normal range take the conversion builtins.
export const F16_ROUND = /* wgsl */ `
fn f16round(a: f32) -> f32 {
  let bits = bitcast<u32>(a);
  let e = (bits >> 23u) & 0xffu;
  if (e >= 113u && e <= 141u) { return bitcast<f32>((bits + 0xfffu + ((bits >> 13u) & 1u)) & 0xffffe000u); }
  return unpack2x16float(pack2x16float(vec2<f32>(a, 0.0))).x;
}`;
