// `tessera send <node-id> <text>`: a message to a peer, which writes it to its log. The local node
// carries it over the cluster's own connections (POST /peers/:id/send), so seeing the line in the
// peer's log proves the two can talk.
import { z } from "zod";
import { DEFAULT_API_PORT } from "../api/server.js";
import { callApi, failure, findMember } from "./api-call.js";
import { CliError, parseCommand } from "./args.js";
import { apiTarget } from "./config.js";

export const SEND_USAGE = "tessera send <node-id|name> <text> [--api URL] [--api-key KEY] [--json]";

const SendReply = z.object({ peer_id: z.string(), rtt_ms: z.number(), logged: z.boolean() });

export async function sendCommand(argv: string[]): Promise<number> {
  const { values: f, positionals } = parseCommand(argv, { api: { type: "string" }, "api-key": { type: "string" }, json: { type: "boolean" } });
  if (positionals.length < 2) throw new CliError("expected a node id and a message: tessera send <node-id> <text>", 2);
  const target = apiTarget(f, DEFAULT_API_PORT);
  const member = await findMember(target, positionals[0]);
  // The words after the node id are the message, so quoting is optional.
  const text = positionals.slice(1).join(" ");
  const reply = await callApi(target, `/peers/${encodeURIComponent(member.id)}/send`, { body: { text } });
  if (reply.status !== 200) throw failure(target, reply);
  const r = SendReply.safeParse(reply.body);
  if (!r.success) throw new CliError(`unexpected reply from ${target.url}: ${JSON.stringify(reply.body).slice(0, 200)}`);
  if (f.json) {
    process.stdout.write(JSON.stringify({ ...r.data, name: member.name }) + "\n");
    return 0;
  }
  const note = r.data.logged ? "" : " (its log is rate-limited: the line was left out)";
  process.stdout.write(`${member.name} (${member.id}) received the message in ${r.data.rtt_ms.toFixed(2)} ms${note}\n`);
  return 0;
}
