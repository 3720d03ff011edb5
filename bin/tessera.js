#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/.
import("../dist/cli/main.js").then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`tessera: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
