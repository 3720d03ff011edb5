// `tessera models` as a user runs it, against a local stand-in for the Hub: pull (with HF_ENDPOINT and
// HF_TOKEN from the environment), resume across two runs, ls, rm, and one-line errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, statSync, symlinkSync } from "node:fs";
import { dirname } from "node:path";
import { STORIES_260K, TESSERA_BIN, tempDir } from "../testing/paths.js";
import { startLocalHub } from "../testing/local-hub.js";

const REPO = "tessera-test/stories";
const SIZE = statSync(STORIES_260K).size;

/** Runs the CLI without blocking this process, whose event loop serves the local Hub. */
function tessera(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TESSERA_BIN, ...args], { env: { ...process.env, HF_TOKEN: "", ...env }, encoding: "utf8", timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function oneLineError(stderr: string): void {
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

test("models pull / ls / rm against the local Hub, with HF_TOKEN from the environment", async () => {
  const hub = await startLocalHub({ repos: { [REPO]: dirname(STORIES_260K) }, token: "hf_cli" });
  const tmp = tempDir();
  const env = { HF_ENDPOINT: hub.url, HF_TOKEN: "hf_cli", TESSERA_MODELS_DIR: tmp.dir };
  try {
    const empty = await tessera(env, "models");
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /no models in/);

    const pulled = await tessera(env, "models", "pull", REPO, "--json");
    assert.equal(pulled.code, 0, pulled.stderr);
    const out = JSON.parse(pulled.stdout);
    assert.equal(out.name, `${REPO}:stories260K.gguf`);
    assert.equal(out.sha256, "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
    assert.equal(out.bytes_fetched, SIZE);
    assert.match(pulled.stderr, /100\.0% \(1185376 of 1185376 bytes/, "a plain progress line when not on a terminal");
    assert.ok(hub.requests.filter((r) => r.route !== "cdn").every((r) => r.authorization === "Bearer hf_cli"));

    const ls = await tessera(env, "models", "ls");
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(ls.stdout.trim().split("\n").map((l) => l.split(/\s{2,}/)), [
      ["NAME", "SIZE", "ARCH", "TYPE", "LAYERS"],
      [`${REPO}:stories260K.gguf`, "1.1 MiB", "llama", "F32", "5"],
    ]);
    const lsJson = JSON.parse((await tessera(env, "models", "ls", "--json")).stdout);
    assert.equal(lsJson.models_dir, tmp.dir);
    assert.deepEqual(lsJson.models.map((m: { name: string; layers: number }) => [m.name, m.layers]), [[`${REPO}:stories260K.gguf`, 5]]);

    const noToken = await tessera({ ...env, HF_TOKEN: "" }, "models", "pull", REPO, "--models-dir", `${tmp.dir}/other`);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /^tessera models: .*401.*set HF_TOKEN/);
    oneLineError(noToken.stderr);

    const rm = await tessera(env, "models", "rm", `${REPO}:stories260K.gguf`);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /removed tessera-test\/stories:stories260K\.gguf \(1\.1 MiB\)/);
    assert.match((await tessera(env, "models", "ls")).stdout, /no models in/);
    const again = await tessera(env, "models", "rm", REPO);
    assert.equal(again.code, 1);
    oneLineError(again.stderr);
  } finally {
    await hub.close();
    tmp.cleanup();
  }
});

test("an interrupted pull resumes on the next run, and only the rest is sent", async () => {
  const hub = await startLocalHub({ repos: { [REPO]: dirname(STORIES_260K) } });
  const tmp = tempDir();
  const env = { HF_ENDPOINT: hub.url, TESSERA_MODELS_DIR: tmp.dir };
  try {
    hub.cutNextResponses(400_000);
    const first = await tessera(env, "models", "pull", `${REPO}:stories260K.gguf`, "--retries", "0");
    assert.equal(first.code, 1);
    assert.match(first.stderr, /stopped at 400000 of 1185376 bytes; run the pull again to resume/);
    const listed = await tessera(env, "models", "ls");
    assert.match(listed.stdout, /unfinished: tessera-test\/stories:stories260K\.gguf 33% of 1\.1 MiB/);
    const second = await tessera(env, "models", "pull", `${REPO}:stories260K.gguf`, "--json");
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /resuming from byte 400000/);
    assert.equal(JSON.parse(second.stdout).resumed_from, 400_000);
    const cdn = hub.requests.filter((r) => r.route === "cdn");
    assert.deepEqual(cdn.map((r) => [r.range, r.bodyBytes]), [[undefined, 400_000], ["bytes=400000-", SIZE - 400_000]]);
  } finally {
    await hub.close();
    tmp.cleanup();
  }
});

test("a full disk and bad names are one clear line", async () => {
  const hub = await startLocalHub({ repos: { [REPO]: dirname(STORIES_260K) } });
  const tmp = tempDir();
  const env = { HF_ENDPOINT: hub.url, TESSERA_MODELS_DIR: tmp.dir };
  try {
    const dest = `${tmp.dir}/${REPO}/stories260K.gguf`;
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync("/dev/full", `${dest}.part`);
    const full = await tessera(env, "models", "pull", REPO);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /tessera models: no room for tessera-test\/stories:stories260K\.gguf \(ENOSPC\): it needs 1185376 bytes \(1\.1 MiB\) more, and .* available/);
    assert.equal(existsSync(dest), false);
    oneLineError(full.stderr.split("\n").filter((l) => l.startsWith("tessera")).join("\n"));

    for (const [args, pattern] of [
      [["models", "pull"], /expected one model name/],
      [["models", "pull", "a/b:../../etc/passwd.gguf"], /not a file path inside a Hub repository/],
      [["models", "pull", "./x.gguf"], /is a local path/],
      [["models", "nope"], /unknown models command/],
      [["models", "ls", "--bogus"], /Unknown option '--bogus'/],
    ] as [string[], RegExp][]) {
      const r = await tessera(env, ...args);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, pattern, `${args.join(" ")}: ${r.stderr}`);
      oneLineError(r.stderr);
    }
  } finally {
    await hub.close();
    tmp.cleanup();
  }
});
