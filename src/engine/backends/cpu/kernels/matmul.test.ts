import assert from "node:assert/strict";
import { test } from "node:test";
import { dequantize } from "../../../../gguf/quants/dequantize.js";
import { QuantShapeError } from "../../../../gguf/quants/errors.js";
import { readF16 } from "../../../../gguf/quants/f16.js";
import { quantizeTensor } from "../../../../gguf/quants/quantize.js";
import { randomNormals, seededRandom } from "../../../../gguf/quants/seeded-random.js";
import { GgmlType, bytesFor, typeLayout, typeName } from "../../../../gguf/types.js";
import { MATMUL_WEIGHT_TYPES, matmul, matmulPrepared } from "./matmul.js";
import { type PreparedActivations, prepareActivations, preparedRowValues } from "./prepared-activations.js";

/** Dequantise W row r and the prepared activations of token t, dot in f64; also a tolerance. */
function reference(type: GgmlType, w: Uint8Array, cols: number, act: PreparedActivations, r: number, t: number): [number, number] {
  const rowBytes = bytesFor(type, cols);
  const wr = dequantize(type, w.subarray(r * rowBytes, (r + 1) * rowBytes), cols);
  const ar = preparedRowValues(act, t);
  let dot = 0;
  let mag = 0;
  let wmax = 0;
  let asum = 0;
  // Q4_1/Q5_1 (value = d*q + m): ggml takes the m part as m * s, with s = f16(d_a * sum(q_a))
  // stored in the Q8_1 block rather than the exact sum of the activations.
  const q8_1 = act.format === "q8_1";
  const blockBytes = typeLayout(type).typeSize;
  for (let i = 0; i < cols; i++) {
    if (q8_1 && i % 32 === 0) {
      const m = readF16(w, r * rowBytes + (i / 32) * blockBytes + 2);
      dot += m * act.s[t * (cols / 32) + i / 32];
    }
    const m = q8_1 ? readF16(w, r * rowBytes + Math.floor(i / 32) * blockBytes + 2) : 0;
    dot += (wr[i] - m) * ar[i];
    mag += Math.abs(wr[i] * ar[i]);
    wmax = Math.max(wmax, Math.abs(wr[i]));
    asum += Math.abs(ar[i]);
  }
  // Dequantised K-quant values are f32 results of d*q - m, and kernels round scale products
  // to f32, so allow a few f32 ulps of the magnitudes involved.
  return [dot, 4e-6 * (mag + wmax * asum) + 1e-30];
}

function colsFor(type: GgmlType): number[] {
  const bs = typeLayout(type).blockSize;
  return bs === 1 ? [1, 2, 37, 256] : [bs, 2 * bs, 5 * bs];
}

for (const type of MATMUL_WEIGHT_TYPES) {
  test(`${typeName(type)}: matmul matches the dequantise-and-dot reference`, () => {
    const rand = seededRandom(1000 + type);
    for (const rows of [1, 3, 7]) {
      for (const cols of colsFor(type)) {
        for (const nTok of [1, 5]) {
          const w = quantizeTensor(type, randomNormals(rand, rows * cols, 0.5), cols);
          const x = randomNormals(rand, nTok * cols, 2);
          const act = prepareActivations(type, x, nTok, cols);
          const y = new Float32Array(nTok * rows);
          matmulPrepared(type, w, rows, cols, act, y);
          for (let t = 0; t < nTok; t++) {
            for (let r = 0; r < rows; r++) {
              const [ref, tol] = reference(type, w, cols, act, r, t);
              const got = y[t * rows + r];
              assert.ok(Math.abs(got - ref) <= tol + Math.abs(ref) * 2 ** -23,
                `${typeName(type)} rows=${rows} cols=${cols} nTok=${nTok} t=${t} r=${r}: ${got} vs ${ref} (tol ${tol})`);
            }
          }
          // The convenience entry point prepares the same activations.
          const y2 = new Float32Array(nTok * rows);
          matmul(type, w, rows, cols, x, nTok, y2);
          assert.deepEqual(y2, y);
        }
      }
    }
  });

  test(`${typeName(type)}: row sub-ranges write only their rows; unaligned weights give the same result`, () => {
    const rand = seededRandom(2000 + type);
    const rows = 7;
    const cols = colsFor(type)[1];
    const nTok = 5;
    const w = quantizeTensor(type, randomNormals(rand, rows * cols), cols);
    const act = prepareActivations(type, randomNormals(rand, nTok * cols), nTok, cols);
    const full = new Float32Array(nTok * rows);
    matmulPrepared(type, w, rows, cols, act, full);

    const part = new Float32Array(nTok * rows).fill(-12345);
    matmulPrepared(type, w, rows, cols, act, part, 1, 6); // one 4-row group and a single row
    matmulPrepared(type, w, rows, cols, act, part, 6, 7);
    matmulPrepared(type, w, rows, cols, act, part, 3, 3);
    for (let t = 0; t < nTok; t++) {
      for (let r = 0; r < rows; r++) {
        const inRange = r >= 1;
        assert.equal(part[t * rows + r], inRange ? full[t * rows + r] : -12345, `t=${t} r=${r}`);
      }
    }

    const shifted = new Uint8Array(w.length + 1);
    shifted.set(w, 1);
    const y = new Float32Array(nTok * rows);
    matmulPrepared(type, shifted.subarray(1), rows, cols, act, y);
    assert.deepEqual(y, full);
  });
}

test("Q8_0 matmul is the exact integer dot times the f32 product of the scales", () => {
  // d_w = 1 (f16 0x3c00), activations with amax 127 give d_a = 1: the result is the integer dot.
  const cols = 64;
  const w = new Uint8Array(2 * 34);
  const x = new Float32Array(cols);
  let expect = 0;
  for (let b = 0; b < 2; b++) {
    w[34 * b + 1] = 0x3c;
    for (let j = 0; j < 32; j++) {
      const q = ((b * 32 + j) * 37) % 255 - 127;
      w[34 * b + 2 + j] = q & 0xff;
      x[32 * b + j] = j === 0 ? 127 : ((j * 11) % 200) - 100;
      expect += q * x[32 * b + j];
    }
  }
  const y = new Float32Array(1);
  matmul(GgmlType.Q8_0, w, 1, cols, x, 1, y);
  assert.equal(y[0], expect);
});

test("shape and type errors", () => {
  const act = prepareActivations(GgmlType.Q8_0, new Float32Array(32), 1, 32);
  const w = new Uint8Array(34);
  assert.throws(() => matmulPrepared(GgmlType.Q4_0, w, 1, 32, act, new Float32Array(1)), QuantShapeError);
  assert.throws(() => matmulPrepared(GgmlType.Q8_0, w, 2, 32, act, new Float32Array(2)), QuantShapeError);
  assert.throws(() => matmulPrepared(GgmlType.Q8_0, w, 1, 32, act, new Float32Array(1), 0, 2), QuantShapeError);
  assert.throws(() => prepareActivations(GgmlType.Q4_K, new Float32Array(32), 1, 32), QuantShapeError);
  assert.throws(() => prepareActivations(GgmlType.Q8_K, new Float32Array(256), 1, 256), /not supported/);
});

/** Byte offsets of the f16 fields (scales, mins) inside one block of each quantised type. */
const F16_FIELDS: ReadonlyMap<GgmlType, readonly number[]> = new Map<GgmlType, readonly number[]>([
  [GgmlType.Q4_0, [0]], [GgmlType.Q4_1, [0, 2]], [GgmlType.Q5_0, [0]], [GgmlType.Q5_1, [0, 2]],
  [GgmlType.Q8_0, [0]], [GgmlType.Q4_K, [0, 2]], [GgmlType.Q5_K, [0, 2]], [GgmlType.Q6_K, [208]],
]);

for (const [type, fields] of F16_FIELDS) {
  test(`${typeName(type)}: arbitrary block bytes and extreme quants (all-ones bits, |a| = 127)`, () => {
    const rand = seededRandom(3000 + type);
    const { blockSize, typeSize } = typeLayout(type);
    const rows = 4;
    const cols = 4 * blockSize;
    const w = new Uint8Array(rows * (cols / blockSize) * typeSize);
    for (let i = 0; i < w.length; i++) w[i] = Math.floor(rand() * 256);
    // Row 0: every quant bit set; row 1: every quant bit clear.
    w.fill(0xff, 0, w.length / rows);
    w.fill(0x00, w.length / rows, (2 * w.length) / rows);
    for (let o = 0; o < w.length; o += typeSize) {
      for (const f of fields) {
        w[o + f] = Math.floor(rand() * 256);
        w[o + f + 1] = 0x2c + Math.floor(rand() * 16); // f16 in [2^-4, 2^-0) with random sign bit off
      }
    }
    const nTok = 3;
    const x = new Float32Array(nTok * cols);
    for (let i = 0; i < cols; i++) {
      x[i] = 1; // all quants +127
      x[cols + i] = -1; // all quants -127
      x[2 * cols + i] = i % 2 === 0 ? 3 : -3;
    }
    const act = prepareActivations(type, x, nTok, cols);
    const y = new Float32Array(nTok * rows);
    matmulPrepared(type, w, rows, cols, act, y);
    for (let t = 0; t < nTok; t++) {
      for (let r = 0; r < rows; r++) {
        const [ref, tol] = reference(type, w, cols, act, r, t);
        const got = y[t * rows + r];
        assert.ok(Math.abs(got - ref) <= tol + Math.abs(ref) * 2 ** -23, `t=${t} r=${r}: ${got} vs ${ref}`);
      }
    }
  });
}
