// `tessera chat`: a conversation with a model on the cluster through its OpenAI-compatible API. The
// reply streams as it is generated and the whole history goes with each request. On a terminal it is
// interactive (/reset, /exit, Ctrl-C stops a reply); otherwise each line of stdin is one user message and
// the command ends at EOF, so `echo "Hi" | tessera chat` works in scripts.
import { createInterface } from "node:readline";
import { z } from "zod";
import { DEFAULT_API_PORT } from "../api/server.js";
import { callApi, failure } from "./api-call.js";
import { CliError, isNonNegativeInt, isPositiveInt, numberFlag, parseFlags } from "./args.js";
import { apiTarget, type ApiTarget } from "./config.js";

export const CHAT_USAGE = `tessera chat [--model M] [--api URL] [--api-key KEY] [--system TEXT] [--temperature T] [--max-tokens N]
               [--seed S] [--json]   (stdin not a terminal: one message per line, until EOF)`;

interface Message {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

interface Sampling {
  readonly temperature?: number;
  readonly max_tokens?: number;
  readonly seed?: number;
}

const ModelList = z.object({
  data: z.array(z.object({
    id: z.string(),
    // `running` in the full API; `ready` in the minimal one that came before it.
    tessera: z.object({ running: z.boolean().optional(), ready: z.boolean().optional() }).optional(),
  })),
});

/** The model to talk to when none is named: the one running, or the only one there is. */
export async function pickModel(target: ApiTarget): Promise<string> {
  const reply = await callApi(target, "/v1/models");
  if (reply.status !== 200) throw failure(target, reply);
  const parsed = ModelList.safeParse(reply.body);
  if (!parsed.success) throw new CliError(`${target.url}/v1/models is not a model list`);
  const models = parsed.data.data;
  const running = models.filter((m) => m.tessera?.running === true || m.tessera?.ready === true);
  const ids = [...new Set(running.map((m) => m.id))];
  if (ids.length === 1) return ids[0];
  const all = [...new Set(models.map((m) => m.id))];
  if (ids.length === 0 && all.length === 1) return all[0];
  if (all.length === 0) throw new CliError(`the cluster at ${target.url} has no models; place one (tessera place) or pass --model`, 2);
  const listed = all.map((id) => (ids.includes(id) ? `${id} (running)` : id)).join(", ");
  throw new CliError(`${ids.length === 0 ? "no model is running" : `${ids.length} models are running`}; pick one with --model: ${listed}`, 2);
}

const Chunk = z.object({
  choices: z.array(z.object({
    delta: z.object({ content: z.string().nullish() }).nullish(),
    finish_reason: z.string().nullish(),
  })).optional(),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).nullish(),
  error: z.object({ message: z.string() }).optional(),
});

export interface Reply {
  readonly content: string;
  readonly finishReason: string | null;
  readonly usage: { readonly prompt_tokens: number; readonly completion_tokens: number } | null;
}

/** The `data:` payloads of a server-sent event stream, as they arrive. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, ""));
      if (data.length > 0) yield data.join("\n");
    }
  }
}

/** One streamed chat completion; `onText` gets each piece of the reply as it arrives. */
export async function streamReply(target: ApiTarget, model: string, messages: readonly Message[], sampling: Sampling, onText: (text: string) => void, signal?: AbortSignal): Promise<Reply> {
  let res: Response;
  try {
    res = await fetch(new URL("/v1/chat/completions", target.url), {
      method: "POST",
      headers: { ...target.headers, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true }, ...sampling }),
      ...(signal ? { signal } : {}),
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : e instanceof Error ? e.message : String(e);
    throw new CliError(`cannot reach a tessera node at ${target.url}: ${cause}`);
  }
  if (res.status !== 200 || !res.body) {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // left as text
    }
    throw failure(target, { status: res.status, body });
  }
  let content = "";
  let finishReason: string | null = null;
  let usage: Reply["usage"] = null;
  for await (const data of sseData(res.body)) {
    if (data === "[DONE]") break;
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw new CliError(`${target.url} sent a stream chunk that is not JSON: ${data.slice(0, 120)}`);
    }
    const chunk = Chunk.safeParse(json);
    if (!chunk.success) throw new CliError(`${target.url} sent an unexpected stream chunk: ${data.slice(0, 120)}`);
    if (chunk.data.error) throw new CliError(chunk.data.error.message);
    for (const c of chunk.data.choices ?? []) {
      const piece = c.delta?.content ?? "";
      if (piece.length > 0) {
        content += piece;
        onText(piece);
      }
      if (c.finish_reason) finishReason = c.finish_reason;
    }
    if (chunk.data.usage) usage = chunk.data.usage;
  }
  return { content, finishReason, usage };
}

interface ChatSetup {
  readonly target: ApiTarget;
  readonly model: string;
  readonly sampling: Sampling;
  readonly system: string | undefined;
  readonly json: boolean;
}

/** stdin is a pipe or a file: each non-empty line is a user message; a failure ends the command. */
async function chatFromLines(s: ChatSetup): Promise<number> {
  const history: Message[] = s.system ? [{ role: "system", content: s.system }] : [];
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    history.push({ role: "user", content: line });
    const reply = await streamReply(s.target, s.model, history, s.sampling, (t) => {
      if (!s.json) process.stdout.write(t);
    });
    history.push({ role: "assistant", content: reply.content });
    if (s.json) process.stdout.write(JSON.stringify({ model: s.model, content: reply.content, finish_reason: reply.finishReason, usage: reply.usage }) + "\n");
    else process.stdout.write("\n");
  }
  return 0;
}

/** A terminal: a prompt, /reset and /exit, Ctrl-C stops the reply in progress (or leaves at the prompt). */
async function chatInteractive(s: ChatSetup): Promise<number> {
  const history: Message[] = s.system ? [{ role: "system", content: s.system }] : [];
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  let inFlight: AbortController | undefined;
  rl.on("SIGINT", () => {
    if (inFlight) inFlight.abort();
    else rl.close();
  });
  process.stderr.write(`chatting with ${s.model} at ${s.target.url}; /reset clears the history, /exit or Ctrl-D leaves\n`);
  rl.setPrompt("> ");
  rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === "/exit" || text === "/quit") break;
    if (text === "/reset") {
      history.splice(s.system ? 1 : 0);
      process.stderr.write("(history cleared)\n");
    } else if (text !== "") {
      history.push({ role: "user", content: line });
      inFlight = new AbortController();
      const started = performance.now();
      let shown = "";
      try {
        const reply = await streamReply(s.target, s.model, history, s.sampling, (t) => {
          shown += t;
          process.stdout.write(t);
        }, inFlight.signal);
        history.push({ role: "assistant", content: reply.content });
        process.stdout.write("\n");
        if (reply.usage) {
          const seconds = (performance.now() - started) / 1000;
          process.stderr.write(`[${reply.usage.completion_tokens} tokens in ${seconds.toFixed(1)} s, ${(reply.usage.completion_tokens / seconds).toFixed(1)} tok/s]\n`);
        }
      } catch (e) {
        process.stdout.write("\n");
        if (inFlight.signal.aborted) {
          // What was shown stays in the history: the conversation goes on from what the user saw.
          if (shown.length > 0) history.push({ role: "assistant", content: shown });
          else history.pop();
          process.stderr.write("(stopped)\n");
        } else {
          history.pop();
          process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
        }
      } finally {
        inFlight = undefined;
      }
    }
    rl.prompt();
  }
  rl.close();
  return 0;
}

export async function chatCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    model: { type: "string" },
    api: { type: "string" },
    "api-key": { type: "string" },
    system: { type: "string" },
    temperature: { type: "string" },
    "max-tokens": { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
  });
  const sampling: Sampling = {
    ...(f.temperature === undefined ? {} : { temperature: numberFlag(f.temperature, "temperature", 1, (n) => n >= 0 && n <= 2) }),
    ...(f["max-tokens"] === undefined ? {} : { max_tokens: numberFlag(f["max-tokens"], "max-tokens", 0, isPositiveInt) }),
    ...(f.seed === undefined ? {} : { seed: numberFlag(f.seed, "seed", 0, (n) => isNonNegativeInt(n) && n < 2 ** 32) }),
  };
  const target = apiTarget(f, DEFAULT_API_PORT);
  const model = f.model ?? (await pickModel(target));
  const setup: ChatSetup = { target, model, sampling, system: f.system, json: f.json === true };
  return process.stdin.isTTY ? chatInteractive(setup) : chatFromLines(setup);
}
