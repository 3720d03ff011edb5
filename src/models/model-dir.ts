// Where this node keeps its models: --models-dir, else $TESSERA_MODELS_DIR, else <data dir>/models
// (the data dir defaults to ~/.tessera). A leading "~/" is expanded, because a value from a config file or
// an env var set in a service unit never went through a shell.
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export const MODELS_DIR_ENV = "TESSERA_MODELS_DIR";

export interface ModelDirOptions {
  /** The --models-dir flag, when given. */
  readonly flag?: string | undefined;
  /** Environment to read TESSERA_MODELS_DIR from (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The node's data directory; the default models dir is inside it (default ~/.tessera). */
  readonly dataDir?: string | undefined;
  /** Home directory for "~" (default os.homedir()). */
  readonly home?: string;
}

function expandHome(path: string, home: string): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return join(home, path.slice(2));
  return path;
}

/** The absolute models directory these options name. Nothing is created here. */
export function resolveModelDir(options: ModelDirOptions = {}): string {
  const home = options.home ?? homedir();
  const env = options.env ?? process.env;
  const chosen = options.flag || env[MODELS_DIR_ENV] || join(options.dataDir ? expandHome(options.dataDir, home) : join(home, ".tessera"), "models");
  return resolve(expandHome(chosen, home));
}
