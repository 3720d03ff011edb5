import assert from "node:assert/strict";
import { test } from "node:test";
import { applyAll } from "./apply.js";
import type { Event, HeldModel } from "./index.js";
import { heldAnswersTo, wholeModelHolders } from "./holders.js";
import { initialState } from "./state.js";
import { indexed } from "./test-support.js";

const M1 = "a".repeat(64), M2 = "b".repeat(64);
const held = (name: string, extra: Partial<HeldModel> = {}): HeldModel => ({ name, sizeBytes: 1000, tensorManifest: M1, ...extra });

function stateWith(models: Record<string, HeldModel[]>, timedOut: string[] = []) {
  const events: Event[] = [];
  for (const [nodeId, list] of Object.entries(models)) {
    events.push({ type: "NodeJoined", nodeId, name: nodeId, addresses: [], at: 1 });
    events.push({ type: "NodeModelsUpdated", nodeId, models: list });
  }
  for (const nodeId of timedOut) events.push({ type: "NodeTimedOut", nodeId, at: 2 });
  return applyAll(initialState(), indexed(events));
}

test("a held model answers to its full name and its file name only", () => {
  const m = held("owner/repo:tiny.Q8_0.gguf");
  assert.ok(heldAnswersTo(m, "owner/repo:tiny.Q8_0.gguf"));
  assert.ok(heldAnswersTo(m, "tiny.Q8_0.gguf"));
  assert.ok(!heldAnswersTo(m, "repo"));
  assert.ok(!heldAnswersTo(m, "tiny"));
});

test("whole-model holders: alive, whole, served (with a manifest), not the asking node, ordered by id", () => {
  const state = stateWith({
    c: [held("m.gguf")],
    a: [held("other.gguf"), held("m.gguf", { tensorManifest: M2 })],
    self: [held("m.gguf")],
    partial: [held("m.gguf", { partialBytes: 10 })],
    unserved: [held("m.gguf", { tensorManifest: undefined })],
    gone: [held("m.gguf")],
  }, ["gone"]);
  const got = wholeModelHolders(state, "m.gguf", "self").map((h) => [h.nodeId, h.held.tensorManifest]);
  assert.deepEqual(got, [["a", M2], ["c", M1]]);
  assert.deepEqual(wholeModelHolders(state, "m.gguf").map((h) => h.nodeId), ["a", "c", "self"]);
  assert.deepEqual(wholeModelHolders(state, "absent.gguf", "self"), []);
});
