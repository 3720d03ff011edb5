// Every command has --help (exit 0, its usage on stdout), and those whose output is data offer --json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { TESSERA_BIN } from "../testing/paths.js";

function tessera(...args: string[]) {
  const r = spawnSync(process.execPath, [TESSERA_BIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Commands whose output is data a script may read. */
const DATA_COMMANDS = ["generate", "tokenize", "make-model", "list", "info", "place", "models", "chat", "send", "ping"];

test("--help works for every command the top-level usage lists", () => {
  const top = tessera("--help");
  assert.equal(top.code, 0, top.stderr);
  const commands = [...top.stdout.matchAll(/^ {2}tessera (\S+)/gm)].map((m) => m[1]);
  for (const c of ["start", "list", "info", "place", "chat", "send", "ping", "generate", "tokenize", "make-model"]) assert.ok(commands.includes(c), `${c} in ${commands.join(", ")}`);
  for (const c of commands) {
    // -h for one half, --help for the other: each process start costs seconds on a loaded machine.
    const flag = commands.indexOf(c) % 2 === 0 ? "--help" : "-h";
    const r = tessera(c, flag);
    assert.equal(r.code, 0, `${c} ${flag}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: tessera ${c}\\b`), c);
    assert.equal(r.stderr, "");
    if (DATA_COMMANDS.includes(c)) assert.match(r.stdout, /--json/, `${c} offers --json`);
  }
});
