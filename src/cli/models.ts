// `tessera models`: what this node holds (ls), fetching from the Hub (pull), and deleting (rm).
import { parseArgs, type ParseArgsConfig } from "node:util";
import {
  DownloadInterruptedError,
  formatBytes,
  pullModel,
  removeModel,
  resolveModelDir,
  scanDownloads,
  scanModels,
  type ModelIndexEntry,
} from "../models/index.js";
import { ProgressReporter } from "../models/progress-view.js";
import { CliError, isNonNegativeInt, numberFlag } from "./args.js";

export const MODELS_USAGE = `tessera models [ls] [--json] [--models-dir DIR]
                 pull <owner/repo[:file.gguf]> [--revision REV] [--retries 4] [--json] [--models-dir DIR]
                 rm <name> [--json] [--models-dir DIR]`;

function parse<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e), 2);
  }
}

function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new CliError(`expected one ${what}, got ${positionals.length ? positionals.join(" ") : "none"}`, 2);
  return positionals[0]!;
}

export function modelsTable(entries: readonly ModelIndexEntry[]): string {
  const rows = [["NAME", "SIZE", "ARCH", "TYPE", "LAYERS"], ...entries.map((e) => [e.name, formatBytes(e.size), e.architecture ?? "?", e.tensorTypes[0] ?? "?", e.layers === null ? "?" : String(e.layers)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n");
}

async function ls(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: "boolean" }, "models-dir": { type: "string" } });
  if (positionals.length) throw new CliError(`ls takes no names, got ${positionals.join(" ")}`, 2);
  const dir = resolveModelDir({ flag: values["models-dir"] });
  const entries = await scanModels(dir, { onSkip: (path, reason) => process.stderr.write(`tessera models: skipped ${path}: ${reason}\n`) });
  const downloads = await scanDownloads(dir);
  if (values.json) {
    process.stdout.write(JSON.stringify({ models_dir: dir, models: entries, downloads }) + "\n");
    return 0;
  }
  if (entries.length === 0) process.stdout.write(`no models in ${dir} (tessera models pull owner/repo)\n`);
  else process.stdout.write(modelsTable(entries) + "\n");
  for (const d of downloads) {
    const pct = d.totalBytes > 0 ? Math.floor((100 * d.receivedBytes) / d.totalBytes) : 100;
    process.stdout.write(`unfinished: ${d.name} ${pct}% of ${formatBytes(d.totalBytes)} (tessera models pull ${d.name} resumes it)\n`);
  }
  return 0;
}

async function pull(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    json: { type: "boolean" },
    "models-dir": { type: "string" },
    revision: { type: "string" },
    retries: { type: "string" },
  });
  const ref = onePositional(positionals, "model name (owner/repo[:file.gguf])");
  const dir = resolveModelDir({ flag: values["models-dir"] });
  const retries = numberFlag(values.retries, "retries", 4, isNonNegativeInt);
  const reporter = new ProgressReporter({ write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY === true, columns: process.stderr.columns });
  // Ctrl-C stops the transfer cleanly: what arrived is flushed to the part, and the next pull resumes.
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  let started = false;
  try {
    const result = await pullModel(ref, {
      modelsDir: dir,
      revision: values.revision,
      retries,
      signal: abort.signal,
      onStart: (s) => process.stderr.write(`pulling ${s.repo}:${s.file} (${formatBytes(s.size)}) into ${s.dest}\n`),
      onProgress: (p) => {
        if (!started && p.resumedFrom > 0) process.stderr.write(`resuming from byte ${p.resumedFrom}\n`);
        started = true;
        reporter.update(p);
      },
    });
    if (started) reporter.finish();
    const e = result.entry;
    if (values.json) {
      process.stdout.write(JSON.stringify({ ...e, already_present: result.alreadyPresent, bytes_fetched: result.bytesFetched, resumed_from: result.resumedFrom }) + "\n");
    } else {
      const what = `${e.name} (${formatBytes(e.size)}, ${e.architecture ?? "unknown architecture"}, ${e.tensorTypes[0] ?? "?"}, ${e.layers ?? "?"} layers)`;
      process.stdout.write(`${result.alreadyPresent ? "already present" : "pulled"}: ${what} at ${e.path}\n`);
    }
    return 0;
  } catch (e) {
    if (started) process.stderr.write(process.stderr.isTTY ? "\n" : "");
    if (abort.signal.aborted && e instanceof DownloadInterruptedError) throw new CliError(`interrupted: ${e.message}`, 130);
    throw e;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

async function rm(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: "boolean" }, "models-dir": { type: "string" } });
  const name = onePositional(positionals, "model name");
  const dir = resolveModelDir({ flag: values["models-dir"] });
  const removed = await removeModel(name, dir);
  if (values.json) process.stdout.write(JSON.stringify(removed) + "\n");
  else process.stdout.write(`removed ${removed.name} (${formatBytes(removed.bytes)})\n`);
  return 0;
}

export async function modelsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub.startsWith("-")) return ls(argv);
  if (sub === "ls" || sub === "list") return ls(rest);
  if (sub === "pull") return pull(rest);
  if (sub === "rm" || sub === "remove") return rm(rest);
  throw new CliError(`unknown models command "${sub}" (ls, pull or rm)`, 2);
}
