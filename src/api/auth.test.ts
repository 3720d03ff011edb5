// API keys on real `tessera start` processes, and a generic OpenAI client (plain fetch, as the SDKs
// do it) against a node that has one: every route but the dashboard's files needs the bearer key;
// with a key the API listens on all interfaces, without one on 127.0.0.1 only, and says so.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { killAll, startNode } from "../testing/cluster-procs.js";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";
import { apiKeyProblem, cookie, isPublicPath } from "./auth.js";
import { collect, getJson, postJson, postStream, type ClientOptions } from "./openai-test-client.js";

interface Started {
  readonly banner: string;
  readonly api: number;
  readonly stop: () => Promise<void>;
}

/** This process's environment, less any API key it may carry. */
const { TESSERA_API_KEY: _unused, ...withoutKey } = process.env;

/** Starts a node directly, to read what it prints before "ready" (and to give it an environment). */
async function startWithBanner(dataDir: string, args: string[], env: Record<string, string>): Promise<Started> {
  const proc = spawn(process.execPath, [TESSERA_BIN, "start", "--data-dir", dataDir, "--listen", "127.0.0.1", "--port", "0", "--api-port", "0",
    "--no-mdns", "--no-broadcast", "--telemetry-ms", "0", "--probe-ms", "0", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...withoutKey, ...env } });
  const exited = new Promise((r) => proc.once("exit", r));
  let out = "";
  const api = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line: ${out}`)), 30_000);
    proc.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /ready api=(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.stderr.on("data", (b: Buffer) => (out += b.toString()));
    proc.once("exit", (code) => reject(new Error(`exited with ${code}: ${out}`)));
  });
  return { banner: out, api, stop: async () => void (proc.kill("SIGKILL"), await exited) };
}

/** The local address a TCP port listens on, from the kernel's table (no connection is made). */
function listeningAddress(port: number): string | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const [, local, , st] = line.trim().split(/\s+/);
    if (st !== "0A" || !local?.endsWith(`:${hexPort}`)) continue;
    const ip = local.slice(0, 8);
    return [6, 4, 2, 0].map((i) => parseInt(ip.slice(i, i + 2), 16)).join(".");
  }
  return undefined;
}

interface Reply {
  choices: { message: { role: string; content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

interface ErrorReply {
  error: { message: string; type: string; param: string | null; code: string | null };
}

test("pure parts: which paths are public, which keys are usable", () => {
  for (const p of ["/", "/join", "/dashboard", "/dashboard/app.js"]) assert.ok(isPublicPath(p), p);
  for (const p of ["/state", "/v1/models", "/dashboards", "/events", "/instance", "/v1/cancel/x", "//dashboard"]) assert.ok(!isPublicPath(p), p);
  assert.equal(apiKeyProblem("sk-abc_123"), undefined);
  assert.match(apiKeyProblem("") ?? "", /empty/);
  assert.match(apiKeyProblem("has space") ?? "", /printable/);
  assert.equal(cookie("a=1; tessera_api_key=k%3D1; b=2", "tessera_api_key"), "k=1");
  assert.equal(cookie("tessera_api_key_x=1", "tessera_api_key"), undefined);
  assert.equal(cookie(undefined, "tessera_api_key"), undefined);
  assert.equal(cookie("tessera_api_key=%E0%A4%A", "tessera_api_key"), undefined);
});

test("with an API key: bearer auth on every route but the dashboard's, all interfaces, and a generic OpenAI client works", { timeout: 240_000 }, async (t) => {
  const tmp = tempDir();
  const key = `sk-tessera-${randomBytes(12).toString("hex")}`;
  const others: Started[] = [];
  try {
    const models = join(tmp.dir, "models");
    mkdirSync(models);
    symlinkSync(STORIES_260K, join(models, "stories260K.gguf"));
    const node = await startNode(join(tmp.dir, "n0"), ["--models-dir", models, "--threads", "1", "--telemetry-ms", "500", "--api-key", key]);
    const base = `http://127.0.0.1:${node.api}`;
    const keyed: ClientOptions = { baseUrl: base, apiKey: key };
    // The test helpers' /state polling carries no key, so poll with one here.
    const deadline = Date.now() + 30_000;
    while ((await getJson(keyed, "/state")).body["master_id"] === null) {
      assert.ok(Date.now() < deadline, "no master elected");
      await new Promise((r) => setTimeout(r, 200));
    }

    await t.test("requests without the key, or with another, get 401 in OpenAI's shape", async () => {
      const anonymous: ClientOptions = { baseUrl: base };
      const wrong: ClientOptions = { baseUrl: base, apiKey: `${key}x` };
      for (const path of ["/state", "/v1/models", "/runners", "/events", "/instance/previews?model=x", "/no-such-route"]) {
        for (const [who, code] of [[anonymous, "missing_api_key"], [wrong, "invalid_api_key"]] as const) {
          const r = await getJson(who, path);
          assert.equal(r.status, 401, path);
          const { message, ...rest } = (r.body as unknown as ErrorReply).error;
          assert.match(message, /API key/);
          assert.deepEqual(rest, { type: "invalid_request_error", param: null, code });
        }
      }
      // Authorization is checked before the body is even read.
      assert.equal((await postJson(anonymous, "/v1/chat/completions", "not json")).status, 401);
      assert.equal((await postJson(anonymous, "/v1/cancel/x", {})).status, 401);
      const sameLength = await fetch(`${base}/state`, { headers: { authorization: `Bearer ${key.slice(0, -1)}${key.endsWith("a") ? "b" : "a"}` } });
      assert.equal(sameLength.status, 401);
      const basic = await fetch(`${base}/state`, { headers: { authorization: `Basic ${Buffer.from(`u:${key}`).toString("base64")}` } });
      assert.equal(basic.status, 401);
      // A browser's EventSource sends no headers: GETs may carry the key as a cookie, other methods may not.
      const withCookie = { headers: { cookie: `tessera_api_key=${encodeURIComponent(key)}` } };
      const events = await fetch(`${base}/events?since=0`, { ...withCookie, signal: AbortSignal.timeout(10_000) });
      assert.equal(events.status, 200);
      await events.body?.cancel();
      assert.equal((await fetch(`${base}/state`, { headers: { cookie: "tessera_api_key=nope" } })).status, 401);
      assert.equal((await fetch(`${base}/v1/cancel/x`, { method: "POST", ...withCookie })).status, 401);
      // The dashboard's files load without the key (a browser must get the page before it can ask for one).
      for (const path of ["/", "/dashboard/index.html"]) assert.notEqual((await fetch(`${base}${path}`)).status, 401, path);
      assert.equal(listeningAddress(node.api), "0.0.0.0", "with a key the API listens on all interfaces");
    });

    await t.test("a generic OpenAI client: models, chat streamed and not with the same greedy text, usage, errors", async () => {
      const v1: ClientOptions = { baseUrl: `${base}/v1`, apiKey: key };
      const list = await getJson(v1, "/models");
      assert.equal(list.status, 200);
      assert.equal(list.body["object"], "list");
      const model = (list.body["data"] as { id: string }[]).find((m) => m.id === "stories260K")?.id;
      assert.equal(model, "stories260K");
      const request = { model, messages: [{ role: "system", content: "You tell stories." }, { role: "user", content: "A story about a cat" }], max_completion_tokens: 20, temperature: 0 };
      const once = await postJson(v1, "/chat/completions", request);
      assert.equal(once.status, 200, JSON.stringify(once.body));
      const reply = once.body as unknown as Reply;
      assert.equal(reply.choices[0].message.role, "assistant");
      assert.ok(reply.choices[0].message.content.length > 0);
      assert.equal(reply.usage.completion_tokens, 20);
      assert.equal(reply.usage.total_tokens, reply.usage.prompt_tokens + 20);
      const { res, events } = await postStream(v1, "/chat/completions", { ...request, stream: true, stream_options: { include_usage: true } });
      assert.equal(res.status, 200);
      const all = await collect(events);
      assert.equal(all.pop(), "[DONE]");
      const chunks = all as { choices: { delta: { content?: string } }[]; usage?: Reply["usage"] }[];
      assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), reply.choices[0].message.content);
      assert.deepEqual(chunks.at(-1)?.usage, reply.usage);
      const missing = await postJson(v1, "/chat/completions", { ...request, model: "gpt-4o" });
      assert.equal(missing.status, 404);
      assert.match((missing.body as unknown as ErrorReply).error.message, /gpt-4o/);
      const bad = await postJson(v1, "/chat/completions", { ...request, messages: "hi" });
      assert.equal(bad.status, 400);
      assert.equal((bad.body as unknown as ErrorReply).error.param, "messages");
    });

    await t.test("TESSERA_API_KEY sets the key too; without a key the API is on 127.0.0.1 only and says so", async () => {
      const fromEnv = await startWithBanner(join(tmp.dir, "env"), [], { TESSERA_API_KEY: "env-key-1" });
      others.push(fromEnv);
      assert.match(fromEnv.banner, /all interfaces/);
      const envBase = `http://127.0.0.1:${fromEnv.api}`;
      assert.equal((await fetch(`${envBase}/node_id`)).status, 401);
      assert.equal((await fetch(`${envBase}/node_id`, { headers: { authorization: "Bearer env-key-1" } })).status, 200);
      assert.equal(listeningAddress(fromEnv.api), "0.0.0.0");

      const open = await startWithBanner(join(tmp.dir, "open"), [], {});
      others.push(open);
      assert.match(open.banner, /127\.0\.0\.1 only: no API key is set/);
      assert.equal((await fetch(`http://127.0.0.1:${open.api}/node_id`)).status, 200);
      assert.equal(listeningAddress(open.api), "127.0.0.1");
    });
  } finally {
    for (const o of others) await o.stop();
    await killAll();
    tmp.cleanup();
  }
});
