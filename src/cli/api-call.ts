// The client commands' side of a node's HTTP API: one JSON request with the configured key, failures
// turned into one clear line, and a peer named on the command line found among the cluster's members.
import { z } from "zod";
import { CliError } from "./args.js";
import type { ApiTarget } from "./config.js";

export interface ApiReply {
  readonly status: number;
  readonly body: unknown;
}

const ErrorBody = z.object({ error: z.object({ message: z.string() }) });

/** The API's own explanation of a failed request, else its status. */
export function failure(target: ApiTarget, reply: ApiReply): CliError {
  if (reply.status === 401) return new CliError(`${target.url} needs an API key: pass --api-key or set TESSERA_API_KEY`);
  const parsed = ErrorBody.safeParse(reply.body);
  return new CliError(parsed.success ? parsed.data.error.message : `${target.url} answered ${reply.status}`);
}

/** Calls the API; a node that cannot be reached is a CliError, an HTTP error status is left to the caller. */
export async function callApi(target: ApiTarget, path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<ApiReply> {
  const headers: Record<string, string> = { ...target.headers };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(new URL(path, target.url), {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      ...(init.signal ? { signal: init.signal } : {}),
    });
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : e instanceof Error ? e.message : String(e);
    throw new CliError(`cannot reach a tessera node at ${target.url}: ${cause}`);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page, say): kept as text for the message.
  }
  return { status: res.status, body };
}

const StateNodes = z.object({ nodes: z.record(z.string(), z.object({ name: z.string(), status: z.string() })) });

export interface Member {
  readonly id: string;
  readonly name: string;
  readonly status: string;
}

/**
 * The member `arg` names: its node id, its name, or the end of its id (as `tessera list` shows them),
 * when exactly one member matches.
 */
export async function findMember(target: ApiTarget, arg: string): Promise<Member> {
  const reply = await callApi(target, "/state");
  if (reply.status !== 200) throw failure(target, reply);
  const parsed = StateNodes.safeParse(reply.body);
  if (!parsed.success) throw new CliError(`${target.url}/state is not a tessera state`);
  const members = Object.entries(parsed.data.nodes).map(([id, n]) => ({ id, name: n.name, status: n.status }));
  const exact = members.find((m) => m.id === arg);
  if (exact) return exact;
  for (const matches of [members.filter((m) => m.name === arg), members.filter((m) => arg.length >= 4 && m.id.endsWith(arg))]) {
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) throw new CliError(`"${arg}" names ${matches.length} members (${matches.map((m) => m.id).join(", ")}); give the node id`);
  }
  const known = members.map((m) => `${m.name} (${m.id})`).join(", ") || "none";
  throw new CliError(`no member "${arg}" in the cluster; members: ${known}`);
}
