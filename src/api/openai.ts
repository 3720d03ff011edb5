// A minimal OpenAI-compatible surface: POST /v1/chat/completions and /v1/completions, streaming (SSE)
// or not, plus GET /v1/models. Any node answers: the request runs on a ready instance's head, here or
// elsewhere. Sampling follows OpenAI's defaults (temperature 1, top_p 1); top_k, min_p and
// repeat_penalty are accepted as llama.cpp-style extensions. Each response also carries a `tessera`
// object with the instance id and the generated token ids.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { DeepReadonly, Instance } from "../cluster/index.js";
import type { SamplerOptions } from "../engine/sampler.js";
import type { FinishReason, GenerateEvent, GenerateRequest, PromptInput } from "../runtime/head.js";
import type { RunnerManager } from "../runtime/runners.js";
import { error, HttpError, json, readJson, sse } from "./http.js";

const ContentPart = z.object({ type: z.literal("text"), text: z.string() });
const MessageSchema = z.object({
  role: z.enum(["system", "user", "assistant", "developer", "tool"]),
  content: z.union([z.string(), z.array(ContentPart), z.null()]),
});

const Sampling = {
  model: z.string().min(1).max(256),
  max_tokens: z.number().int().min(0).max(1 << 20).nullish(),
  max_completion_tokens: z.number().int().min(0).max(1 << 20).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).max(1 << 20).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repeat_penalty: z.number().min(0).max(100).nullish(),
  seed: z.number().int().min(0).max(0xffffffff).nullish(),
  stream: z.boolean().nullish(),
  n: z.literal(1).nullish(),
};

export const ChatCompletionBody = z.object({ ...Sampling, messages: z.array(MessageSchema).min(1).max(1024) });
export const CompletionBody = z.object({ ...Sampling, prompt: z.string().max(4 * 1024 * 1024) });

type SamplingFields = { [K in keyof typeof Sampling]?: z.infer<(typeof Sampling)[K]> };

function samplerOf(b: SamplingFields): SamplerOptions {
  return {
    temperature: b.temperature ?? 1,
    topK: b.top_k ?? 0,
    topP: b.top_p ?? 1,
    minP: b.min_p ?? 0,
    repeatPenalty: b.repeat_penalty ?? 1,
    repeatLastN: 64,
    seed: b.seed ?? Math.floor(Math.random() * 0xffffffff),
  };
}

function contentText(content: z.infer<typeof MessageSchema>["content"]): string {
  if (content === null) return "";
  return typeof content === "string" ? content : content.map((p) => p.text).join("");
}

type Kind = "chat" | "text";

function pickInstance(runners: RunnerManager, model: string): DeepReadonly<Instance> {
  const found = runners.findReady(model);
  if ("error" in found) throw new HttpError(found.status, found.error, found.status === 404 ? "not_found" : "server_error");
  return found.instance;
}

/** Runs one completion request and answers it, as one JSON reply or as an SSE stream. */
async function complete(res: ServerResponse, runners: RunnerManager, kind: Kind, model: string, request: GenerateRequest, stream: boolean): Promise<void> {
  const instance = pickInstance(runners, model);
  const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const object = kind === "chat" ? (stream ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  const abort = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) abort.abort();
  });

  const chunk = (text: string, tokenIds: number[], finish: FinishReason | null) => ({
    id, object, created, model,
    choices: [kind === "chat"
      ? { index: 0, delta: finish === null ? { content: text } : {}, finish_reason: finish }
      : { index: 0, text, finish_reason: finish }],
    tessera: { instance_id: instance.instanceId, token_ids: tokenIds },
  });

  const tokens: number[] = [];
  let text = "";
  const done = new Promise<Extract<GenerateEvent, { kind: "done" | "error" }>>((resolve) => {
    const sink = (e: GenerateEvent) => {
      switch (e.kind) {
        case "start":
          if (stream) {
            res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
            if (kind === "chat") sse(res, { id, object, created, model, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
          }
          return;
        case "token":
          tokens.push(e.token);
          text += e.text;
          if (stream) sse(res, chunk(e.text, [e.token], null));
          return;
        case "text":
          text += e.text;
          if (stream) sse(res, chunk(e.text, [], null));
          return;
        default:
          return resolve(e);
      }
    };
    runners.generate(instance, request, sink, abort.signal).catch((err: Error) => resolve({ kind: "error", message: err.message }));
  });
  const end = await done;

  if (end.kind === "error") {
    if (res.headersSent) {
      sse(res, { error: { message: end.message, type: "server_error", code: null } });
      res.end();
    } else {
      error(res, 500, end.message);
    }
    return;
  }
  const usage = { prompt_tokens: end.promptTokens, completion_tokens: end.completionTokens, total_tokens: end.promptTokens + end.completionTokens };
  if (stream) {
    sse(res, { ...chunk("", [], end.finishReason), usage });
    sse(res, "[DONE]");
    res.end();
    return;
  }
  const choice = kind === "chat"
    ? { index: 0, message: { role: "assistant", content: text }, finish_reason: end.finishReason }
    : { index: 0, text, finish_reason: end.finishReason };
  json(res, 200, { id, object, created, model, choices: [choice], usage, tessera: { instance_id: instance.instanceId, token_ids: tokens } });
}

export async function chatCompletions(req: IncomingMessage, res: ServerResponse, runners: RunnerManager): Promise<void> {
  const body = await readJson(req, ChatCompletionBody);
  const prompt: PromptInput = { kind: "chat", messages: body.messages.map((m) => ({ role: m.role, content: contentText(m.content) })) };
  const request: GenerateRequest = { prompt, maxTokens: body.max_completion_tokens ?? body.max_tokens ?? 1 << 20, sampler: samplerOf(body) };
  await complete(res, runners, "chat", body.model, request, body.stream === true);
}

export async function completions(req: IncomingMessage, res: ServerResponse, runners: RunnerManager): Promise<void> {
  const body = await readJson(req, CompletionBody);
  const request: GenerateRequest = { prompt: { kind: "text", text: body.prompt }, maxTokens: body.max_tokens ?? 16, sampler: samplerOf(body) };
  await complete(res, runners, "text", body.model, request, body.stream === true);
}

export function listModels(runners: RunnerManager): unknown {
  const state = runners.node.state;
  const data = Object.values(state.instances).map((i) => ({
    id: i.model.split(/[\\/]/).at(-1)!.replace(/\.gguf$/i, ""),
    object: "model",
    created: 0,
    owned_by: "tessera",
    tessera: { instance_id: i.instanceId, model: i.model, ready: !("error" in runners.findReady(i.instanceId)) },
  }));
  return { object: "list", data };
}
