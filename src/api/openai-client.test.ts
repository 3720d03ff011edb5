// The official `openai` npm client, unchanged, against three real `tessera start` processes that share
// an API key, holding stories260K placed by the solver across all three: it lists the models, gets the
// same greedy chat answer streamed and not (equal to single-process `tessera generate`), with usage,
// and sees its own error classes for an unknown model (404), a bad body (400) and a missing key (401).
// The API listens on every interface once a key is set; the client only ever talks to 127.0.0.1.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AuthenticationError, BadRequestError, NotFoundError, OpenAI } from "openai";
import { generateClusterKey } from "../net/index.js";
import { killAll, startNode, type RunningNode, type StateView } from "../testing/cluster-procs.js";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";

const API_KEY = "openai-client-test-key";
const PROMPT = "Tell me a story";
const MAX_TOKENS = 24;

type Full = StateView & {
  nodes: Record<string, { status: string; device?: { placement?: unknown } }>;
  instances: Record<string, { placement: { nodeId: string; start: number; end: number }[] }>;
  runners: Record<string, { instanceId: string; nodeId: string; status: string; error?: string }>;
};

/** GET /state with the key: the shared helpers in testing/ send none, and every keyed route needs it. */
async function keyedState(node: RunningNode): Promise<Full> {
  const res = await fetch(`http://127.0.0.1:${node.api}/state`, { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as Full;
}

async function untilKeyed(nodes: readonly RunningNode[], check: (states: Full[]) => boolean, what: string, timeoutMs = 60_000): Promise<Full[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(nodes.map(keyedState));
    if (check(states)) return states;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A client for one node, as a user would make it: base URL and key, nothing else changed but retries (none, so errors show at once). */
function client(node: RunningNode, options: { apiKey?: string; noAuthHeader?: boolean } = {}): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? API_KEY,
    baseURL: `http://127.0.0.1:${node.api}/v1`,
    maxRetries: 0,
    timeout: 90_000,
    // The client refuses to start without a key; a null header is its documented way to send none.
    ...(options.noAuthHeader ? { defaultHeaders: { authorization: null } } : {}),
  });
}

test("the official openai client against a keyed 3-node cluster: models, chat streamed and not, usage, 404, 400, 401", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = generateClusterKey();
  try {
    const ref = spawnSync(process.execPath, [TESSERA_BIN, "generate", "--model", STORIES_260K, "--prompt", PROMPT, "--chat", "--max-tokens", String(MAX_TOKENS),
      "--temperature", "0", "--threads", "1", "--json"], { encoding: "utf8" });
    assert.equal(ref.status, 0, ref.stderr);
    const want = JSON.parse(ref.stdout) as { prompt_tokens: number[]; tokens: number[]; text: string };
    assert.equal(want.tokens.length, MAX_TOKENS);

    const models = join(tmp.dir, "models");
    mkdirSync(models);
    symlinkSync(STORIES_260K, join(models, "stories260K.gguf"));
    const args = (i: number) => ["--name", `n${i}`, "--join", key, "--api-key", API_KEY, "--threads", "1", "--models-dir", models, "--telemetry-ms", "500"];
    const first = await startNode(join(tmp.dir, "n0"), args(0));
    const nodes = [first];
    for (let i = 1; i < 3; i++) nodes.push(await startNode(join(tmp.dir, `n${i}`), [...args(i), "--peer", `127.0.0.1:${first.port}`]));
    // One master, three live members, each with the measured profile the solver needs.
    await untilKeyed(nodes, (states) => states.every((s) => s.master_id !== null && s.master_id === states[0].master_id &&
      Object.values(s.nodes).filter((n) => n.status === "alive" && n.device?.placement !== undefined).length === 3), "three profiled members");

    // The solver places it (no placement given), told to use all three nodes.
    const created = await fetch(`http://127.0.0.1:${first.api}/instance`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ model: "stories260K", instance_id: "story3", constraints: { min_nodes: 3 } }),
    });
    const createdBody = (await created.json()) as { placement: { node_id: string }[] };
    assert.equal(created.status, 201, JSON.stringify(createdBody));
    assert.equal(new Set(createdBody.placement.map((p) => p.node_id)).size, 3, "one stage on each node");
    await untilKeyed(nodes, (states) => states.every((s) => {
      const runners = Object.values(s.runners).filter((r) => r.instanceId === "story3");
      const failed = runners.find((r) => r.status === "failed");
      if (failed) throw new Error(`runner on ${failed.nodeId} failed: ${failed.error}`);
      return runners.length === 3 && runners.every((r) => r.status === "ready");
    }), "the instance to be ready");
    t.diagnostic(`placement: ${JSON.stringify(createdBody.placement)}`);

    await t.test("models.list shows stories260K with its running instance", async () => {
      const ids: string[] = [];
      for await (const m of client(nodes[2]).models.list()) ids.push(m.id);
      assert.deepEqual(ids, ["stories260K"]);
      const page = await client(nodes[1]).models.list();
      const entry = page.data[0] as typeof page.data[0] & { tessera?: { running: boolean; instances: { instance_id: string }[] } };
      assert.equal(entry.object, "model");
      assert.equal(entry.tessera?.running, true);
      assert.deepEqual(entry.tessera?.instances.map((i) => i.instance_id), ["story3"]);
    });

    const request = { model: "stories260K", messages: [{ role: "user" as const, content: PROMPT }], max_tokens: MAX_TOKENS, temperature: 0 };

    await t.test("chat, not streamed and streamed, gives the same greedy text as one process, with usage", async () => {
      const plain = await client(nodes[1]).chat.completions.create(request);
      assert.equal(plain.object, "chat.completion");
      assert.equal(plain.choices.length, 1);
      assert.equal(plain.choices[0].message.role, "assistant");
      assert.equal(plain.choices[0].finish_reason, "length");
      assert.equal(plain.choices[0].message.content, want.text);
      assert.deepEqual(plain.usage, { prompt_tokens: want.prompt_tokens.length, completion_tokens: MAX_TOKENS, total_tokens: want.prompt_tokens.length + MAX_TOKENS });

      const stream = await client(nodes[2]).chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
      let text = "";
      let pieces = 0;
      const finishes: string[] = [];
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        assert.equal(chunk.object, "chat.completion.chunk");
        for (const c of chunk.choices) {
          if (c.delta.content) {
            text += c.delta.content;
            pieces++;
          }
          if (c.finish_reason) finishes.push(c.finish_reason);
        }
        if (chunk.usage) usage = chunk.usage;
      }
      assert.ok(pieces > 1, `the answer came in ${pieces} pieces`);
      assert.equal(text, plain.choices[0].message.content);
      assert.deepEqual(finishes, ["length"]);
      assert.deepEqual(usage, plain.usage);
      t.diagnostic(`greedy answer (${pieces} streamed pieces): ${JSON.stringify(text)}`);
    });

    await t.test("an unknown model is the client's NotFoundError (404)", async () => {
      await assert.rejects(client(nodes[0]).chat.completions.create({ ...request, model: "no-such-model" }), (e: unknown) => {
        assert.ok(e instanceof NotFoundError, `got ${String(e)}`);
        assert.equal(e.status, 404);
        assert.equal(e.type, "invalid_request_error");
        assert.match(e.message, /no-such-model/);
        return true;
      });
    });

    await t.test("a bad body is the client's BadRequestError (400) naming the field", async () => {
      await assert.rejects(client(nodes[0]).chat.completions.create({ ...request, temperature: 5 }), (e: unknown) => {
        assert.ok(e instanceof BadRequestError, `got ${String(e)}`);
        assert.equal(e.status, 400);
        assert.equal(e.param, "temperature");
        return true;
      });
      await assert.rejects(client(nodes[1]).chat.completions.create({ ...request, messages: [] }), (e: unknown) => {
        assert.ok(e instanceof BadRequestError, `got ${String(e)}`);
        assert.equal(e.param, "messages");
        return true;
      });
    });

    await t.test("no key, or a wrong one, is the client's AuthenticationError (401)", async () => {
      for (const [c, code] of [[client(nodes[2], { noAuthHeader: true }), "missing_api_key"], [client(nodes[2], { apiKey: "not-the-key" }), "invalid_api_key"]] as const) {
        await assert.rejects(c.models.list(), (e: unknown) => {
          assert.ok(e instanceof AuthenticationError, `got ${String(e)}`);
          assert.equal(e.status, 401);
          assert.equal(e.code, code);
          return true;
        });
        await assert.rejects(c.chat.completions.create(request), AuthenticationError);
      }
    });
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
