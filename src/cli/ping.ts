// `tessera ping <node-id>`: round-trip times and throughput from the local node to a peer, measured by
// the node itself over the cluster's connections (POST /peers/:id/ping).
import { z } from "zod";
import { DEFAULT_API_PORT } from "../api/server.js";
import { DEFAULT_PING_BYTES, DEFAULT_PING_COUNT, MAX_PING_BYTES, MAX_PING_COUNT } from "../runtime/peer-tools.js";
import { callApi, failure, findMember } from "./api-call.js";
import { CliError, isPositiveInt, numberFlag, parseCommand } from "./args.js";
import { parseByteSize } from "./byte-size.js";
import { apiTarget } from "./config.js";

export const PING_USAGE = `tessera ping <node-id|name> [--count ${DEFAULT_PING_COUNT}] [--bytes 1MiB] [--api URL] [--api-key KEY] [--json]`;

const PingReply = z.object({
  peer_id: z.string(),
  count: z.number(),
  rtt_ms: z.object({ min: z.number(), avg: z.number(), max: z.number() }),
  bytes: z.number(),
  transfer_ms: z.number(),
  throughput_bps: z.number().nullable(),
});

/** 1234567 → "1.23 MB/s"; decimal units, as links are sold. */
export function formatRate(bps: number): string {
  const units = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];
  let v = bps;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

function bytesFlag(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PING_BYTES;
  const n = parseByteSize(text);
  if (n === undefined || n > MAX_PING_BYTES) throw new CliError(`invalid value for --bytes: ${JSON.stringify(text)} (a size up to 64MiB, e.g. 4MiB)`, 2);
  return n;
}

export async function pingCommand(argv: string[]): Promise<number> {
  const { values: f, positionals } = parseCommand(argv, {
    count: { type: "string" },
    bytes: { type: "string" },
    api: { type: "string" },
    "api-key": { type: "string" },
    json: { type: "boolean" },
  });
  if (positionals.length !== 1) throw new CliError("expected one node id: tessera ping <node-id>", 2);
  const count = numberFlag(f.count, "count", DEFAULT_PING_COUNT, (n) => isPositiveInt(n) && n <= MAX_PING_COUNT);
  const bytes = bytesFlag(f.bytes);
  const target = apiTarget(f, DEFAULT_API_PORT);
  const member = await findMember(target, positionals[0]);
  const reply = await callApi(target, `/peers/${encodeURIComponent(member.id)}/ping`, { body: { count, bytes } });
  if (reply.status !== 200) throw failure(target, reply);
  const r = PingReply.safeParse(reply.body);
  if (!r.success) throw new CliError(`unexpected reply from ${target.url}: ${JSON.stringify(reply.body).slice(0, 200)}`);
  const p = r.data;
  if (f.json) {
    process.stdout.write(JSON.stringify({ ...p, name: member.name }) + "\n");
    return 0;
  }
  const out = process.stdout;
  out.write(`ping ${member.name} (${member.id}): ${p.count} round trips, ${p.bytes} bytes of payload\n`);
  out.write(`rtt min/avg/max = ${p.rtt_ms.min.toFixed(3)}/${p.rtt_ms.avg.toFixed(3)}/${p.rtt_ms.max.toFixed(3)} ms\n`);
  if (p.throughput_bps !== null) out.write(`throughput ${formatRate(p.throughput_bps)} (${p.bytes} bytes in ${p.transfer_ms.toFixed(2)} ms)\n`);
  return 0;
}
