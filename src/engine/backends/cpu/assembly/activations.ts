// The SwiGLU activation, gate = silu(gate) * up, reproducing ops.ts's siluMul: g / (1 + e^-g) in
// f64, rounded to f32, times up in f64, rounded to f32. e^-|g| comes from the kernel's polynomial,
// within an ulp or two of Math.exp, and the quotient is rearranged for g < 0 (see siluMul2): a few f64
// ulps from the TypeScript's, so the f32 results agree with it but for the rarest halfway cases.
import { expNeg2 } from "./exp";

/** silu(g) * u for two f32 lanes of g and u held as f64x2: the f32 results, as f64x2. */
// @ts-ignore: decorator
@inline function siluMul2(g: v128, u: v128): v128 {
  const t = expNeg2(f64x2.neg(f64x2.abs(g)));
  // g / (1 + e^-g) with t = e^-|g|: g / (1 + t) where g >= 0; where g < 0, e^-g = 1 / t and the same
  // quotient is g t / (t + 1), one division for both (t = 0 there gives -0, as Math.exp's overflow does).
  const num = v128.bitselect(g, f64x2.mul(g, t), f64x2.ge(g, f64x2.splat(0)));
  const s = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.div(num, f64x2.add(f64x2.splat(1), t))));
  return f64x2.mul(s, u);
}

/** gate[i] = f32(f32(silu(gate[i])) * up[i]) for i in [i0, i1): f32 arrays at gate and up. */
export function silu_mul(gate: usize, up: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const p = gate + (<usize>i << 2), q = up + (<usize>i << 2);
    const g = v128.load(p), u = v128.load(q);
    const lo = siluMul2(f64x2.promote_low_f32x4(g), f64x2.promote_low_f32x4(u));
    const hi = siluMul2(f64x2.promote_low_f32x4(i32x4.shuffle(g, g, 2, 3, 0, 1)), f64x2.promote_low_f32x4(i32x4.shuffle(u, u, 2, 3, 0, 1)));
    v128.store(p, i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5));
  }
  for (; i < i1; i++) {
    const p = gate + (<usize>i << 2);
    const r = siluMul2(f64x2.splat(<f64>load<f32>(p)), f64x2.splat(<f64>load<f32>(up + (<usize>i << 2))));
    store<f32>(p, <f32>f64x2.extract_lane(r, 0));
  }
}
