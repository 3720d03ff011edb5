// The tessera command as a user runs it: real processes, exit codes, one-line errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";

function tessera(...args: string[]) {
  const r = spawnSync(process.execPath, [TESSERA_BIN, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("generate --json on stories260K: ids, text and timings", () => {
  const r = tessera("generate", "--model", STORIES_260K, "--prompt", "Once upon a time", "--max-tokens", "40", "--temperature", "0", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.prompt_tokens, [1, 403, 407, 261, 378]);
  assert.equal(out.tokens.length, 40);
  assert.equal(out.text, ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.");
  assert.ok(out.timings.prefill_tok_s > 0 && out.timings.decode_tok_s > 0);
});

test("generate streams the prompt and continuation to stdout", () => {
  const r = tessera("generate", "--model", STORIES_260K, "--prompt", "Once upon a time", "--max-tokens", "40", "--temperature", "0");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.");
});

test("tokenize --json uses the model's BOS rule", () => {
  const r = tessera("tokenize", "--model", STORIES_260K, "--text", "Once upon a time", "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { tokens: [1, 403, 407, 261, 378] });
});

test("make-model writes a model that generate runs", () => {
  const tmp = tempDir();
  try {
    const out = join(tmp.dir, "m.gguf");
    const made = tessera("make-model", "--arch", "qwen3", "--type", "q4_k", "--out", out, "--dim", "256", "--layers", "1", "--heads", "4", "--kv-heads", "2", "--ffn", "512", "--head-dim", "64");
    assert.equal(made.code, 0, made.stderr);
    const r = tessera("generate", "--model", out, "--prompt", "Hello", "--max-tokens", "5", "--temperature", "0", "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).tokens.length > 0);

    // --chat renders the model's ChatML template; its control tokens are parsed as single tokens.
    const chat = tessera("generate", "--model", out, "--prompt", "Hello", "--max-tokens", "3", "--temperature", "0", "--chat", "--json");
    assert.equal(chat.code, 0, chat.stderr);
    const plain = tessera("tokenize", "--model", out, "--text", "Hello", "--json");
    const chatIds: number[] = JSON.parse(chat.stdout).prompt_tokens;
    const plainIds: number[] = JSON.parse(plain.stdout).tokens;
    assert.ok(chatIds.length > plainIds.length + 4, `chat prompt ${chatIds.join(",")} wraps the plain one`);
    const imStart = chatIds[0];
    assert.equal(chatIds.filter((id) => id === imStart).length, 2, "<|im_start|> opens the user turn and the assistant turn");
  } finally {
    tmp.cleanup();
  }
});

test("bad input: one clear line, non-zero exit, no stack trace", () => {
  const cases: [string[], RegExp][] = [
    [["generate", "--model", "/nonexistent/model.gguf"], /no such file/],
    [["generate", "--model", STORIES_260K, "--max-tokens", "many"], /invalid value for --max-tokens/],
    [["generate", "--model", STORIES_260K, "--bogus"], /Unknown option '--bogus'/],
    [["generate", "--model", TESSERA_BIN], /GGUF|magic/i],
    [["tokenize", "--model", STORIES_260K], /--text is required/],
    [["make-model", "--arch", "gpt9", "--out", "/tmp/x.gguf"], /unknown --arch/],
    [["make-model", "--type", "q4_k", "--dim", "128", "--heads", "4", "--out", "/tmp/x.gguf"], /multiple of 256/],
    [["make-model", "--dim", "100", "--out", "/tmp/x.gguf"], /not divisible by 8 heads/],
    [["frobnicate"], /unknown command/],
  ];
  for (const [args, pattern] of cases) {
    const r = tessera(...args);
    assert.notEqual(r.code, 0, `${args.join(" ")} should fail`);
    assert.match(r.stderr, pattern, `${args.join(" ")}: ${r.stderr}`);
    // An unknown command also lists the usage; every other failure is exactly one line.
    if (!r.stderr.includes("usage:")) assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});
