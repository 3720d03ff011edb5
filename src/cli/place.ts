// `tessera place`: what the solver would do with a model on the cluster (GET /instance/previews), and,
// with --create, ask the master to place it (POST /instance without a placement).
import { DEFAULT_API_PORT } from "../api/server.js";
import { CliError, isPositiveInt, numberFlag, parseFlags } from "./args.js";
import { apiTarget } from "./config.js";

export const PLACE_USAGE = "tessera place --model FILE [--api URL] [--api-key KEY] [--context N] [--sequences N] [--min-nodes N] [--max-nodes N] [--exclude ID,ID] [--count 3] [--create] [--json]";

interface Preview {
  placement: { node_id: string; name: string; start: number; end: number }[];
  predicted: { tok_per_sec: number; seconds_per_token: number };
}

interface PreviewsReply {
  context_length: number;
  previews: Preview[];
  devices: { node_id: string; name: string; status: string; detail: string }[];
  failure?: { reason: string; detail: string; shortfall_bytes: number };
  error?: { message: string };
}

async function call(api: string, auth: Readonly<Record<string, string>>, path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const res = await fetch(new URL(path, api), { ...init, headers: { ...init.headers, ...auth } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch (e) {
    throw new CliError(`cannot reach a tessera node at ${api}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export async function placeCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    model: { type: "string" },
    api: { type: "string" },
    "api-key": { type: "string" },
    context: { type: "string" },
    sequences: { type: "string" },
    "min-nodes": { type: "string" },
    "max-nodes": { type: "string" },
    exclude: { type: "string" },
    count: { type: "string" },
    create: { type: "boolean" },
    json: { type: "boolean" },
  });
  if (!f.model) throw new CliError("--model is required", 2);
  const target = apiTarget(f, DEFAULT_API_PORT);
  const api = target.url;
  const q = new URLSearchParams({ model: f.model, count: String(numberFlag(f.count, "count", 3, isPositiveInt)) });
  const opt = (flag: "context" | "sequences" | "min-nodes" | "max-nodes", key: string) => {
    if (f[flag] !== undefined) q.set(key, String(numberFlag(f[flag], flag, 1, isPositiveInt)));
  };
  opt("context", "context");
  opt("sequences", "sequences");
  opt("min-nodes", "min_nodes");
  opt("max-nodes", "max_nodes");
  if (f.exclude) q.set("exclude", f.exclude);
  const { status, body } = await call(api, target.headers, `/instance/previews?${q}`);
  const reply = body as unknown as PreviewsReply;
  if (status !== 200) throw new CliError(reply.error?.message ?? `${api} answered ${status}`);

  let created: Record<string, unknown> | undefined;
  if (f.create && reply.previews.length > 0) {
    const constraints = {
      ...(f["min-nodes"] ? { min_nodes: Number(f["min-nodes"]) } : {}),
      ...(f["max-nodes"] ? { max_nodes: Number(f["max-nodes"]) } : {}),
      ...(f.exclude ? { excluded: f.exclude.split(",") } : {}),
    };
    const r = await call(api, target.headers, "/instance", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: f.model, context_length: reply.context_length, ...(f.sequences ? { sequences: Number(f.sequences) } : {}), constraints }),
    });
    if (r.status !== 201) throw new CliError((r.body["error"] as { message?: string } | undefined)?.message ?? `${api} answered ${r.status}`);
    created = r.body;
  }
  if (f.json) {
    process.stdout.write(JSON.stringify(created ? { ...reply, created } : reply) + "\n");
    return reply.failure ? 1 : 0;
  }
  const out = process.stdout;
  if (reply.failure) out.write(`does not fit: ${reply.failure.detail} (short by ${(reply.failure.shortfall_bytes / 1e9).toFixed(2)} GB)\n`);
  reply.previews.forEach((p, i) => {
    const stages = p.placement.map((s) => `${s.name} [${s.start}, ${s.end})`).join(" → ");
    out.write(`${i === 0 ? "best" : "alt "}  ${p.predicted.tok_per_sec.toFixed(2)} tok/s predicted  ${stages}\n`);
  });
  for (const d of reply.devices) out.write(`  ${d.name}: ${d.status} — ${d.detail}\n`);
  if (created) out.write(`created instance ${String(created["instance_id"])}\n`);
  return reply.failure ? 1 : 0;
}
