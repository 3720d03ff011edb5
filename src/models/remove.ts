// `rm`: deleting a model the store holds, with its sidecar and any unfinished download of it. Only
// files inside the models directory are removed; a name that could mean several files removes none.
import { readdir, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, isAbsolute } from "node:path";
import { ModelNotFoundError, ModelRefError } from "./errors.js";
import { partMetaPath, partPath } from "./download.js";
import { hubFilePath, modelName, parseModelRef, resolveModelRef } from "./model-ref.js";
import { readSidecar, removeSidecar } from "./sidecar.js";
import { listGgufFiles } from "./walk.js";

export interface RemoveResult {
  readonly name: string;
  readonly path: string;
  /** Bytes freed (the model and any part of it). */
  readonly bytes: number;
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Which file `name` means for removal: exactly one, inside the models directory. */
async function target(name: string, dir: string): Promise<string> {
  const parsed = parseModelRef(name);
  if (parsed.kind === "hub" && parsed.file === undefined) {
    const files = await listGgufFiles(join(dir, ...parsed.repo.split("/")));
    if (files.length > 1) throw new ModelRefError(`${name} holds ${files.length} files (${files.map((f) => f.rel).join(", ")}); name one as ${parsed.repo}:FILE`);
  }
  if (parsed.kind === "hub" && parsed.file !== undefined) {
    // A pull that never finished leaves only a part; removing it by name is how to cancel it.
    const dest = hubFilePath(dir, parsed.repo, parsed.file);
    if ((await sizeOf(dest)) === 0 && (await sizeOf(partPath(dest))) > 0) return dest;
  }
  const found = await resolveModelRef(name, dir);
  return found.path;
}

export async function removeModel(name: string, modelsDir: string): Promise<RemoveResult> {
  const dir = resolve(modelsDir);
  const path = await target(name, dir);
  if (!inside(dir, path)) throw new ModelRefError(`${path} is outside the models directory ${dir}; rm only removes models the store holds`);
  const bytes = (await sizeOf(path)) + (await sizeOf(partPath(path)));
  if (bytes === 0 && !(await stat(path).catch(() => undefined))) throw new ModelNotFoundError(`${name} is not in ${dir}`);
  const hub = (await readSidecar(path))?.hub;
  await rm(path, { force: true });
  await rm(partPath(path), { force: true });
  await rm(partMetaPath(path), { force: true });
  await removeSidecar(path);
  await pruneEmptyDirs(dirname(path), dir);
  return { name: modelName(dir, path, hub), path, bytes };
}

/** Removes folders left empty (owner/repo) up to, not including, the models directory. */
async function pruneEmptyDirs(from: string, stop: string): Promise<void> {
  for (let d = from; inside(stop, d); d = dirname(d)) {
    try {
      if ((await readdir(d)).length > 0) return;
      await rmdir(d);
    } catch {
      return;
    }
  }
}
