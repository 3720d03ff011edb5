// The `tessera` command line: one small module per command, dispatched by name.
import { CliError } from "./args.js";
import { generateCommand, GENERATE_USAGE } from "./generate.js";
import { makeModelCommand, MAKE_MODEL_USAGE } from "./make-model.js";
import { tokenizeCommand, TOKENIZE_USAGE } from "./tokenize.js";
import { startCommand, START_USAGE } from "./start.js";
import { listCommand, LIST_USAGE } from "./list.js";
import { infoCommand, INFO_USAGE } from "./info.js";
import { placeCommand, PLACE_USAGE } from "./place.js";
import { modelsCommand, MODELS_USAGE } from "./models.js";
import { chatCommand, CHAT_USAGE } from "./chat.js";
import { sendCommand, SEND_USAGE } from "./send.js";
import { pingCommand, PING_USAGE } from "./ping.js";

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; usage: string }> = {
  generate: { run: generateCommand, usage: GENERATE_USAGE },
  tokenize: { run: tokenizeCommand, usage: TOKENIZE_USAGE },
  "make-model": { run: makeModelCommand, usage: MAKE_MODEL_USAGE },
  start: { run: startCommand, usage: START_USAGE },
  list: { run: listCommand, usage: LIST_USAGE },
  info: { run: infoCommand, usage: INFO_USAGE },
  place: { run: placeCommand, usage: PLACE_USAGE },
  models: { run: modelsCommand, usage: MODELS_USAGE },
  chat: { run: chatCommand, usage: CHAT_USAGE },
  send: { run: sendCommand, usage: SEND_USAGE },
  ping: { run: pingCommand, usage: PING_USAGE },
};

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
    // Every failure is one line for the user; TESSERA_DEBUG=1 shows the stack when chasing a bug.
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`tessera ${name}: ${message}\n`);
    if (process.env.TESSERA_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}
