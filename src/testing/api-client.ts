// Small HTTP helpers for tests and benchmarks that drive a node's API: create and delete instances,
// wait for them to be ready, and run completions (plain or streamed) collecting text and token ids.
import type { RunningNode, StateView } from "./cluster-procs.js";
import { state, until } from "./cluster-procs.js";

export interface Slice {
  readonly node_id: string;
  readonly start: number;
  readonly end: number;
}

export async function nodeIds(nodes: readonly RunningNode[]): Promise<string[]> {
  return Promise.all(nodes.map(async (n) => (await state(n)).node_id));
}

export async function post(node: RunningNode, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${node.api}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function createInstance(node: RunningNode, model: string, placement: readonly Slice[], instanceId?: string): Promise<string> {
  const r = await post(node, "/instance", { model, placement, instance_id: instanceId });
  if (r.status !== 201) throw new Error(`POST /instance: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body["instance_id"] as string;
}

type Runners = Record<string, { instanceId: string; nodeId: string; status: string; error?: string }>;
export const runnersOf = (s: StateView): Runners => (s as unknown as { runners: Runners }).runners;

/** Waits until every runner of the instances is ready on every node's view of the state. */
export async function untilReady(nodes: readonly RunningNode[], instanceIds: readonly string[], timeoutMs = 60_000): Promise<void> {
  await until(nodes, (states) => states.every((s) => {
    const runners = Object.values(runnersOf(s)).filter((r) => instanceIds.includes(r.instanceId));
    const failed = runners.find((r) => r.status === "failed");
    if (failed) throw new Error(`runner on ${failed.nodeId} failed: ${failed.error}`);
    return instanceIds.every((id) => runners.some((r) => r.instanceId === id)) && runners.every((r) => r.status === "ready");
  }), timeoutMs);
}

export interface Completion {
  readonly status: number;
  readonly text: string;
  readonly tokens: number[];
  readonly finishReason?: string;
  readonly error?: string;
}

/** POST /v1/completions or /v1/chat/completions without streaming. */
export async function complete(node: RunningNode, path: "/v1/completions" | "/v1/chat/completions", body: Record<string, unknown>): Promise<Completion> {
  const r = await post(node, path, { ...body, stream: false });
  if (r.status !== 200) return { status: r.status, text: "", tokens: [], error: (r.body["error"] as { message: string } | undefined)?.message };
  const choice = (r.body["choices"] as { text?: string; message?: { content: string }; finish_reason: string }[])[0];
  return {
    status: r.status,
    text: choice.text ?? choice.message?.content ?? "",
    tokens: (r.body["tessera"] as { token_ids: number[] }).token_ids,
    finishReason: choice.finish_reason,
  };
}

/** The same request streamed: text and token ids gathered from the SSE chunks; onChunk sees each one. */
export async function completeStreaming(
  node: RunningNode,
  path: "/v1/completions" | "/v1/chat/completions",
  body: Record<string, unknown>,
  onChunk: (n: number) => void = () => {},
): Promise<Completion> {
  const res = await fetch(`http://127.0.0.1:${node.api}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  if (res.status !== 200) return { status: res.status, text: "", tokens: [], error: ((await res.json()) as { error?: { message: string } }).error?.message };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let text = "";
  const tokens: number[] = [];
  let finishReason: string | undefined;
  let error: string | undefined;
  let chunks = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const msg = JSON.parse(line.slice(6)) as {
        error?: { message: string };
        choices?: { text?: string; delta?: { content?: string }; finish_reason: string | null }[];
        tessera?: { token_ids: number[] };
      };
      if (msg.error) error = msg.error.message;
      const c = msg.choices?.[0];
      if (c) {
        text += c.text ?? c.delta?.content ?? "";
        if (c.finish_reason) finishReason = c.finish_reason;
      }
      tokens.push(...(msg.tessera?.token_ids ?? []));
      onChunk(++chunks);
    }
  }
  return { status: res.status, text, tokens, finishReason, error };
}
