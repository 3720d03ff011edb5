// Settings for `tessera start` and the client commands come from three places, in this order of
// precedence: command-line flags, the environment (TESSERA_*), and a YAML file (TESSERA_CONFIG, else
// ~/.tessera/config.yaml). A key has the same name everywhere: the flag `--api-port`, the variable
// TESSERA_API_PORT and the YAML key `api-port`. Values from the environment and the file are checked by
// the same zod schema per key, so a bad one is reported with the variable or key that holds it.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { CliError } from "./args.js";

type Kind = "string" | "path" | "int" | "boolean" | "list";

interface KeySpec {
  readonly kind: Kind;
  readonly schema: z.ZodType;
  /** The variable, when it is not TESSERA_ plus the key in upper case (kept for an older name). */
  readonly env?: string;
}

const port = z.number().int().min(0).max(65535);
const ms = (min: number) => z.number().int().min(min).max(3_600_000);
// 0 turns the periodic task off; anything else has a floor, as the flags have.
const offOrAtLeast = (min: number) =>
  z.number().int().max(3_600_000).refine((n) => n === 0 || n >= min, `must be 0 (off) or at least ${min}`);
const text = z.string().min(1).max(4096);

const KEYS = {
  name: { kind: "string", schema: z.string().min(1).max(128) },
  port: { kind: "int", schema: port },
  "api-port": { kind: "int", schema: port },
  peer: { kind: "list", schema: z.array(text).max(64) },
  "no-mdns": { kind: "boolean", schema: z.boolean() },
  "no-broadcast": { kind: "boolean", schema: z.boolean() },
  "data-dir": { kind: "path", schema: text },
  join: { kind: "string", schema: text, env: "TESSERA_CLUSTER_KEY" },
  open: { kind: "boolean", schema: z.boolean() },
  "force-master": { kind: "boolean", schema: z.boolean() },
  listen: { kind: "string", schema: z.enum(["0.0.0.0", "127.0.0.1"]) },
  "heartbeat-ms": { kind: "int", schema: ms(50) },
  "master-timeout-ms": { kind: "int", schema: ms(50) },
  "node-timeout-ms": { kind: "int", schema: ms(50) },
  "models-dir": { kind: "path", schema: text },
  threads: { kind: "int", schema: z.number().int().min(1).max(1024) },
  backend: { kind: "string", schema: z.enum(["cpu", "webgpu", "auto"]) },
  gpu: { kind: "int", schema: z.number().int().min(0).max(64) },
  // A byte count, or a size as people write it (8GiB, 512M); `start` reads it as --max-memory.
  "max-memory": { kind: "string", schema: z.union([z.number().int().positive(), z.string().regex(/^\s*\d+(\.\d+)?\s*[kmgt]?(i?b)?\s*$/i, "must be a size such as 8GiB or 512M")]) },
  "rebalance-after-ms": { kind: "int", schema: z.number().int().min(0).max(86_400_000) },
  "max-batch": { kind: "int", schema: z.number().int().min(1).max(256) },
  "step-timeout-ms": { kind: "int", schema: ms(100) },
  "telemetry-ms": { kind: "int", schema: offOrAtLeast(100) },
  "probe-ms": { kind: "int", schema: offOrAtLeast(1000) },
  api: { kind: "string", schema: z.string().regex(/^https?:\/\/[^\s]+$/, "must be an http:// or https:// URL") },
  "api-key": { kind: "string", schema: text },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof KEYS;
export type ConfigValue = string | number | boolean | readonly string[];
export type ConfigValues = Partial<Record<ConfigKey, ConfigValue>>;

export const CONFIG_KEYS = Object.keys(KEYS) as ConfigKey[];
/** What `tessera start` takes from the environment and the file (every key but the client's `api`). */
export const START_CONFIG_KEYS = CONFIG_KEYS.filter((k) => k !== "api");
/** What the client commands (chat, list, place, send, ping) take. */
export const CLIENT_CONFIG_KEYS: readonly ConfigKey[] = ["api", "api-key", "api-port"];

export interface Config {
  /** The environment, read key by key when asked (a bad TESSERA_THREADS must not break `tessera list`). */
  readonly env: NodeJS.ProcessEnv;
  readonly file: ConfigValues;
  readonly home: string;
  /** The YAML file that was read, if any. */
  readonly path?: string;
}

export function envName(key: ConfigKey): string {
  const spec: KeySpec = KEYS[key];
  return spec.env ?? `TESSERA_${key.toUpperCase().replace(/-/g, "_")}`;
}

function describe(error: z.ZodError): string {
  return error.issues[0]?.message ?? "invalid value";
}

/** "~/models" → the home directory's models: YAML files and quoted variables are not expanded by a shell. */
function expandHome(path: string, home: string): string {
  return path === "~" ? home : path.startsWith("~/") ? join(home, path.slice(2)) : path;
}

function fromEnvText(key: ConfigKey, raw: string, home: string): ConfigValue {
  const spec: KeySpec = KEYS[key];
  const name = envName(key);
  let value: unknown = raw;
  if (spec.kind === "int") {
    value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value)) throw new CliError(`${name}: expected a number, got ${JSON.stringify(raw)}`, 2);
  }
  else if (spec.kind === "boolean") {
    if (/^(1|true|yes|on)$/i.test(raw)) value = true;
    else if (/^(0|false|no|off)$/i.test(raw)) value = false;
    else throw new CliError(`${name}: expected true or false, got ${JSON.stringify(raw)}`, 2);
  } else if (spec.kind === "list") value = raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  else if (spec.kind === "path") value = expandHome(raw, home);
  const parsed = spec.schema.safeParse(value);
  if (!parsed.success) throw new CliError(`${name}: ${describe(parsed.error)}, got ${JSON.stringify(raw)}`, 2);
  return parsed.data as ConfigValue;
}

// The file's schema: every key optional, unknown keys refused (a typo must not be silently ignored), and
// a list key may also be written as one string.
const FileSchema = z.strictObject(
  Object.fromEntries(
    CONFIG_KEYS.map((key) => {
      const spec: KeySpec = KEYS[key];
      const schema = spec.kind === "list" ? z.preprocess((v) => (typeof v === "string" ? [v] : v), spec.schema) : spec.schema;
      return [key, schema.optional()];
    }),
  ),
);

/** Levenshtein distance, for "did you mean" on a mistyped key. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length];
}

/** Parses a YAML config's text; errors name the file and the key. */
export function parseConfigText(source: string, where: string, home = homedir()): ConfigValues {
  let doc: unknown;
  try {
    doc = parseYaml(source);
  } catch (e) {
    const first = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    throw new CliError(`${where}: not valid YAML: ${first}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new CliError(`${where}: expected a mapping of keys to values (e.g. "api-port: 52415")`);
  const parsed = FileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue?.code === "unrecognized_keys") {
      const key = issue.keys[0];
      const near = CONFIG_KEYS.find((k) => editDistance(k, key) <= 2);
      const hint = near ? `did you mean "${near}"?` : `known keys: ${CONFIG_KEYS.join(", ")}`;
      throw new CliError(`${where}: unknown key ${JSON.stringify(key)} (${hint})`);
    }
    throw new CliError(`${where}: key "${issue?.path.join(".") ?? "?"}": ${describe(parsed.error)}`);
  }
  const out: ConfigValues = {};
  for (const [k, v] of Object.entries(parsed.data)) {
    if (v === undefined) continue;
    const key = k as ConfigKey;
    const spec: KeySpec = KEYS[key];
    out[key] = spec.kind === "path" && typeof v === "string" ? expandHome(v, home) : (v as ConfigValue);
  }
  return out;
}

/** The file named by TESSERA_CONFIG (which must exist), else ~/.tessera/config.yaml when there is one. */
export function configPath(env: NodeJS.ProcessEnv, home = homedir()): string | undefined {
  const named = env["TESSERA_CONFIG"];
  if (named) {
    if (!existsSync(named)) throw new CliError(`TESSERA_CONFIG names ${named}, which does not exist`);
    return named;
  }
  const fallback = join(home, ".tessera", "config.yaml");
  return existsSync(fallback) ? fallback : undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, home = homedir()): Config {
  const path = configPath(env, home);
  let file: ConfigValues = {};
  if (path !== undefined) {
    let source: string;
    try {
      source = readFileSync(path, "utf8");
    } catch (e) {
      throw new CliError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    file = parseConfigText(source, path, home);
  }
  return { env, file, home, ...(path ? { path } : {}) };
}

/** The winning value of one key below the flags: the environment's (an empty variable counts as unset), else the file's. */
export function configValue(config: Config, key: ConfigKey): ConfigValue | undefined {
  const raw = config.env[envName(key)];
  if (raw !== undefined && raw !== "") return fromEnvText(key, raw, config.home);
  return config.file[key];
}

type FlagValues = { [flag: string]: string | boolean | (string | boolean)[] | undefined };

/**
 * Fills the flags the user did not give from the environment, then the file, as parseArgs would have
 * given them (numbers as their text), so a command's own flag checks apply to every source alike.
 */
export function withConfig<T extends FlagValues>(flags: T, keys: readonly ConfigKey[], config: Config = loadConfig()): T {
  const out: FlagValues = { ...flags };
  for (const key of keys) {
    if (out[key] !== undefined) continue;
    const v = configValue(config, key);
    if (v === undefined) continue;
    out[key] = typeof v === "number" ? String(v) : typeof v === "object" ? [...v] : v;
  }
  return out as T;
}

export interface ApiTarget {
  /** Base URL of a node's API, e.g. http://127.0.0.1:52415. */
  readonly url: string;
  /** Authorization when an API key is set. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Where a client command sends its requests: --api, TESSERA_API, the file's `api`, else this machine on
 * the configured (or default) API port; with --api-key, TESSERA_API_KEY or the file's `api-key` as a
 * bearer token.
 */
export function apiTarget(flags: { api?: string; "api-key"?: string }, defaultPort: number, config: Config = loadConfig()): ApiTarget {
  const f = withConfig<{ api?: string; "api-key"?: string; "api-port"?: string }>({ ...flags }, CLIENT_CONFIG_KEYS, config);
  const url = f.api ?? `http://127.0.0.1:${f["api-port"] ?? defaultPort}`;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http");
  } catch {
    throw new CliError(`--api must be an http:// or https:// URL, got ${JSON.stringify(url)}`, 2);
  }
  const key = f["api-key"];
  return { url, headers: key ? { authorization: `Bearer ${key}` } : {} };
}
