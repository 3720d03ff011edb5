// The OpenAI-compatible API on two real `tessera start` processes: a first request places the model
// itself; chat and completions, streamed and not, give single-process `tessera generate`'s tokens with
// the right usage; stop strings are cut out even across token boundaries; seeds reproduce; errors come
// in OpenAI's shape and status; closing the connection or POST /v1/cancel frees the sequence on every stage.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ByteWriter } from "../gguf/byte-writer.js";
import { GGUF_MAGIC, GgufValueType } from "../gguf/format.js";
import { GgmlType } from "../gguf/types.js";
import { generateClusterKey } from "../net/index.js";
import { nodeIds, untilReady } from "../testing/api-client.js";
import { agreed, killAll, startNode, until, type RunningNode } from "../testing/cluster-procs.js";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";
import { autoInstanceId } from "./model-instance.js";
import { collect, getJson, postJson, postStream, type ClientOptions } from "./openai-test-client.js";

interface Reference {
  prompt_tokens: number[];
  tokens: number[];
  text: string;
}

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [TESSERA_BIN, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Single-process greedy generation: the tokens every API answer must reproduce. */
function reference(prompt: string, maxTokens: number, chat: boolean): Reference {
  const out = cli(["generate", "--model", STORIES_260K, "--prompt", prompt, "--max-tokens", String(maxTokens), "--temperature", "0", "--threads", "1", "--json", ...(chat ? ["--chat"] : [])]);
  return JSON.parse(out) as Reference;
}

/**
 * A GGUF header describing a ~1.1 TB llama model, in a sparse file: no device can hold it, and the
 * solver only ever reads its header.
 */
function writeOversizedModel(path: string): void {
  const dim = 65536;
  const layers = 64;
  const w = new ByteWriter();
  const tensors: { name: string; dims: number[] }[] = [{ name: "token_embd.weight", dims: [dim, 512] }, { name: "output_norm.weight", dims: [dim] }];
  for (let l = 0; l < layers; l++) tensors.push({ name: `blk.${l}.attn_q.weight`, dims: [dim, dim] });
  const u32s: [string, number][] = [
    ["llama.context_length", 4096], ["llama.embedding_length", dim], ["llama.block_count", layers],
    ["llama.feed_forward_length", dim], ["llama.attention.head_count", 64], ["llama.attention.head_count_kv", 64],
  ];
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(1 + u32s.length);
  w.string("general.architecture");
  w.u32(GgufValueType.STRING);
  w.string("llama");
  for (const [k, v] of u32s) {
    w.string(k);
    w.u32(GgufValueType.UINT32);
    w.u32(v);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GgmlType.F32);
    w.u64(offset);
    offset += Math.ceil((t.dims.reduce((a, b) => a * b, 4)) / 32) * 32;
  }
  const header = w.bytes();
  const dataStart = Math.ceil(header.length / 32) * 32;
  writeFileSync(path, header);
  truncateSync(path, dataStart + offset);
}

interface Chunk {
  id: string;
  object: string;
  choices: { index: number; text?: string; delta?: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  tessera: { token_ids: number[]; cancelled?: boolean };
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

interface Reply {
  id: string;
  object: string;
  choices: { text?: string; message?: { role: string; content: string }; finish_reason: string }[];
  usage: Usage;
  tessera: { token_ids: number[]; instance_id: string };
}

interface ErrorShape {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** A streamed completion, checking OpenAI's framing on the way: text, finish reason, usage, token ids. */
async function streamed(o: ClientOptions, path: string, body: Record<string, unknown>): Promise<{ text: string; pieces: string[]; finish: string | null; usage?: Usage; tokens: number[]; chunks: Chunk[] }> {
  const { res, events } = await postStream(o, path, { ...body, stream: true });
  assert.equal(res.status, 200, await res.clone().text().catch(() => ""));
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const all = await collect(events);
  assert.equal(all.at(-1), "[DONE]", "the stream ends with data: [DONE]");
  const chunks = all.slice(0, -1) as Chunk[];
  const chat = path.includes("chat");
  for (const c of chunks) {
    assert.equal(c.object, chat ? "chat.completion.chunk" : "text_completion");
    assert.equal(c.id, chunks[0].id);
  }
  if (chat) assert.equal(chunks[0].choices[0].delta?.role, "assistant", "the first chat chunk names the role");
  const pieces = chunks.flatMap((c) => c.choices.map((x) => x.text ?? x.delta?.content ?? "")).filter((p) => p.length > 0);
  const finishes = chunks.flatMap((c) => c.choices.map((x) => x.finish_reason)).filter((f) => f !== null);
  assert.equal(finishes.length, 1, "exactly one chunk carries the finish reason");
  const withUsage = chunks.filter((c) => c.usage);
  assert.ok(withUsage.length <= 1);
  if (withUsage.length === 1) {
    assert.equal(withUsage[0], chunks.at(-1), "usage comes in the last chunk");
    assert.deepEqual(withUsage[0].choices, []);
  }
  return { text: pieces.join(""), pieces, finish: finishes[0], usage: withUsage[0]?.usage, tokens: chunks.flatMap((c) => c.tessera.token_ids), chunks };
}

function assertError(r: { status: number; body: unknown }, status: number, param?: string | null, code?: string): ErrorShape["error"] {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const e = (r.body as ErrorShape).error;
  assert.deepEqual(Object.keys(e).sort(), ["code", "message", "param", "type"]);
  assert.equal(typeof e.message, "string");
  assert.equal(e.type, status >= 500 ? (status === 507 ? "insufficient_storage" : "server_error") : "invalid_request_error");
  if (param !== undefined) assert.equal(e.param, param);
  if (code !== undefined) assert.equal(e.code, code);
  return e;
}

interface RunnerView {
  instance_id: string;
  stage: number;
  active_sequences: number;
  stats: { decode_steps: number };
}

async function runnerViews(nodes: readonly RunningNode[], instance: string): Promise<RunnerView[]> {
  const all = await Promise.all(nodes.map(async (n) => ((await (await fetch(`http://127.0.0.1:${n.api}/runners`)).json()) as { runners: RunnerView[] }).runners));
  return all.flat().filter((r) => r.instance_id === instance).sort((a, b) => a.stage - b.stage);
}

/** Waits until no stage of the instance holds a sequence; returns the stages' decode-step counters. */
async function untilFreed(nodes: readonly RunningNode[], instance: string): Promise<number[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const views = await runnerViews(nodes, instance);
    if (views.length > 0 && views.every((v) => v.active_sequences === 0)) return views.map((v) => v.stats.decode_steps);
    assert.ok(Date.now() < deadline, `stages still hold sequences: ${JSON.stringify(views)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("OpenAI-compatible API: auto-placement, formats, usage, stop, seed, errors, cancellation", { timeout: 420_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const models = join(tmp.dir, "models");
    mkdirSync(models);
    cli(["make-model", "--arch", "llama", "--type", "q8_0", "--dim", "128", "--layers", "4", "--heads", "4", "--kv-heads", "2", "--ffn", "384",
      "--ctx", "2048", "--vocab", "spm", "--vocab-size", "600", "--seed", "1", "--out", join(models, "slow.gguf")]);
    symlinkSync(STORIES_260K, join(models, "stories260K.gguf"));
    writeOversizedModel(join(models, "huge.gguf"));

    const args = ["--join", key, "--threads", "1", "--models-dir", models, "--telemetry-ms", "500"];
    const first = await startNode(join(tmp.dir, "n0"), args);
    const nodes = [first, await startNode(join(tmp.dir, "n1"), [...args, "--peer", `127.0.0.1:${first.port}`])];
    await until(nodes, agreed(2));
    // Automatic placement needs every node's measured profile.
    await until(nodes, (states) => states.every((s) => Object.values(s.nodes).every((n) => (n as { device?: { placement?: unknown } }).device?.placement !== undefined)), 60_000);
    const api = nodes.map((n): ClientOptions => ({ baseUrl: `http://127.0.0.1:${n.api}` }));

    await t.test("GET /v1/models lists the loadable models before any instance runs", async () => {
      const r = await getJson(api[1], "/v1/models");
      assert.equal(r.status, 200);
      const data = r.body["data"] as { id: string; object: string; tessera: { running: boolean } }[];
      assert.deepEqual(data.map((m) => m.id), ["huge", "slow", "stories260K"]);
      assert.ok(data.every((m) => m.object === "model" && !m.tessera.running));
    });

    const chatBody = { model: "stories260K", messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 24, temperature: 0 };
    const chatRef = reference("Tell me a story", 24, true);

    await t.test("the first request places the model, waits until it is ready, and answers with the chat template's prompt", async () => {
      const before = await getJson(api[1], "/state");
      assert.deepEqual(before.body["instances"], {});
      const asked = Date.now();
      const r = await postJson(api[1], "/v1/chat/completions", chatBody);
      t.diagnostic(`first request, placing stories260K and generating 24 tokens: ${Date.now() - asked} ms`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const reply = r.body as unknown as Reply;
      assert.equal(reply.object, "chat.completion");
      assert.match(reply.id, /^chatcmpl-/);
      assert.equal(reply.tessera.instance_id, autoInstanceId("stories260K"));
      assert.deepEqual(reply.tessera.token_ids, chatRef.tokens);
      assert.equal(reply.choices[0].message?.role, "assistant");
      assert.equal(reply.choices[0].message?.content, chatRef.text);
      assert.equal(reply.choices[0].finish_reason, "length");
      assert.deepEqual(reply.usage, { prompt_tokens: chatRef.prompt_tokens.length, completion_tokens: 24, total_tokens: chatRef.prompt_tokens.length + 24 });
      const after = await getJson(api[0], "/v1/models");
      const listed = (after.body["data"] as { id: string; tessera: { running: boolean } }[]).find((m) => m.id === "stories260K");
      assert.equal(listed?.tessera.running, true);
    });

    await t.test("streamed chat: OpenAI's chunks, the same text, usage only when asked for", async () => {
      const s = await streamed(api[0], "/v1/chat/completions", { ...chatBody, stream_options: { include_usage: true } });
      assert.equal(s.text, chatRef.text);
      assert.deepEqual(s.tokens, chatRef.tokens);
      assert.equal(s.finish, "length");
      assert.deepEqual(s.usage, { prompt_tokens: chatRef.prompt_tokens.length, completion_tokens: 24, total_tokens: chatRef.prompt_tokens.length + 24 });
      const plain = await streamed(api[0], "/v1/chat/completions", chatBody);
      assert.equal(plain.usage, undefined);
      assert.equal(plain.text, chatRef.text);
    });

    const textRef = reference("Once upon a time", 40, false);
    const textBody = { model: "stories260K", prompt: "Once upon a time", max_tokens: 40, temperature: 0 };
    let pieces: string[] = [];

    await t.test("completions, streamed and not, give the same tokens and usage", async () => {
      const r = await postJson(api[0], "/v1/completions", textBody);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const reply = r.body as unknown as Reply;
      assert.equal(reply.object, "text_completion");
      assert.equal(reply.choices[0].text, textRef.text);
      assert.deepEqual(reply.tessera.token_ids, textRef.tokens);
      assert.deepEqual(reply.usage, { prompt_tokens: textRef.prompt_tokens.length, completion_tokens: 40, total_tokens: textRef.prompt_tokens.length + 40 });
      const s = await streamed(api[1], "/v1/completions", { ...textBody, stream_options: { include_usage: true } });
      assert.equal(s.text, textRef.text);
      assert.deepEqual(s.usage, reply.usage);
      pieces = s.pieces;
    });

    await t.test("stop strings end the text before them, across token boundaries, streamed or not", async () => {
      // A stop string made of the end of one streamed piece and the start of the next.
      const k = pieces.findIndex((p, i) => i >= 5 && p.length >= 2 && (pieces[i + 1]?.length ?? 0) >= 2);
      assert.ok(k > 0, `no two long pieces in ${JSON.stringify(pieces)}`);
      const stop = pieces[k].slice(-2) + pieces[k + 1].slice(0, 2);
      const cut = textRef.text.indexOf(stop);
      const expected = textRef.text.slice(0, cut);
      t.diagnostic(`stop ${JSON.stringify(stop)} spans pieces ${k} and ${k + 1}; ${expected.length} of ${textRef.text.length} characters come back`);
      for (const s of [stop, ["no such text!", stop]]) {
        const r = await postJson(api[1], "/v1/completions", { ...textBody, stop: s });
        const reply = r.body as unknown as Reply;
        assert.equal(reply.choices[0].text, expected);
        assert.equal(reply.choices[0].finish_reason, "stop");
        assert.ok(reply.usage.completion_tokens < 40);
        assert.equal(reply.usage.completion_tokens, reply.tessera.token_ids.length);
        const st = await streamed(api[0], "/v1/completions", { ...textBody, stop: s, stream_options: { include_usage: true } });
        assert.equal(st.text, expected);
        assert.equal(st.finish, "stop");
        assert.equal(st.usage?.completion_tokens, st.tokens.length);
      }
      // The chat endpoint applies them too.
      const chatStop = chatRef.text.slice(10, 13);
      const c = await postJson(api[0], "/v1/chat/completions", { ...chatBody, stop: chatStop });
      assert.equal((c.body as unknown as Reply).choices[0].message?.content, chatRef.text.slice(0, chatRef.text.indexOf(chatStop)));
    });

    await t.test("a seed reproduces a sampled completion on any node; another seed gives another", async () => {
      const sampled = { model: "stories260K", prompt: "The little dog", max_tokens: 32, temperature: 1.2, top_p: 0.95 };
      const a = (await postJson(api[0], "/v1/completions", { ...sampled, seed: 42 })).body as unknown as Reply;
      const b = (await postJson(api[1], "/v1/completions", { ...sampled, seed: 42 })).body as unknown as Reply;
      const c = (await postJson(api[1], "/v1/completions", { ...sampled, seed: 43 })).body as unknown as Reply;
      const chatA = await streamed(api[1], "/v1/chat/completions", { ...chatBody, temperature: 1, seed: 7 });
      const chatB = (await postJson(api[0], "/v1/chat/completions", { ...chatBody, temperature: 1, seed: 7 })).body as unknown as Reply;
      // Seeds are 64-bit in OpenAI's API; the sampler takes their low 32 bits.
      const wide = (await postJson(api[0], "/v1/completions", { ...sampled, seed: 2 ** 32 + 42 })).body as unknown as Reply;
      assert.deepEqual(a.tessera.token_ids, b.tessera.token_ids);
      assert.deepEqual(wide.tessera.token_ids, a.tessera.token_ids);
      assert.equal(a.choices[0].text, b.choices[0].text);
      assert.notDeepEqual(a.tessera.token_ids, c.tessera.token_ids);
      assert.equal(chatA.text, chatB.choices[0].message?.content);
      assert.notDeepEqual(chatA.tokens, chatRef.tokens, "temperature 1 does not decode greedily");
    });

    await t.test("errors come in OpenAI's shape with the right status", async () => {
      const unknown = assertError(await postJson(api[0], "/v1/chat/completions", { ...chatBody, model: "no-such-model" }), 404, "model", "model_not_found");
      assert.match(unknown.message, /no instance serves model no-such-model/);
      const badRole = assertError(await postJson(api[0], "/v1/chat/completions", { ...chatBody, messages: [{ role: "wizard", content: "hi" }] }), 400, "messages.0.role", "invalid_value");
      assert.match(badRole.message, /messages\.0\.role/);
      assertError(await postJson(api[0], "/v1/chat/completions", { ...chatBody, n: 2 }), 400, "n");
      assertError(await postJson(api[0], "/v1/chat/completions", { ...chatBody, stop: ["a", "b", "c", "d", "e"] }), 400, "stop");
      assertError(await postJson(api[0], "/v1/completions", { ...textBody, temperature: "hot" }), 400, "temperature");
      assertError(await postJson(api[0], "/v1/completions", { model: "stories260K" }), 400, "prompt");
      // A prompt longer than the model's 2048-token context is the client's to fix.
      const tooLong = assertError(await postJson(api[1], "/v1/completions", { model: "stories260K", prompt: "once upon a time ".repeat(600) }), 400);
      assert.match(tooLong.message, /do not fit the 2048-token context/);
      assertError(await postJson(api[0], "/v1/chat/completions", "{\"model\": \"stories260K\", "), 400, null, "invalid_json");
      assertError(await postJson(api[0], "/v1/cancel/chatcmpl-nope", {}), 404, "id");
      assertError(await getJson(api[0], "/v1/nothing-here"), 404);
      // A model that cannot fit: 507, with the shortfall the solver computes.
      const huge = assertError(await postJson(api[1], "/v1/completions", { model: "huge", prompt: "hi" }), 507, null, "model_does_not_fit");
      const previews = await getJson(api[1], "/instance/previews?model=huge");
      const failure = previews.body["failure"] as { reason: string; shortfall_bytes: number };
      assert.equal(failure.reason, "does_not_fit");
      assert.ok(failure.shortfall_bytes > 1e11);
      assert.match(huge.message, new RegExp(`: ${failure.shortfall_bytes} bytes short`));
      const states = await getJson(api[0], "/state");
      assert.deepEqual(Object.keys(states.body["instances"] as object), [autoInstanceId("stories260K")], "nothing was placed for the failed requests");
    });

    // A two-stage instance with its head on node 0, of a model whose greedy text runs long.
    const ids = await nodeIds(nodes);
    const created = await postJson(api[0], "/instance", { model: "slow", instance_id: "slow2", placement: [{ node_id: ids[0], start: 0, end: 2 }, { node_id: ids[1], start: 2, end: 4 }] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await untilReady(nodes, ["slow2"]);
    const long = { model: "slow2", prompt: "hello world", max_tokens: 300, temperature: 0 };

    const full = (await postJson(api[1], "/v1/completions", long)).body as unknown as Reply;
    assert.equal(full.usage.completion_tokens, 300, "uncancelled, the generation runs to max_tokens");

    // Through another node's link to the head (1), and on the head's own node (0).
    for (const via of [1, 0]) await t.test(`a closed connection frees the sequence on every stage (asked on node ${via})`, async () => {
      const before = await untilFreed(nodes, "slow2");
      const abort = new AbortController();
      const { events } = await postStream(api[via], "/v1/completions", { ...long, stream: true }, abort.signal);
      let seen = 0;
      for await (const e of events) {
        if (((e as Chunk).choices?.[0]?.text ?? "").length > 0 && ++seen === 3) break;
      }
      abort.abort();
      const after = await untilFreed(nodes, "slow2");
      const steps = after.map((n, i) => n - before[i]);
      t.diagnostic(`decode steps per stage after the close: ${steps.join(", ")} (a full run: 299)`);
      assert.ok(steps.every((s) => s < 150), `the stages stopped early: ${steps.join(", ")}`);
    });

    await t.test("POST /v1/cancel/:id ends the stream cleanly and frees every stage", async () => {
      const before = await untilFreed(nodes, "slow2");
      const { events } = await postStream(api[1], "/v1/completions", { ...long, stream: true });
      const got: unknown[] = [];
      let id = "";
      let cancelled = false;
      // Reads on after the cancel: the stream must end by itself.
      for await (const e of events) {
        got.push(e);
        const c = e as Chunk;
        id ||= c.id;
        if (!cancelled && c.choices?.[0]?.text) {
          cancelled = true;
          const r = await postJson(api[1], `/v1/cancel/${encodeURIComponent(id)}`, {});
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.deepEqual(r.body, { id, object: "completion.cancelled", cancelled: true });
        }
      }
      assert.ok(cancelled);
      assert.equal(got.at(-1), "[DONE]");
      const last = got.at(-2) as Chunk;
      assert.equal(last.choices[0].finish_reason, "stop");
      assert.equal(last.tessera.cancelled, true);
      const after = await untilFreed(nodes, "slow2");
      const steps = after.map((n, i) => n - before[i]);
      t.diagnostic(`decode steps per stage after the cancel: ${steps.join(", ")}`);
      assert.ok(steps.every((s) => s < 150), `the stages stopped early: ${steps.join(", ")}`);
      assertError(await postJson(api[1], `/v1/cancel/${encodeURIComponent(id)}`, {}), 404, "id");
      // The instance still serves.
      const again = (await postJson(api[0], "/v1/completions", { ...long, max_tokens: 4 })).body as unknown as Reply;
      assert.equal(again.usage.completion_tokens, 4);
    });
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
