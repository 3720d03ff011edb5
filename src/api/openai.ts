// The OpenAI-compatible surface: POST /v1/chat/completions and /v1/completions (streamed as SSE in
// OpenAI's chunk format, or one JSON reply), GET /v1/models and POST /v1/cancel/:id. Any node answers:
// the request runs on a ready instance's head, here or elsewhere, and a model with no instance is placed
// first (model-instance.ts). Stop strings are applied here, on the text as it streams (stop-text.ts).
// Every reply also carries a `tessera` object with the instance id and the generated token ids.
import { randomUUID } from "node:crypto";
import { readdir } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Instance } from "../cluster/index.js";
import { GenerationError, type FinishReason, type GenerateEvent, type GenerateRequest } from "../runtime/head.js";
import { NoInstanceError, type RunnerManager } from "../runtime/runners.js";
import type { TesseraNode } from "../runtime/node.js";
import { TokenizerError } from "../tokenizer/errors.js";
import { errorBody, HttpError, json, readJson, sendError, sse } from "./http.js";
import { ClientGone, ModelInstances, type ModelInstanceOptions } from "./model-instance.js";
import { ChatCompletionBody, chatMessages, CompletionBody, samplerOf, stopsOf } from "./openai-schema.js";
import { StopText } from "./stop-text.js";

type Kind = "chat" | "text";

/** How a generation ended, as the reply reports it. */
type Outcome =
  | { readonly ok: true; readonly finishReason: FinishReason; readonly promptTokens: number; readonly completionTokens: number; readonly cancelled: boolean }
  | { readonly ok: false; readonly status: number; readonly message: string };

/** What a reply does with a generation's progress: stream it, or gather it. */
interface ReplyWriter {
  started(): void;
  text(text: string, tokenIds: readonly number[]): void;
  end(outcome: Outcome, tokenIds: readonly number[]): void;
}

/** A head's refusal of the prompt itself (remote heads report it as text): the client's fault, not ours. */
const PROMPT_PROBLEM = /^(the prompt|invalid chat template|chat template failed)/;

function failureStatus(message: string, cause: unknown, started: boolean): number {
  if (cause instanceof GenerationError || cause instanceof TokenizerError || PROMPT_PROBLEM.test(message)) return 400;
  if (cause instanceof NoInstanceError || !started) return 503;
  return 500;
}

interface Completion {
  readonly id: string;
  readonly kind: Kind;
  readonly model: string;
  readonly instance: Instance;
  readonly request: GenerateRequest;
  readonly stops: readonly string[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
}

export class OpenAiApi {
  readonly instances: ModelInstances;
  /** Completions in progress on this node, by id, for POST /v1/cancel/:id. */
  private readonly running = new Map<string, () => void>();

  constructor(
    private readonly node: TesseraNode,
    private readonly runners: RunnerManager,
    options: ModelInstanceOptions = {},
  ) {
    this.instances = new ModelInstances(node, runners, options);
  }

  async chatCompletions(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, ChatCompletionBody);
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? 1 << 20;
    const request: GenerateRequest = { prompt: { kind: "chat", messages: chatMessages(body) }, maxTokens, sampler: samplerOf(body) };
    await this.complete(res, "chat", body.model, request, stopsOf(body), body.stream === true, body.stream_options?.include_usage === true);
  }

  async completions(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, CompletionBody);
    const text = typeof body.prompt === "string" ? body.prompt : body.prompt[0];
    // OpenAI's default for the legacy completions endpoint is 16 tokens.
    const request: GenerateRequest = { prompt: { kind: "text", text }, maxTokens: body.max_tokens ?? 16, sampler: samplerOf(body) };
    await this.complete(res, "text", body.model, request, stopsOf(body), body.stream === true, body.stream_options?.include_usage === true);
  }

  /** POST /v1/cancel/:id: ends a completion this node is running, as if it had stopped. */
  cancel(id: string): unknown {
    const stop = this.running.get(id);
    if (!stop) throw new HttpError(404, `no completion ${id} is running on this node`, "invalid_request_error", { param: "id", code: "completion_not_found" });
    stop();
    return { id, object: "completion.cancelled", cancelled: true };
  }

  /** GET /v1/models: model files this node can load and models with an instance, marking those running. */
  async models(): Promise<unknown> {
    const state = this.node.state;
    const byId = new Map<string, { id: string; instances: { instance_id: string; model: string; ready: boolean }[] }>();
    const idOf = (model: string) => model.split(/[\\/]/).at(-1)!.replace(/\.gguf$/i, "");
    const entry = (id: string) => byId.get(id) ?? byId.set(id, { id, instances: [] }).get(id)!;
    for (const name of await readdir(this.runners.options.modelsDir).catch(() => [] as string[])) {
      if (/\.gguf$/i.test(name)) entry(idOf(name));
    }
    for (const i of Object.values(state.instances)) {
      entry(idOf(i.model)).instances.push({ instance_id: i.instanceId, model: i.model, ready: "instance" in this.runners.findReady(i.instanceId) });
    }
    const data = [...byId.values()].sort((a, b) => a.id.localeCompare(b.id)).map((m) => ({
      id: m.id,
      object: "model",
      created: 0,
      owned_by: "tessera",
      tessera: { running: m.instances.some((i) => i.ready), instances: m.instances },
    }));
    return { object: "list", data };
  }

  private async complete(res: ServerResponse, kind: Kind, model: string, request: GenerateRequest, stops: readonly string[], stream: boolean, includeUsage: boolean): Promise<void> {
    const clientGone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) clientGone.abort();
    });
    let instance: Instance;
    try {
      instance = await this.instances.instanceFor(model, clientGone.signal);
    } catch (e) {
      if (e instanceof ClientGone) return;
      throw e;
    }
    const c: Completion = { id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID()}`, kind, model, instance, request, stops, stream, includeUsage };
    const writer = stream ? streamWriter(res, c) : jsonWriter(res, c);
    await this.run(c, writer, clientGone.signal);
  }

  /** Runs the generation through the stop filter into the writer; resolves once the reply is written. */
  private run(c: Completion, writer: ReplyWriter, clientGone: AbortSignal): Promise<void> {
    const generation = new AbortController();
    const filter = new StopText(c.stops);
    const tokenIds: number[] = [];
    let unsent: number[] = [];
    let promptTokens = 0;
    let started = false;
    let ended = false;
    return new Promise<void>((resolve) => {
      const release = (text: string, ids: readonly number[]) => {
        unsent.push(...ids);
        if (text.length === 0) return;
        writer.text(text, unsent);
        unsent = [];
      };
      const end = (outcome: Outcome) => {
        if (ended) return;
        ended = true;
        this.running.delete(c.id);
        // Stops every stage: a stop string or a cancel ends the sequence early, and aborting frees it.
        generation.abort();
        if (!clientGone.aborted) writer.end(outcome, unsent);
        resolve();
      };
      // The request ends here, with the tokens it has: a stop string, POST /v1/cancel, or a closed connection.
      const stopNow = (cancelled: boolean) => end({ ok: true, finishReason: "stop", promptTokens, completionTokens: tokenIds.length, cancelled });
      this.running.set(c.id, () => {
        if (!ended) release(filter.flush(), []);
        stopNow(true);
      });
      clientGone.addEventListener("abort", () => stopNow(true), { once: true });

      const sink = (e: GenerateEvent) => {
        if (ended) return;
        switch (e.kind) {
          case "start":
            started = true;
            promptTokens = e.promptTokens;
            return writer.started();
          case "token":
            tokenIds.push(e.token);
            release(filter.push(e.text), [e.token]);
            if (filter.stopped) stopNow(false);
            return;
          case "text":
            release(filter.push(e.text), []);
            if (filter.stopped) stopNow(false);
            return;
          case "done":
            release(filter.flush(), []);
            return end({ ok: true, finishReason: e.finishReason, promptTokens: e.promptTokens, completionTokens: e.completionTokens, cancelled: false });
          case "error":
            return end({ ok: false, status: failureStatus(e.message, undefined, started), message: e.message });
        }
      };
      this.runners.generate(c.instance, c.request, sink, generation.signal).catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        end({ ok: false, status: failureStatus(message, err, started), message });
      });
    });
  }
}

const usageOf = (o: Extract<Outcome, { ok: true }>) => ({ prompt_tokens: o.promptTokens, completion_tokens: o.completionTokens, total_tokens: o.promptTokens + o.completionTokens });

const tesseraOf = (c: Completion, tokenIds: readonly number[], cancelled = false) => ({
  instance_id: c.instance.instanceId,
  token_ids: tokenIds,
  ...(cancelled ? { cancelled } : {}),
});

/** One JSON reply once the generation ends. */
function jsonWriter(res: ServerResponse, c: Completion): ReplyWriter {
  let text = "";
  const ids: number[] = [];
  return {
    started: () => {},
    text: (t, tokenIds) => {
      text += t;
      ids.push(...tokenIds);
    },
    end: (o, tokenIds) => {
      ids.push(...tokenIds);
      if (!o.ok) return sendError(res, new HttpError(o.status, o.message));
      const created = Math.floor(Date.now() / 1000);
      const choice = c.kind === "chat"
        ? { index: 0, message: { role: "assistant", content: text, refusal: null }, logprobs: null, finish_reason: o.finishReason }
        : { index: 0, text, logprobs: null, finish_reason: o.finishReason };
      json(res, 200, {
        id: c.id, object: c.kind === "chat" ? "chat.completion" : "text_completion", created, model: c.model,
        choices: [choice], usage: usageOf(o), tessera: tesseraOf(c, ids, o.cancelled),
      });
    },
  };
}

/**
 * Server-sent events in OpenAI's chunk format: (chat) a first chunk with the role, one chunk per piece
 * of text, a last chunk with the finish reason, then with stream_options.include_usage one chunk with
 * no choices and the usage, and `data: [DONE]`. Errors before the first token keep their HTTP status.
 */
function streamWriter(res: ServerResponse, c: Completion): ReplyWriter {
  const created = Math.floor(Date.now() / 1000);
  const object = c.kind === "chat" ? "chat.completion.chunk" : "text_completion";
  const chunk = (choices: unknown[], tokenIds: readonly number[], extra: { usage?: unknown; cancelled?: boolean } = {}) => ({
    id: c.id, object, created, model: c.model, choices,
    ...(extra.usage ? { usage: extra.usage } : {}),
    tessera: tesseraOf(c, tokenIds, extra.cancelled === true),
  });
  const piece = (text: string, finish: FinishReason | null) =>
    c.kind === "chat"
      ? { index: 0, delta: finish === null ? { content: text } : {}, logprobs: null, finish_reason: finish }
      : { index: 0, text, logprobs: null, finish_reason: finish };
  const open = () => {
    if (res.headersSent) return;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    if (c.kind === "chat") sse(res, chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }], []));
  };
  return {
    started: open,
    text: (t, tokenIds) => sse(res, chunk([piece(t, null)], tokenIds)),
    end: (o, tokenIds) => {
      if (!o.ok) {
        if (!res.headersSent) return sendError(res, new HttpError(o.status, o.message));
        sse(res, errorBody(o.message, o.status >= 500 ? "server_error" : "invalid_request_error"));
        return void res.end();
      }
      open();
      sse(res, chunk([piece("", o.finishReason)], tokenIds, { cancelled: o.cancelled }));
      if (c.includeUsage) sse(res, chunk([], [], { usage: usageOf(o) }));
      sse(res, "[DONE]");
      res.end();
    },
  };
}
