// What a generic OpenAI client does over plain fetch, for the API's tests: JSON requests with an
// optional bearer key, and server-sent events read incrementally, checking each event's framing.
export interface ClientOptions {
  /** e.g. http://127.0.0.1:52415/v1 */
  readonly baseUrl: string;
  readonly apiKey?: string;
}

export interface JsonReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

function headers(o: ClientOptions, extra: Record<string, string> = {}): Record<string, string> {
  return { "content-type": "application/json", accept: "application/json", ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}), ...extra };
}

export async function getJson(o: ClientOptions, path: string): Promise<JsonReply> {
  const res = await fetch(`${o.baseUrl}${path}`, { headers: headers(o) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** POSTs a body (an object, or raw text to send as is). */
export async function postJson(o: ClientOptions, path: string, body: unknown): Promise<JsonReply> {
  const res = await fetch(`${o.baseUrl}${path}`, { method: "POST", headers: headers(o), body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A streaming request: the response, and its events' data fields (parsed JSON, or "[DONE]"), as they arrive. */
export async function postStream(o: ClientOptions, path: string, body: unknown, signal?: AbortSignal): Promise<{ res: Response; events: AsyncGenerator<unknown> }> {
  const res = await fetch(`${o.baseUrl}${path}`, { method: "POST", headers: headers(o, { accept: "text/event-stream" }), body: JSON.stringify(body), signal });
  return { res, events: sseData(res) };
}

/** Parses `data: …` events; anything else but a comment line is a framing error. */
export async function* sseData(res: Response): AsyncGenerator<unknown> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          if (!line.startsWith("data: ")) throw new Error(`not an SSE data line: ${JSON.stringify(line)}`);
          data.push(line.slice(6));
        }
        if (data.length === 0) continue;
        const text = data.join("\n");
        yield text === "[DONE]" ? "[DONE]" : (JSON.parse(text) as unknown);
      }
    }
    if (buf.trim().length > 0) throw new Error(`the stream ended inside an event: ${JSON.stringify(buf)}`);
  } finally {
    // A consumer that stops early closes the response, as a client that goes away would.
    await reader.cancel().catch(() => undefined);
  }
}

/** Every event of a stream, to the end. */
export async function collect(events: AsyncGenerator<unknown>): Promise<unknown[]> {
  const all: unknown[] = [];
  for await (const e of events) all.push(e);
  return all;
}
