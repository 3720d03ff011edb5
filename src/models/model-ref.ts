// Model names: `owner/repo[:path/in/repo.gguf]` as on the Hub, or a local path. A pulled file lives at
// <models dir>/<owner>/<repo>/<path in repo>, so a Hub name maps to one place on disk and back.
import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { ModelNotFoundError, ModelRefError } from "./errors.js";
import { pickGgufFile } from "./pick-file.js";
import { listGgufFiles } from "./walk.js";

export type ModelRef =
  /** A Hub repository, with the file in it when one was named. */
  | { readonly kind: "hub"; readonly repo: string; readonly file: string | undefined }
  /** A file path: absolute, or relative to the models directory (then to the working directory). */
  | { readonly kind: "path"; readonly path: string };

export interface ResolvedModel {
  /** Absolute path of the GGUF file. */
  readonly path: string;
  /** The name `tessera models ls` shows for it. */
  readonly name: string;
}

// The Hub's own rule for owner and repository names: letters, digits, '.', '_' and '-', at most 96 each.
const NAME_PART = "[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_-])?";
const REPO_RE = new RegExp(`^${NAME_PART}/${NAME_PART}$`);

export function isHubRepo(repo: string): boolean {
  return REPO_RE.test(repo) && !repo.includes("..");
}

/** Checks a path inside a Hub repository: relative, '/'-separated, no '.' or '..' segments. */
export function checkRepoFilePath(file: string): string {
  const segments = file.split("/");
  const bad = file.length === 0 || file.length > 1024 || file.includes("\\") || file.includes("\0") || segments.some((s) => s === "" || s === "." || s === "..");
  if (bad) throw new ModelRefError(`"${file}" is not a file path inside a Hub repository`);
  return file;
}

export function parseModelRef(ref: string): ModelRef {
  const text = ref.trim();
  if (text === "") throw new ModelRefError("a model name is empty");
  if (isAbsolute(text) || /^\.{1,2}([\\/]|$)/.test(text) || text.startsWith("~")) return { kind: "path", path: text };
  const colon = text.indexOf(":");
  if (colon >= 0) {
    const repo = text.slice(0, colon);
    if (!isHubRepo(repo)) throw new ModelRefError(`"${repo}" is not a Hub repository name (expected owner/repo)`);
    const file = checkRepoFilePath(text.slice(colon + 1));
    if (!/\.gguf$/i.test(file)) throw new ModelRefError(`"${file}" is not a .gguf file`);
    return { kind: "hub", repo, file };
  }
  if (isHubRepo(text) && !/\.gguf$/i.test(text)) return { kind: "hub", repo: text, file: undefined };
  return { kind: "path", path: text };
}

/** Where a file pulled from `repo` is stored in `modelsDir`. */
export function hubFilePath(modelsDir: string, repo: string, file: string): string {
  return join(modelsDir, ...repo.split("/"), ...checkRepoFilePath(file).split("/"));
}

/** The name of a file in the models directory: `owner/repo:file` if it was pulled, else its relative path. */
export function modelName(modelsDir: string, path: string, hub?: { readonly repo: string; readonly file: string }): string {
  if (hub) return `${hub.repo}:${hub.file}`;
  const rel = relative(modelsDir, path);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return path;
  return rel.split(sep).join("/");
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Finds the file `ref` names on this node, or throws ModelNotFoundError saying where it looked. */
export async function resolveModelRef(ref: string, modelsDir: string): Promise<ResolvedModel> {
  const parsed = parseModelRef(ref);
  const dir = resolve(modelsDir);
  if (parsed.kind === "hub" && parsed.file !== undefined) {
    const path = hubFilePath(dir, parsed.repo, parsed.file);
    if (await isFile(path)) return { path, name: `${parsed.repo}:${parsed.file}` };
    throw new ModelNotFoundError(`${ref} is not in ${dir} (tessera models pull ${ref})`);
  }
  if (parsed.kind === "hub") {
    const repoDir = join(dir, ...parsed.repo.split("/"));
    const files = await listGgufFiles(repoDir);
    const pick = pickGgufFile(files.map((f) => ({ path: f.rel, size: f.size })));
    if (pick) return { path: join(repoDir, ...pick.path.split("/")), name: `${parsed.repo}:${pick.path}` };
    // A bare "owner/name" may also be a file or folder name given without ".gguf".
    for (const c of [join(dir, parsed.repo), join(dir, `${parsed.repo}.gguf`)]) {
      if (await isFile(c)) return { path: c, name: modelName(dir, c) };
    }
    throw new ModelNotFoundError(`no .gguf file of ${parsed.repo} is in ${dir} (tessera models pull ${parsed.repo})`);
  }
  const given = parsed.path === "~" || parsed.path.startsWith("~/") ? join(homedir(), parsed.path.slice(1)) : parsed.path;
  const candidates = isAbsolute(given) ? [given] : [join(dir, given), join(dir, `${given}.gguf`), resolve(given)];
  for (const c of candidates) {
    if (await isFile(c)) return { path: c, name: modelName(dir, c) };
  }
  throw new ModelNotFoundError(`model ${ref} not found (looked for ${candidates.join(", ")})`);
}
