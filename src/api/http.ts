// Small HTTP helpers shared by the API's routes: JSON replies, OpenAI-shaped errors, and bounded,
// validated request bodies.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ZodType } from "zod";

/** Largest request body accepted: room for a long chat history, not for abuse. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(readonly status: number, message: string, readonly type = status >= 500 ? "server_error" : "invalid_request_error") {
    super(message);
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function error(res: ServerResponse, status: number, message: string, type = status >= 500 ? "server_error" : "invalid_request_error"): void {
  json(res, status, { error: { message, type, code: null } });
}

/** Reads a JSON body and validates it; throws HttpError 400/413 with a message naming the problem. */
export async function readJson<T>(req: IncomingMessage, schema: ZodType<T>): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "request body is not valid JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const why = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ");
    throw new HttpError(400, `invalid request: ${why}`);
  }
  return parsed.data;
}

/** Writes one server-sent event carrying JSON (or the literal [DONE]). */
export function sse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}
