// Flag parsing shared by the commands: node's parseArgs in strict mode, plus typed number checks,
// so that a bad flag is one clear line, never a stack trace.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

/** An error meant for the user: printed as one line, exit code 1 (2 for usage errors). */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e), 2);
  }
}

/** Like parseFlags, for commands that also take positional arguments (`tessera send <node-id> <text>`). */
export function parseCommand<T extends Options>(argv: string[], options: T) {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values, positionals };
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e), 2);
  }
}

export function numberFlag(value: string | undefined, flag: string, fallback: number, check: (n: number) => boolean = () => true): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || !check(n)) throw new CliError(`invalid value for --${flag}: ${JSON.stringify(value)}`, 2);
  return n;
}

export const isPositiveInt = (n: number) => Number.isInteger(n) && n > 0;
export const isNonNegativeInt = (n: number) => Number.isInteger(n) && n >= 0;

/** The model a bare `tessera generate` runs: $TESSERA_MODEL, else stories260K from ../shared beside the checkout. */
export function defaultModelPath(): string {
  const fromEnv = process.env.TESSERA_MODEL;
  if (fromEnv) return fromEnv;
  return fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));
}

export function requireFile(path: string | undefined, flag: string): string {
  if (!path) throw new CliError(`--${flag} is required`, 2);
  const full = resolve(path);
  if (!existsSync(full)) throw new CliError(`no such file: ${path}`);
  return full;
}

