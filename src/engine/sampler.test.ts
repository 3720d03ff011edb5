import { test } from "node:test";
import assert from "node:assert/strict";
import { argmax, Rng, Sampler, type SamplerOptions } from "./sampler.js";

const base: SamplerOptions = { temperature: 1, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: 42 };

test("temperature 0 is argmax", () => {
  const logits = new Float32Array([0.1, 3, -2, 2.9]);
  assert.equal(new Sampler({ ...base, temperature: 0 }).sample(logits, []), 1);
  assert.equal(argmax(logits), 1);
});

test("the same seed reproduces the same draws; another seed differs", () => {
  const logits = new Float32Array(Array.from({ length: 50 }, (_, i) => Math.sin(i)));
  const draw = (seed: number) => {
    const s = new Sampler({ ...base, seed });
    return Array.from({ length: 40 }, () => s.sample(logits, []));
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
});

test("top-k 1 always takes the best token", () => {
  const logits = new Float32Array([1, 5, 4.9, 2]);
  const s = new Sampler({ ...base, topK: 1 });
  for (let i = 0; i < 20; i++) assert.equal(s.sample(logits, []), 1);
});

test("top-p keeps only the nucleus", () => {
  // p ≈ [0.665, 0.245, 0.09]: with top-p 0.6 only token 0 survives.
  const logits = new Float32Array([2, 1, 0]);
  const s = new Sampler({ ...base, topP: 0.6 });
  for (let i = 0; i < 50; i++) assert.equal(s.sample(logits, []), 0);
});

test("min-p drops tokens far below the best", () => {
  const logits = new Float32Array([5, 4.5, 0, -1]);
  const s = new Sampler({ ...base, minP: 0.2 });
  const seen = new Set(Array.from({ length: 200 }, () => s.sample(logits, [])));
  assert.deepEqual([...seen].sort(), [0, 1]);
});

test("repetition penalty turns greedy away from a repeated token", () => {
  const logits = new Float32Array([3, 2.5, 0]);
  assert.equal(new Sampler({ ...base, temperature: 0, repeatPenalty: 1.5 }).sample(logits, [0]), 1);
  assert.equal(new Sampler({ ...base, temperature: 0 }).sample(logits, [0]), 0);
});

test("sampling follows the distribution", () => {
  const logits = new Float32Array([Math.log(0.7), Math.log(0.3)]);
  const s = new Sampler({ ...base, seed: 3 });
  let zeros = 0;
  for (let i = 0; i < 4000; i++) if (s.sample(logits, []) === 0) zeros++;
  assert.ok(Math.abs(zeros / 4000 - 0.7) < 0.03, `token 0 drawn ${zeros} / 4000 times`);
});

test("bad options are rejected", () => {
  assert.throws(() => new Sampler({ ...base, temperature: -1 }), RangeError);
  assert.throws(() => new Sampler({ ...base, topP: 0 }), RangeError);
  assert.throws(() => new Sampler({ ...base, minP: Number.NaN }), RangeError);
});

test("Rng is uniform in [0, 1)", () => {
  const r = new Rng(1);
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
});
