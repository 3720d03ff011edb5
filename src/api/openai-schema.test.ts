// The pure parts of the OpenAI surface: request bodies as OpenAI clients send them, the sampler
// settings they map to, and the id an automatic placement gets.
import assert from "node:assert/strict";
import { test } from "node:test";
import { IdSchema } from "../cluster/index.js";
import { autoInstanceId } from "./model-instance.js";
import { ChatCompletionBody, chatMessages, CompletionBody, samplerOf, stopsOf } from "./openai-schema.js";

const chat = { model: "m", messages: [{ role: "user", content: "hi" }] };

test("bodies: what clients send is accepted, and a bad field is named by its path", () => {
  // Fields Tessera ignores (as OpenAI's SDKs and LangChain send them) do not fail a request.
  assert.ok(ChatCompletionBody.safeParse({ ...chat, user: "u", presence_penalty: 0, logprobs: false, n: 1, stop: null, stream_options: { include_usage: true } }).success);
  assert.ok(CompletionBody.safeParse({ model: "m", prompt: ["one prompt"] }).success);
  const path = (body: unknown, schema: typeof ChatCompletionBody | typeof CompletionBody = ChatCompletionBody) => {
    const r = schema.safeParse(body);
    assert.ok(!r.success);
    return r.error.issues[0].path.join(".");
  };
  assert.equal(path({ ...chat, n: 2 }), "n");
  assert.equal(path({ ...chat, stop: ["a", "b", "c", "d", "e"] }), "stop");
  assert.equal(path({ ...chat, stop: "" }), "stop");
  assert.equal(path({ ...chat, messages: [{ role: "user", content: [{ type: "image_url", image_url: "x" }] }] }), "messages.0.content");
  assert.equal(path({ ...chat, temperature: 2.5 }), "temperature");
  assert.equal(path({ ...chat, seed: 1.5 }), "seed");
  assert.equal(path({ model: "m", prompt: ["a", "b"] }, CompletionBody), "prompt");
});

test("sampling: OpenAI's defaults, top_p 0 as greedy, 64-bit seeds folded to 32 bits", () => {
  const d = samplerOf({ seed: 3 });
  assert.deepEqual(d, { temperature: 1, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: 3 });
  assert.equal(samplerOf({ top_p: 0, temperature: 0.7 }).temperature, 0);
  assert.equal(samplerOf({ seed: 2 ** 32 + 5 }).seed, 5);
  assert.equal(samplerOf({ seed: -1 }).seed, 2 ** 32 - 1);
  const random = samplerOf({}).seed;
  assert.ok(Number.isInteger(random) && random >= 0 && random < 2 ** 32);
});

test("stop strings and messages as the head sees them", () => {
  assert.deepEqual(stopsOf({ stop: "x" }), ["x"]);
  assert.deepEqual(stopsOf({ stop: ["a", "b"] }), ["a", "b"]);
  assert.deepEqual(stopsOf({ stop: null }), []);
  const body = ChatCompletionBody.parse({
    model: "m",
    messages: [{ role: "developer", content: "be brief" }, { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }, { role: "assistant", content: null }],
  });
  assert.deepEqual(chatMessages(body), [{ role: "system", content: "be brief" }, { role: "user", content: "ab" }, { role: "assistant", content: "" }]);
});

test("automatic instance ids: one per model file, valid cluster ids", () => {
  assert.equal(autoInstanceId("stories260K"), autoInstanceId("stories260K.gguf"));
  assert.match(autoInstanceId("stories260K"), /^auto-stories260K-[0-9a-f]{8}$/);
  assert.notEqual(autoInstanceId("/a/model.gguf"), autoInstanceId("/b/model.gguf"));
  for (const m of ["stories260K", "/models/My Model (q4).gguf", "ünïcode.gguf", "../x.gguf"]) assert.ok(IdSchema.safeParse(autoInstanceId(m)).success, m);
});
