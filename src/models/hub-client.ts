// The Hugging Face Hub's HTTP API, as far as pulling a file needs it: the file tree of a revision
// (`GET /api/models/{repo}/tree/{revision}`, with each LFS file's sha256 and size) and the download
// route (`GET /{repo}/resolve/{revision}/{path}`, which redirects LFS files to a CDN). HF_ENDPOINT
// points this at a mirror or a local test server; HF_TOKEN is sent as a bearer token.
import { z } from "zod";
import { HubError } from "./errors.js";
import { isHubRepo, checkRepoFilePath } from "./model-ref.js";
import { SHA256_HEX } from "./sidecar.js";

export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";
export const DEFAULT_REVISION = "main";

export interface HubConfig {
  /** Base URL without a trailing slash. */
  readonly endpoint: string;
  readonly token: string | undefined;
}

export function hubConfigFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): HubConfig {
  const raw = env.HF_ENDPOINT?.trim() || DEFAULT_HF_ENDPOINT;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HubError(`HF_ENDPOINT is not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new HubError(`HF_ENDPOINT must be an http(s) URL, not ${url.protocol}`);
  const token = env.HF_TOKEN?.trim() || undefined;
  return { endpoint: url.href.replace(/\/+$/, ""), token };
}

export function authHeaders(hub: HubConfig): Record<string, string> {
  return hub.token ? { authorization: `Bearer ${hub.token}` } : {};
}

function checkRevision(revision: string): string {
  if (revision === "" || revision.length > 256 || revision.split("/").some((s) => s === "" || s === "." || s === "..") || /[\s\\?#%]/.test(revision)) {
    throw new HubError(`"${revision}" is not a revision (a branch, tag or commit)`);
  }
  return revision;
}

/** The download URL of `file` in `repo` at `revision`. */
export function resolveUrl(hub: HubConfig, repo: string, revision: string, file: string): string {
  if (!isHubRepo(repo)) throw new HubError(`"${repo}" is not a Hub repository name`);
  const path = checkRepoFilePath(file).split("/").map(encodeURIComponent).join("/");
  return `${hub.endpoint}/${repo}/resolve/${encodeURIComponent(checkRevision(revision))}/${path}`;
}

const TreeEntrySchema = z.object({
  type: z.string(),
  /** The git object id (a sha1 of the blob, or of the LFS pointer for LFS files). */
  oid: z.string().max(128),
  size: z.number().int().nonnegative(),
  path: z.string().min(1).max(4096),
  lfs: z
    .object({
      oid: z.string().regex(SHA256_HEX),
      size: z.number().int().nonnegative(),
      pointerSize: z.number().int().nonnegative().optional(),
    })
    .optional(),
});
export const HubTreeSchema = z.array(TreeEntrySchema).max(100_000);

const HubErrorBodySchema = z.object({ error: z.string().max(2000) });

export interface RepoFile {
  /** Path inside the repository. */
  readonly path: string;
  /** Size of the file's content (the LFS object's size for LFS files). */
  readonly size: number;
  /** sha256 of the content, from the LFS metadata; undefined for a file stored in git itself. */
  readonly sha256: string | undefined;
  /** The git blob id: for a non-LFS file, the sha1 of "blob <size>\0" + content. */
  readonly gitOid: string;
}

/** Largest JSON answer read from the Hub; a tree listing of a huge repository is a few MB. */
const MAX_JSON_BYTES = 64 << 20;
const MAX_TREE_PAGES = 1000;

/** Fetches `url`, turning a connection failure into a one-line HubError. */
export async function hubFetch(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    if (e instanceof Error && e.name === "AbortError") throw e;
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause : undefined;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const why = code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
    throw new HubError(`cannot reach ${new URL(url).origin}: ${why}`);
  }
}

async function readBodyText(res: Response, limit: number): Promise<string> {
  if (!res.body) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > limit) throw new HubError(`the Hub's answer from ${res.url} is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** One line describing a failed Hub answer: the status, what it means here, and the Hub's own message. */
export async function hubStatusError(res: Response, what: string, hub: HubConfig): Promise<HubError> {
  let detail = "";
  try {
    const parsed = HubErrorBodySchema.safeParse(JSON.parse(await readBodyText(res, 1 << 16)));
    if (parsed.success) detail = `: ${parsed.data.error.replace(/\s+/g, " ").slice(0, 300)}`;
  } catch {
    // No JSON error body; the status says enough.
  }
  const status = res.status;
  if (status === 401) {
    const hint = hub.token ? "HF_TOKEN was not accepted" : "it needs a token: set HF_TOKEN";
    return new HubError(`${hub.endpoint} refused ${what} (401, ${hint})${detail}`, status);
  }
  if (status === 403) return new HubError(`${hub.endpoint} denied access to ${what} (403; a gated repository needs its terms accepted for this token)${detail}`, status);
  if (status === 404) return new HubError(`${what} was not found on ${hub.endpoint} (404)${detail}`, status);
  return new HubError(`${hub.endpoint} answered ${status} ${res.statusText} for ${what}${detail}`, status);
}

/** The `rel="next"` URL of a Link header (the Hub paginates big trees), if it stays on the endpoint. */
function nextPage(link: string | null, hub: HubConfig): string | undefined {
  if (!link) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link);
  if (!m) return undefined;
  const next = new URL(m[1]!, hub.endpoint);
  // The token goes to the endpoint only, never to a host a response names.
  if (next.origin !== new URL(hub.endpoint).origin) throw new HubError(`the Hub's next-page link leaves ${hub.endpoint}: ${next.origin}`);
  return next.href;
}

/** Every file of `repo` at `revision`, folders included recursively. */
export async function listRepoFiles(hub: HubConfig, repo: string, revision = DEFAULT_REVISION, signal?: AbortSignal): Promise<RepoFile[]> {
  if (!isHubRepo(repo)) throw new HubError(`"${repo}" is not a Hub repository name`);
  let url: string | undefined = `${hub.endpoint}/api/models/${repo}/tree/${encodeURIComponent(checkRevision(revision))}?recursive=true`;
  const files: RepoFile[] = [];
  for (let page = 0; url !== undefined; page++) {
    if (page >= MAX_TREE_PAGES) throw new HubError(`the file list of ${repo} has more than ${MAX_TREE_PAGES} pages`);
    const res = await hubFetch(url, { headers: { accept: "application/json", ...authHeaders(hub) }, signal });
    if (!res.ok) throw await hubStatusError(res, `repository ${repo} at revision ${revision}`, hub);
    let json: unknown;
    try {
      json = JSON.parse(await readBodyText(res, MAX_JSON_BYTES));
    } catch (e) {
      if (e instanceof HubError) throw e;
      throw new HubError(`the file list of ${repo} from ${hub.endpoint} is not JSON`);
    }
    const parsed = HubTreeSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HubError(`the file list of ${repo} from ${hub.endpoint} has an unexpected shape (${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"})`);
    }
    for (const e of parsed.data) {
      if (e.type !== "file") continue;
      files.push({ path: e.path, size: e.lfs?.size ?? e.size, sha256: e.lfs?.oid, gitOid: e.oid });
    }
    url = nextPage(res.headers.get("link"), hub);
  }
  return files;
}
