// Trimming observed data into the cluster's loose records: kept as far as the limits allow, never refused for a detail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LIMITS, LooseRecordSchema } from "../cluster/index.js";
import { toLooseRecord } from "./loose.js";

test("strings, lists, key sets and nesting are cut to the limits; non-data is dropped", () => {
  const deep = { a: { b: { c: { d: { e: 1 } } } } };
  const r = toLooseRecord({
    name: `GPU\u0007 ${"x".repeat(400)}`,
    notes: Array.from({ length: 100 }, (_, i) => `note ${i}`),
    wide: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i])),
    deep,
    nan: NaN,
    inf: -Infinity,
    f: () => 1,
    u: undefined,
    big: 10n,
    ok: true,
    nothing: null,
    ["k".repeat(200)]: 1,
  })!;
  assert.ok(LooseRecordSchema.safeParse(r).success);
  assert.equal((r["name"] as string).length, LIMITS.textMaxChars);
  assert.ok((r["name"] as string).startsWith("GPU  x"), "the control character is blanked");
  assert.equal((r["notes"] as unknown[]).length, LIMITS.listMax);
  assert.equal(Object.keys(r["wide"] as object).length, LIMITS.listMax);
  assert.deepEqual(r["deep"], { a: { b: {} } }, "four levels of containers in all, counting the record itself");
  assert.equal(r["nan"], null);
  assert.equal(r["inf"], null);
  assert.ok(!("f" in r) && !("u" in r) && !("big" in r));
  assert.equal(r["ok"], true);
  assert.equal(r["nothing"], null);
  assert.equal(r["k".repeat(LIMITS.idMaxChars)], 1, "a long key is cut to the id limit");
});

test("reserved keys are dropped and the result has a plain prototype", () => {
  const hostile = JSON.parse('{"__proto__": {"polluted": 1}, "constructor": 2, "prototype": 3, "fine": 4}') as Record<string, unknown>;
  const r = toLooseRecord(hostile)!;
  assert.deepEqual(Object.keys(r), ["fine"]);
  assert.equal(Object.getPrototypeOf(r), Object.prototype);
  assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
});

test("a value over the total budget is refused (null) rather than half-kept", () => {
  const grid = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`r${i}`, Array.from({ length: 64 }, (_, j) => j)]));
  assert.equal(toLooseRecord(grid), null);
  assert.notEqual(toLooseRecord({ small: [1, 2, 3] }), null);
});
