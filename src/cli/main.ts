// The `tessera` command line: one small module per command, dispatched by name.
import { CliError } from "./args.js";
import { generateCommand, GENERATE_USAGE } from "./generate.js";
import { makeModelCommand, MAKE_MODEL_USAGE } from "./make-model.js";
import { tokenizeCommand, TOKENIZE_USAGE } from "./tokenize.js";
import { startCommand, START_USAGE } from "./start.js";
import { listCommand, LIST_USAGE } from "./list.js";
import { infoCommand, INFO_USAGE } from "./info.js";

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; usage: string }> = {
  generate: { run: generateCommand, usage: GENERATE_USAGE },
  tokenize: { run: tokenizeCommand, usage: TOKENIZE_USAGE },
  "make-model": { run: makeModelCommand, usage: MAKE_MODEL_USAGE },
  start: { run: startCommand, usage: START_USAGE },
  list: { run: listCommand, usage: LIST_USAGE },
  info: { run: infoCommand, usage: INFO_USAGE },
};

/** Error classes whose message is the whole story for a user (file-system errors are recognised by their code). */
const EXPECTED_ERRORS = new Set(["GgufError", "TokenizerError", "RangeError"]);

function usage(): string {
  return ["usage:", ...Object.values(COMMANDS).map((c) => `  ${c.usage}`)].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(usage() + "\n");
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`tessera: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`usage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    // Expected failures (bad flags, bad files, bad input) are one line; anything else is a bug and keeps its stack.
    if (e instanceof CliError) {
      process.stderr.write(`tessera ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof Error && (EXPECTED_ERRORS.has(e.name) || "code" in e)) {
      process.stderr.write(`tessera ${name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
