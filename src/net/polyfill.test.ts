import "./polyfill.js";
import { test } from "node:test";
import assert from "node:assert/strict";

type WR = <T>() => { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void };
const withResolvers = (Promise as unknown as { withResolvers: WR }).withResolvers;

test("Promise.withResolvers exists after the polyfill, as a non-enumerable method", () => {
  assert.equal(typeof withResolvers, "function");
  const d = Object.getOwnPropertyDescriptor(Promise, "withResolvers");
  assert.ok(d !== undefined);
  assert.equal(d.enumerable, false);
  assert.equal(d.writable, true);
  assert.equal(d.configurable, true);
  assert.equal(withResolvers.length, 0);
});

test("resolve and reject settle the returned promise", async () => {
  const a = withResolvers.call(Promise) as ReturnType<WR>;
  a.resolve(42);
  assert.equal(await a.promise, 42);
  const b = withResolvers.call(Promise) as ReturnType<WR>;
  b.reject(new Error("boom"));
  await assert.rejects(b.promise, /boom/);
});

test("uses the receiver as the constructor, and throws on a non-constructor", () => {
  class Sub<T> extends Promise<T> {}
  const r = withResolvers.call(Sub) as ReturnType<WR>;
  assert.ok(r.promise instanceof Sub);
  r.resolve(1);
  assert.throws(() => withResolvers.call({} as PromiseConstructor), TypeError);
});
