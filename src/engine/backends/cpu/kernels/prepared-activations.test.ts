import assert from "node:assert/strict";
import { test } from "node:test";
import { roundToBf16 } from "../../../../gguf/quants/bf16.js";
import { roundToF16 } from "../../../../gguf/quants/f16.js";
import { randomNormals, seededRandom } from "../../../../gguf/quants/seeded-random.js";
import { GgmlType } from "../../../../gguf/types.js";
import { activationFormat, prepareActivations, preparedRowValues } from "./prepared-activations.js";

test("each weight type gets ggml's vec_dot_type", () => {
  const expected: Array<[GgmlType, string]> = [
    [GgmlType.F32, "f32"], [GgmlType.F16, "f16"], [GgmlType.BF16, "bf16"],
    [GgmlType.Q4_0, "q8_0"], [GgmlType.Q5_0, "q8_0"], [GgmlType.Q8_0, "q8_0"],
    [GgmlType.Q4_1, "q8_1"], [GgmlType.Q5_1, "q8_1"],
    [GgmlType.Q4_K, "q8_K"], [GgmlType.Q5_K, "q8_K"], [GgmlType.Q6_K, "q8_K"],
  ];
  for (const [type, format] of expected) assert.equal(activationFormat(type), format);
});

test("float formats round activations to the weight's precision", () => {
  const x = randomNormals(seededRandom(11), 2 * 40, 3);
  const f16 = prepareActivations(GgmlType.F16, x, 2, 40);
  const bf16 = prepareActivations(GgmlType.BF16, x, 2, 40);
  const f32 = prepareActivations(GgmlType.F32, x, 2, 40);
  for (let i = 0; i < x.length; i++) {
    assert.equal(f16.values[i], roundToF16(x[i]));
    assert.equal(bf16.values[i], roundToBf16(x[i]));
    assert.equal(f32.values[i], x[i]);
  }
  assert.ok(f16.values.some((v, i) => v !== x[i]), "f16 rounding changed nothing: suspicious");
});

test("q8 formats: per-token blocks, pairs packing and values close to the input", () => {
  const cols = 512;
  const x = randomNormals(seededRandom(12), 3 * cols);
  for (const type of [GgmlType.Q8_0, GgmlType.Q4_1, GgmlType.Q4_K]) {
    const act = prepareActivations(type, x, 3, cols);
    const bs = type === GgmlType.Q4_K ? 256 : 32;
    assert.equal(act.d.length, (3 * cols) / bs);
    for (let i = 0; i < act.qs.length; i += 4) {
      assert.equal(act.pairs[i >> 1], act.qs[i + 2] + act.qs[i] * 65536);
      assert.equal(act.pairs[(i >> 1) + 1], act.qs[i + 3] + act.qs[i + 1] * 65536);
    }
    for (let t = 0; t < 3; t++) {
      const v = preparedRowValues(act, t);
      for (let i = 0; i < cols; i++) assert.ok(Math.abs(v[i] - x[t * cols + i]) < 0.03, `${type} t=${t} i=${i}`);
    }
  }
});
