// RMS normalisation and the rotary position embedding, reproducing ops.ts bit for bit.
//  - rmsnorm: the sum of squares in f64 in element order (every square is exact in f64, so only the
//    adds round, as in the TypeScript), the scale 1 / sqrt(f32(sum / width) + eps) rounded to f32,
//    then f32(f32(x * scale) * weight), which f32 multiplies give exactly.
//  - rope: each pair (x0, x1) becomes (x0*cos - x1*sin, x0*sin + x1*cos) in f64, rounded to f32; the
//    products of f32 values are exact in f64, so lane-wise f64 arithmetic equals the TypeScript's.
//    The cos/sin of every rotated pair come from the caller (Math.cos/sin, as ggml's rope cache).

/** out[r] = x[r] / rms(x[r]) * weight for `rows` rows of `width` f32 values. */
export function rmsnorm(x: usize, weight: usize, out: usize, rows: i32, width: i32, eps: f64): void {
  const w = <usize>width;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * w) << 2);
    const or = out + ((<usize>r * w) << 2);
    let sum: f64 = 0;
    for (let i: usize = 0; i < w; i++) {
      const v = <f64>load<f32>(xr + (i << 2));
      sum += v * v;
    }
    const k = <f32>(1.0 / Math.sqrt(<f64>(<f32>(sum / <f64>width)) + eps));
    const scale = f32x4.splat(k);
    let i: usize = 0;
    for (; i + 4 <= w; i += 4) {
      v128.store(or + (i << 2), f32x4.mul(f32x4.mul(v128.load(xr + (i << 2)), scale), v128.load(weight + (i << 2))));
    }
    for (; i < w; i++) store<f32>(or + (i << 2), load<f32>(xr + (i << 2)) * k * load<f32>(weight + (i << 2)));
  }
}

/** (a*c - b*s, a*s + b*c) for f64x2 lanes, rounded to f32 (the low two lanes of the result). */
// @ts-ignore: decorator
@inline function rotate2(a: v128, b: v128, c: v128, s: v128): v128 {
  return f32x4.demote_f64x2_zero(f64x2.sub(f64x2.mul(a, c), f64x2.mul(b, s)));
}

/**
 * Rotates `half` pairs of every head of nTok rows of x (nTok × heads × headDim f32) in place. cs holds,
 * per row, `half` cos values then `half` sin values (f32). neox: pairs (i, i + half), else (2i, 2i + 1).
 */
export function rope(x: usize, nTok: i32, heads: i32, headDim: i32, cs: usize, half: i32, neox: bool): void {
  const hh = <usize>half;
  for (let t = 0; t < nTok; t++) {
    const cosT = cs + ((<usize>t * 2 * hh) << 2);
    const sinT = cosT + (hh << 2);
    for (let h = 0; h < heads; h++) {
      const base = x + (<usize>((t * heads + h) * headDim) << 2);
      let i: usize = 0;
      if (neox) {
        for (; i + 2 <= hh; i += 2) {
          const pa = base + (i << 2), pb = pa + (hh << 2);
          const a = f64x2.promote_low_f32x4(v128.load64_zero(pa)), b = f64x2.promote_low_f32x4(v128.load64_zero(pb));
          const c = f64x2.promote_low_f32x4(v128.load64_zero(cosT + (i << 2))), s = f64x2.promote_low_f32x4(v128.load64_zero(sinT + (i << 2)));
          v128.store64_lane(pa, rotate2(a, b, c, s), 0);
          v128.store64_lane(pb, f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(a, s), f64x2.mul(b, c))), 0);
        }
        for (; i < hh; i++) {
          const pa = base + (i << 2), pb = pa + (hh << 2);
          const a = <f64>load<f32>(pa), b = <f64>load<f32>(pb);
          const c = <f64>load<f32>(cosT + (i << 2)), s = <f64>load<f32>(sinT + (i << 2));
          store<f32>(pa, <f32>(a * c - b * s));
          store<f32>(pb, <f32>(a * s + b * c));
        }
      } else {
        for (; i < hh; i++) {
          // v = (x0, x1); (x0*c - x1*s, x1*c + x0*s) = v*c + (-x1*s, x0*s): the same sums as the TypeScript's.
          const p = base + (i << 3);
          const v = f64x2.promote_low_f32x4(v128.load64_zero(p));
          const c = f64x2.splat(<f64>load<f32>(cosT + (i << 2))), s = f64x2.splat(<f64>load<f32>(sinT + (i << 2)));
          const swapped = f64x2.mul(i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7), s);
          const r = f64x2.add(f64x2.mul(v, c), v128.xor(swapped, f64x2(-0.0, 0.0)));
          v128.store64_lane(p, f32x4.demote_f64x2_zero(r), 0);
        }
      }
    }
  }
}
