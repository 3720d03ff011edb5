// The 12-byte scale/min packing shared by Q4_K and Q5_K: eight 6-bit scales and eight 6-bit
// mins. Sub-blocks 0-3 keep their low 6 bits in bytes 0-3 (scales) and 4-7 (mins); sub-blocks
// 4-7 keep their low 4 bits in bytes 8-11 and their top 2 bits in the spare top bits of 0-7.

/** Scale of sub-block j (0..7) of the 12 scale bytes starting at `o`. */
export function kScale(q: Uint8Array, o: number, j: number): number {
  return j < 4 ? q[o + j] & 63 : (q[o + j + 4] & 0xf) | ((q[o + j - 4] >> 6) << 4);
}

/** Min of sub-block j (0..7) of the 12 scale bytes starting at `o`. */
export function kMin(q: Uint8Array, o: number, j: number): number {
  return j < 4 ? q[o + j + 4] & 63 : (q[o + j + 4] >> 4) | ((q[o + j] >> 6) << 4);
}

/** Writes eight 6-bit scales and mins (each 0..63) as 12 bytes at `o`. */
export function packKScales(dst: Uint8Array, o: number, scales: ArrayLike<number>, mins: ArrayLike<number>): void {
  for (let j = 0; j < 4; j++) {
    dst[o + j] = (scales[j] & 63) | ((scales[j + 4] >> 4) << 6);
    dst[o + j + 4] = (mins[j] & 63) | ((mins[j + 4] >> 4) << 6);
    dst[o + j + 8] = (scales[j + 4] & 0xf) | ((mins[j + 4] & 0xf) << 4);
  }
}
