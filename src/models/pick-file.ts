// Which GGUF of a repository to take when the user names none. Repositories usually hold one file per
// quantisation; Q4_K_M is the common size/quality balance, Q8_0 the near-lossless fallback, and
// otherwise the smallest file is the one most likely to fit. Split parts and vision projectors are
// never chosen on their own: neither is a runnable model by itself.

export interface FileChoice {
  /** Path inside the repository. */
  readonly path: string;
  readonly size: number;
}

export const PREFERRED_QUANTS = ["Q4_K_M", "Q8_0"] as const;

const SPLIT_PART = /-\d{5}-of-\d{5}\.gguf$/i;

function quantPattern(quant: string): RegExp {
  return new RegExp(`(^|[^A-Za-z0-9])${quant}([^A-Za-z0-9]|$)`, "i");
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Whether `path` could be picked: a single-file GGUF model, not a split part or a projector. */
export function isPickable(path: string): boolean {
  const base = baseName(path);
  return /\.gguf$/i.test(base) && !SPLIT_PART.test(base) && !/^mmproj/i.test(base);
}

function smallest<T extends FileChoice>(files: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const f of files) if (!best || f.size < best.size || (f.size === best.size && f.path < best.path)) best = f;
  return best;
}

/** The preferred file among `files`, or undefined when none is a pickable GGUF. */
export function pickGgufFile<T extends FileChoice>(files: readonly T[]): T | undefined {
  const candidates = files.filter((f) => isPickable(f.path));
  for (const quant of PREFERRED_QUANTS) {
    const re = quantPattern(quant);
    const match = smallest(candidates.filter((f) => re.test(baseName(f.path))));
    if (match) return match;
  }
  return smallest(candidates);
}

/** Why nothing could be picked, for the error message. */
export function explainNoPick(repo: string, files: readonly FileChoice[]): string {
  const ggufs = files.filter((f) => /\.gguf$/i.test(f.path));
  if (ggufs.length === 0) {
    const shown = files.slice(0, 5).map((f) => f.path).join(", ");
    return `${repo} has no .gguf file${files.length ? ` (it holds ${shown}${files.length > 5 ? ", …" : ""})` : " (it is empty)"}; Tessera runs GGUF models only`;
  }
  return `${repo} holds only split or projector GGUF files (${ggufs.slice(0, 3).map((f) => f.path).join(", ")}); name a single-file model as ${repo}:FILE.gguf`;
}
