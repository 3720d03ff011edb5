import { test } from "node:test";
import assert from "node:assert/strict";
import { applyAll } from "./apply.js";
import type { Event } from "./events.js";
import { canonicalJson, stateHash } from "./hash.js";
import { initialState } from "./state.js";
import { indexed } from "./test-support.js";

test("canonicalJson sorts keys at every level and keeps array order", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson({ a: undefined, b: "x" }), '{"b":"x"}');
  assert.equal(canonicalJson([undefined]), "[null]");
  assert.equal(canonicalJson("é\n"), '"é\\n"');
  assert.throws(() => canonicalJson({ x: NaN }), TypeError);
  assert.throws(() => canonicalJson({ x: Infinity }), TypeError);
  assert.throws(() => canonicalJson({ f: () => 1 }), TypeError);
});

test("canonicalJson of a plain JSON value parses back to the same value", () => {
  const v = { z: [1, 2.5, "s", true, null, { q: [] }], a: { "": 0, "\u00e9": -3 } };
  assert.deepEqual(JSON.parse(canonicalJson(v)), v);
});

test("equal states built in different insertion orders hash alike", () => {
  const join = (nodeId: string): Event => ({ type: "NodeJoined", nodeId, name: nodeId, addresses: [], at: 1 });
  const edge = (from: string, to: string): Event => ({ type: "TopologyEdgeCreated", from, to, latencyMs: 1 });
  const s1 = applyAll(initialState(), indexed([join("a"), join("b"), join("c"), edge("a", "b"), edge("b", "c")]));
  const s2 = applyAll(initialState(), indexed([join("c"), join("b"), join("a"), edge("b", "c"), edge("a", "b")]));
  assert.notEqual(JSON.stringify(s1), JSON.stringify(s2), "the orders really differ");
  assert.deepEqual(s1, s2);
  assert.equal(stateHash(s1), stateHash(s2));
  assert.match(stateHash(s1), /^[0-9a-f]{64}$/);
});

test("any difference changes the hash", () => {
  const s = initialState();
  const h = stateHash(s);
  assert.notEqual(stateHash({ ...s, lastEventIndex: 0 }), h);
  assert.notEqual(stateHash({ ...s, master: { nodeId: "a", term: 0 } }), h);
  assert.equal(stateHash(initialState()), h);
  // Pinned so an accidental change of the canonical form (which would split a mixed-version cluster) is noticed.
  assert.equal(canonicalJson(s), '{"edges":{},"instances":{},"lastEventIndex":-1,"master":null,"nodes":{},"runners":{}}');
});
