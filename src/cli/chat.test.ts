// `tessera chat` with piped stdin against a real one-node cluster serving stories260K: each line is a
// user message, the streamed replies equal the same greedy requests made through the API, and the
// history (system prompt, earlier turns) goes with every request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { complete, createInstance, nodeIds, untilReady } from "../testing/api-client.js";
import { agreed, killAll, QUIET, startNode, until } from "../testing/cluster-procs.js";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The CLI with `input` piped to its stdin (so not a terminal), and a HOME of its own. */
function tessera(home: string, input: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [TESSERA_BIN, ...args], { env: { ...process.env, HOME: home, TESSERA_CONFIG: "" }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

const MAX_TOKENS = 24;

test("chat from piped stdin streams the same greedy replies as the API, keeping the history", { timeout: 300_000 }, async () => {
  const tmp = tempDir();
  try {
    const node = await startNode(join(tmp.dir, "n"), ["--name", "solo", "--threads", "1", ...QUIET]);
    await until([node], agreed(1));
    const [id] = await nodeIds([node]);
    await createInstance(node, STORIES_260K, [{ node_id: id, start: 0, end: 5 }], "stories");
    await untilReady([node], ["stories"]);
    const api = `http://127.0.0.1:${node.api}`;
    const greedy = async (messages: { role: string; content: string }[]) => {
      const r = await complete(node, "/v1/chat/completions", { model: "stories260K", messages, max_tokens: MAX_TOKENS, temperature: 0 });
      assert.equal(r.status, 200, r.error ?? "");
      return r;
    };

    // Two turns; the model is found through /v1/models (the one running), blank lines are skipped.
    const first = await greedy([{ role: "user", content: "Tell me a story" }]);
    const second = await greedy([
      { role: "user", content: "Tell me a story" },
      { role: "assistant", content: first.text },
      { role: "user", content: "What happened next?" },
    ]);
    assert.ok(first.text.length > 0 && second.text.length > 0);
    const chat = await tessera(tmp.dir, "Tell me a story\n\nWhat happened next?\n", "chat", "--api", api, "--temperature", "0", "--max-tokens", String(MAX_TOKENS));
    assert.equal(chat.code, 0, chat.stderr);
    assert.equal(chat.stdout, `${first.text}\n${second.text}\n`);
    assert.equal(chat.stderr, "");

    // --system leads the history; --json gives one object per reply, with the stream's usage.
    const system = "You are a storyteller.";
    const withSystem = await greedy([{ role: "system", content: system }, { role: "user", content: "Once upon a time" }]);
    const json = await tessera(tmp.dir, "Once upon a time", "chat", "--api", api, "--model", "stories260K", "--system", system,
      "--temperature", "0", "--max-tokens", String(MAX_TOKENS), "--json");
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { content: string; finish_reason: string; usage: { completion_tokens: number } | null });
    assert.equal(lines.length, 1);
    assert.equal(lines[0].content, withSystem.text);
    assert.equal(lines[0].finish_reason, withSystem.finishReason);
    assert.equal(lines[0].usage?.completion_tokens, withSystem.tokens.length);

    // Mistakes are one line: an unknown model, and no --model while two models run.
    const unknown = await tessera(tmp.dir, "hi\n", "chat", "--api", api, "--model", "no-such-model");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^tessera chat: .*no-such-model.*\n$/);

    const random = join(tmp.dir, "tiny.gguf");
    const made = spawnSync(process.execPath, [TESSERA_BIN, "make-model", "--arch", "llama", "--dim", "64", "--layers", "1", "--heads", "2", "--ffn", "128", "--vocab-size", "300", "--out", random], { encoding: "utf8" });
    assert.equal(made.status, 0, made.stderr);
    await createInstance(node, random, [{ node_id: id, start: 0, end: 1 }], "tiny");
    await untilReady([node], ["tiny"]);
    const ambiguous = await tessera(tmp.dir, "hi\n", "chat", "--api", api);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /^tessera chat: 2 models are running; pick one with --model: .*stories260K \(running\).*\n$/);
    assert.match(ambiguous.stderr, /tiny \(running\)/);

    const unreachable = await tessera(tmp.dir, "hi\n", "chat", "--api", "http://127.0.0.1:1", "--model", "m");
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^tessera chat: cannot reach a tessera node at http:\/\/127\.0\.0\.1:1: .*\n$/);
  } finally {
    await killAll();
    tmp.cleanup();
  }
});
