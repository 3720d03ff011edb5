// `pull`: from a Hub name to a verified file in the models directory and its index entry. A file that is
// already there with the Hub's hash is not downloaded again; an interrupted transfer is retried (and
// resumed) a few times before giving up, and a later pull resumes it too.
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { downloadFile, type DownloadProgress } from "./download.js";
import { DownloadInterruptedError, HubError, ModelRefError } from "./errors.js";
import { authHeaders, DEFAULT_REVISION, hubConfigFromEnv, listRepoFiles, resolveUrl, type HubConfig, type RepoFile } from "./hub-client.js";
import type { ModelIndexEntry } from "./index-entry.js";
import { hubFilePath, parseModelRef } from "./model-ref.js";
import { explainNoPick, pickGgufFile } from "./pick-file.js";
import { cachedSha256, indexModelFile } from "./scan.js";
import { writeSidecar } from "./sidecar.js";

export interface PullOptions {
  readonly modelsDir: string;
  /** Endpoint and token (default: HF_ENDPOINT and HF_TOKEN from the environment). */
  readonly hub?: HubConfig;
  readonly revision?: string;
  /** Called once the file is chosen, before any byte moves. */
  readonly onStart?: (info: { repo: string; file: string; size: number; dest: string }) => void;
  readonly onProgress?: (p: DownloadProgress) => void;
  /** Extra attempts after an interrupted transfer, each resuming where the last stopped (default 4). */
  readonly retries?: number;
  /** Wait before the first retry, doubled for each further one (default 1000 ms). */
  readonly retryDelayMs?: number;
  readonly idleTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface PullResult {
  readonly entry: ModelIndexEntry;
  /** The file was already complete and verified; nothing was downloaded. */
  readonly alreadyPresent: boolean;
  /** Bytes received over the network by this pull, over all attempts. */
  readonly bytesFetched: number;
  /** Length of the part the first attempt continued from. */
  readonly resumedFrom: number;
  readonly attempts: number;
}

/** The file of `repo` to pull: the one named, else the preferred quantisation. */
export function chooseRepoFile(repo: string, files: readonly RepoFile[], named: string | undefined): RepoFile {
  if (named !== undefined) {
    const found = files.find((f) => f.path === named);
    if (found) return found;
    const ggufs = files.filter((f) => /\.gguf$/i.test(f.path)).map((f) => f.path);
    throw new HubError(`${repo} has no file ${named}${ggufs.length ? `; its GGUF files are ${ggufs.slice(0, 8).join(", ")}${ggufs.length > 8 ? ", …" : ""}` : ""}`);
  }
  const pick = pickGgufFile(files);
  if (!pick) throw new HubError(explainNoPick(repo, files));
  return pick;
}

async function alreadyComplete(dest: string, file: RepoFile): Promise<string | undefined> {
  try {
    if ((await stat(dest)).size !== file.size) return undefined;
  } catch {
    return undefined;
  }
  const { sha256 } = await cachedSha256(dest);
  // Without LFS metadata the existing file is trusted by size alone only if the hash below matches.
  return file.sha256 === undefined || sha256 === file.sha256 ? sha256 : undefined;
}

export async function pullModel(ref: string, options: PullOptions): Promise<PullResult> {
  const parsed = parseModelRef(ref);
  if (parsed.kind !== "hub") throw new ModelRefError(`${ref} is a local path; pull takes a Hub name, owner/repo[:file.gguf]`);
  const hub = options.hub ?? hubConfigFromEnv();
  const revision = options.revision ?? DEFAULT_REVISION;
  const modelsDir = resolve(options.modelsDir);
  const files = await listRepoFiles(hub, parsed.repo, revision, options.signal);
  const file = chooseRepoFile(parsed.repo, files, parsed.file);
  const dest = hubFilePath(modelsDir, parsed.repo, file.path);
  const label = `${parsed.repo}:${file.path}`;
  options.onStart?.({ repo: parsed.repo, file: file.path, size: file.size, dest });
  const origin = { repo: parsed.repo, revision, file: file.path };

  const present = await alreadyComplete(dest, file);
  if (present !== undefined) {
    const st = await stat(dest);
    await writeSidecar(dest, { size: st.size, mtimeMs: st.mtimeMs, sha256: present, hub: origin }).catch(() => undefined);
    return { entry: await indexModelFile(modelsDir, dest), alreadyPresent: true, bytesFetched: 0, resumedFrom: 0, attempts: 0 };
  }

  const retries = options.retries ?? 4;
  let bytesFetched = 0;
  let resumedFrom: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await downloadFile(
        { url: resolveUrl(hub, parsed.repo, revision, file.path), headers: authHeaders(hub), dest, size: file.size, sha256: file.sha256, gitOid: file.sha256 ? undefined : file.gitOid, label, hub },
        { onProgress: options.onProgress, signal: options.signal, idleTimeoutMs: options.idleTimeoutMs },
      );
      bytesFetched += result.bytesFetched;
      resumedFrom ??= result.resumedFrom;
      const st = await stat(dest);
      await writeSidecar(dest, { size: st.size, mtimeMs: st.mtimeMs, sha256: result.sha256, hub: origin });
      const entry = await indexModelFile(modelsDir, dest).catch((e: unknown) => {
        throw new Error(`${label} was downloaded and verified, but Tessera cannot read it as GGUF: ${e instanceof Error ? e.message : String(e)}`);
      });
      return { entry, alreadyPresent: false, bytesFetched, resumedFrom, attempts: attempt };
    } catch (e) {
      if (!(e instanceof DownloadInterruptedError) || attempt > retries || options.signal?.aborted) throw e;
      await sleep((options.retryDelayMs ?? 1000) * 2 ** (attempt - 1), undefined, { signal: options.signal });
    }
  }
}
