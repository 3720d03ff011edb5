// SWAR dot products of 4-bit quants with int8 activation pairs (PreparedActivations.pairs).
// Math.imul((n0 + n2 * 2^16), (a2 + a0 * 2^16)) = n0*a2 + (n0*a0 + n2*a2) * 2^16 (mod 2^32):
// one multiply does two multiply-adds. While the top field stays within +-2^15 and the bottom
// one within +-2^14 the int32 sum is exact, and (s + 2^15) >> 16 is the dot product.

const imul = Math.imul;
const M = 0x000f000f;

/** The top field of an exact SWAR sum whose bottom field lies within +-2^15. */
export function top16(s: number): number {
  return (s + 32768) >> 16;
}

/**
 * The 32-element dot of a Q4_0/Q4_1 block: words v0..v3 hold 16 bytes whose low nibbles are
 * elements 0-15 and high nibbles elements 16-31; pk[i..i+16) are the activation pairs.
 * Each field sums 16 products of at most 15 * 127, below 2^15.
 */
export function nibbleDot32(v0: number, v1: number, v2: number, v3: number, pk: Int32Array, i: number): number {
  const lo = (imul(v0 & M, pk[i]) + imul((v0 >> 8) & M, pk[i + 1])
    + imul(v1 & M, pk[i + 2]) + imul((v1 >> 8) & M, pk[i + 3])
    + imul(v2 & M, pk[i + 4]) + imul((v2 >> 8) & M, pk[i + 5])
    + imul(v3 & M, pk[i + 6]) + imul((v3 >> 8) & M, pk[i + 7])) | 0;
  const hi = (imul((v0 >> 4) & M, pk[i + 8]) + imul((v0 >> 12) & M, pk[i + 9])
    + imul((v1 >> 4) & M, pk[i + 10]) + imul((v1 >> 12) & M, pk[i + 11])
    + imul((v2 >> 4) & M, pk[i + 12]) + imul((v2 >> 12) & M, pk[i + 13])
    + imul((v3 >> 4) & M, pk[i + 14]) + imul((v3 >> 12) & M, pk[i + 15])) | 0;
  return ((lo + 32768) >> 16) + ((hi + 32768) >> 16);
}

const P = 0x00ff00ff;

/**
 * Dot of 8 unsigned quants below 32 (two words, one quant per byte) with pairs pk[i..i+4):
 * fields sum 8 products of at most 31 * 127, below 2^15.
 */
export function byteDot8(x0: number, x1: number, pk: Int32Array, i: number): number {
  const s = (imul(x0 & P, pk[i]) + imul((x0 >> 8) & P, pk[i + 1])
    + imul(x1 & P, pk[i + 2]) + imul((x1 >> 8) & P, pk[i + 3])) | 0;
  return (s + 32768) >> 16;
}

/** Spreads the low 4 bits of `n` to bit 4 of each byte of a word (Q5 fifth bits). */
export function spreadBits4(n: number): number {
  // n * (1 + 2^7 + 2^14 + 2^21) puts bit i of n at bit 8i; the copies do not overlap.
  return (imul(n & 15, 0x204081) & 0x01010101) << 4;
}

/**
 * The 32-element dot of a Q5_0/Q5_1 block's unsigned 5-bit quants: words v0..v3 hold the
 * nibbles as in nibbleDot32, bit j of qh is the fifth bit of element j.
 */
export function q5Dot32(v0: number, v1: number, v2: number, v3: number, qh: number, pk: Int32Array, i: number): number {
  const L4 = 0x0f0f0f0f;
  return byteDot8((v0 & L4) | spreadBits4(qh), (v1 & L4) | spreadBits4(qh >> 4), pk, i)
    + byteDot8((v2 & L4) | spreadBits4(qh >> 8), (v3 & L4) | spreadBits4(qh >> 12), pk, i + 4)
    + byteDot8(((v0 >> 4) & L4) | spreadBits4(qh >> 16), ((v1 >> 4) & L4) | spreadBits4(qh >> 20), pk, i + 8)
    + byteDot8(((v2 >> 4) & L4) | spreadBits4(qh >> 24), ((v3 >> 4) & L4) | spreadBits4(qh >> 28), pk, i + 12);
}
