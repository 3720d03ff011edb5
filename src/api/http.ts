// Small HTTP helpers shared by the API's routes: JSON replies, errors in OpenAI's shape
// ({error: {message, type, param, code}}), bounded and validated request bodies, and SSE lines.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ZodType } from "zod";

/** Largest request body accepted: room for a long chat history, not for abuse. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** What OpenAI's clients read from an error besides the status: which field was wrong, and a stable code. */
export interface ErrorDetail {
  readonly param?: string | null;
  readonly code?: string | null;
}

export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly type = defaultType(status),
    readonly detail: ErrorDetail = {},
  ) {
    super(message);
  }
}

/** OpenAI's own types: every client error (401 and 404 included) is an invalid_request_error. */
function defaultType(status: number): string {
  return status >= 500 ? "server_error" : "invalid_request_error";
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The body OpenAI's API sends with an error status; clients read `error.message` and `error.code`. */
export function errorBody(message: string, type: string, detail: ErrorDetail = {}): { error: { message: string; type: string; param: string | null; code: string | null } } {
  return { error: { message, type, param: detail.param ?? null, code: detail.code ?? null } };
}

export function error(res: ServerResponse, status: number, message: string, type = defaultType(status), detail: ErrorDetail = {}): void {
  json(res, status, errorBody(message, type, detail));
}

/** Answers with an HttpError's status and shape, or 500 for anything else. */
export function sendError(res: ServerResponse, e: unknown): void {
  if (e instanceof HttpError) return error(res, e.status, e.message, e.type, e.detail);
  error(res, 500, e instanceof Error ? e.message : String(e));
}

/** Reads a JSON body and validates it; throws HttpError 400/413 naming the problem (and the field in `param`). */
export async function readJson<T>(req: IncomingMessage, schema: ZodType<T>): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`, "invalid_request_error", { code: "request_too_large" });
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (e) {
    throw new HttpError(400, `request body is not valid JSON: ${(e as Error).message}`, "invalid_request_error", { code: "invalid_json" });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5);
    const why = issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ");
    const param = issues[0]?.path.join(".") || null;
    throw new HttpError(400, `invalid request: ${why}`, "invalid_request_error", { param, code: "invalid_value" });
  }
  return parsed.data;
}

/** Writes one server-sent event carrying JSON (or the literal [DONE]). */
export function sse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}
