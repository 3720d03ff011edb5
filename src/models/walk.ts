// Finding the GGUF files under a folder. Hidden entries (sidecars, temp files) and in-progress
// downloads (`*.part`) are not models; symlinked files count, symlinked folders are not followed so a
// link loop cannot make a scan endless.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

export interface FoundFile {
  /** Path relative to the folder searched, '/'-separated. */
  readonly rel: string;
  readonly abs: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** Folders deeper than this are not searched (owner/repo/sub/dirs is 3–4 deep). */
const MAX_DEPTH = 8;

export function isGgufName(name: string): boolean {
  return /\.gguf$/i.test(name) && !name.startsWith(".");
}

/** Every GGUF file under `dir`, sorted by relative path; a missing folder has none. */
export async function listGgufFiles(dir: string): Promise<FoundFile[]> {
  const out: FoundFile[] = [];
  await walk(dir, "", 0, out);
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

async function walk(dir: string, prefix: string, depth: number, out: FoundFile[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return;
    throw e;
  }
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const abs = join(dir, entry.name);
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      if (depth < MAX_DEPTH) await walk(abs, rel, depth + 1, out);
      continue;
    }
    if (!isGgufName(entry.name) || !(entry.isFile() || entry.isSymbolicLink())) continue;
    try {
      const st = await stat(abs);
      if (st.isFile()) out.push({ rel, abs, size: st.size, mtimeMs: st.mtimeMs });
    } catch {
      // A dangling symlink, or a file removed while we looked: not a model.
    }
  }
}
