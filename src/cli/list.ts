// `tessera list`: the devices in the cluster, as a node's API reports them.
import { DEFAULT_API_PORT } from "../api/server.js";
import type { LooseRecord } from "../cluster/bounded.js";
import { readTelemetry } from "../devices/telemetry.js";
import { CliError, parseFlags } from "./args.js";
import { apiTarget } from "./config.js";

export const LIST_USAGE = "tessera list [--api URL] [--api-key KEY] [--json]";

interface NodeRow {
  readonly id: string;
  readonly name: string;
  readonly addresses: readonly string[];
  readonly status: string;
  readonly lastSeen: number;
  readonly telemetry?: LooseRecord;
}

const GIB = 1024 ** 3;

/** "4.1/16.0 GiB free, CPU 25%, 71°C, battery 41%": what the node's latest sample says; "-" without one. */
export function telemetrySummary(record: LooseRecord | undefined): string {
  const t = readTelemetry(record);
  if (t === null) return "-";
  const parts = [`${(t.memory.availableBytes / GIB).toFixed(1)}/${(t.memory.totalBytes / GIB).toFixed(1)} GiB free`];
  if (t.cpu.utilisation !== null) parts.push(`CPU ${Math.round(t.cpu.utilisation * 100)}%`);
  if (t.thermal.temperatureC !== null) parts.push(`${Math.round(t.thermal.temperatureC)}°C`);
  if (t.thermal.state !== null && t.thermal.state !== "nominal") parts.push(`thermal ${t.thermal.state}`);
  if (t.power.source === "battery") parts.push(`battery ${t.power.batteryPercent ?? "?"}%`);
  return parts.join(", ");
}

export async function listCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { api: { type: "string" }, "api-key": { type: "string" }, json: { type: "boolean" } });
  const target = apiTarget(f, DEFAULT_API_PORT);
  const api = target.url;
  let state: { nodes: Record<string, NodeRow>; master_id: string | null };
  try {
    const res = await fetch(new URL("/state", api), { headers: target.headers });
    if (!res.ok) throw new CliError(`${api} answered ${res.status}`);
    state = (await res.json()) as typeof state;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot reach a tessera node at ${api}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const rows = Object.values(state.nodes).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  if (f.json) {
    process.stdout.write(JSON.stringify({ master_id: state.master_id, nodes: rows }) + "\n");
    return 0;
  }
  for (const n of rows) {
    const role = n.id === state.master_id ? "master" : "";
    const seen = new Date(n.lastSeen).toISOString();
    process.stdout.write(`${n.name}\t${n.id}\t${n.addresses[0] ?? "-"}\t${n.status}\t${role}\tlast seen ${seen}\t${telemetrySummary(n.telemetry)}\n`);
  }
  return 0;
}
