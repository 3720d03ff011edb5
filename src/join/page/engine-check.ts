// A test hook the page exposes: loads layer ranges of a model the node serves, chains them as a
// pipeline would (each stage's hidden states into the next), and returns the greedy tokens and the
// full model's prompt logits, so a test can compare the page's WebGPU with the CPU backend in Node.
import type { SequenceOpen } from "../../shard/protocol.js";
import { GREEDY_SAMPLER } from "../../engine/sampler.js";
import { loadPageStage, openGpu, type PageStage } from "./engine.js";

export const GREEDY_CHECK = GREEDY_SAMPLER;

export interface EngineCheckResult {
  readonly adapter: string;
  readonly tokens: number[];
  /** The last prompt position's logits from one stage holding every layer. */
  readonly logits: number[];
  readonly weightBytes: number;
}

export async function engineCheck(modelUrl: string, key: string, bounds: readonly number[], prompt: readonly number[], maxTokens: number): Promise<EngineCheckResult> {
  const backend = await openGpu();
  try {
    const headers: Record<string, string> = key ? { "x-tessera-cluster-key": key } : {};
    const stages: PageStage[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) stages.push(await loadPageStage(backend, modelUrl, headers, { start: bounds[i], end: bounds[i + 1] }));
    const open: SequenceOpen = { capacity: 256, sampler: { ...GREEDY_CHECK }, history: [...prompt] };
    const tokens: number[] = [];
    let pos = 0;
    let input: number[] = [...prompt];
    while (tokens.length < maxTokens) {
      let carried: readonly number[] | Float32Array = input;
      for (const [i, s] of stages.entries()) {
        const [out] = await s.stage.run([{ seq: "check", pos, nTok: input.length, input: carried, sample: true, open: pos === 0 ? open : undefined }]);
        if (out.kind === "error") throw new Error(`stage ${i}: ${out.message}`);
        if (out.kind === "hidden") carried = out.hidden;
        else if (out.kind === "token") tokens.push(out.token);
      }
      pos += input.length;
      input = [tokens.at(-1)!];
    }
    const whole = await loadPageStage(backend, modelUrl, headers, { start: 0, end: stages.at(-1)!.config.layers });
    const t = whole.stage.transformer;
    const logits = await t.forward([...prompt], prompt.length, t.newSequence(64));
    const a = backend.adapter;
    return { adapter: a.description || `${a.vendor} ${a.architecture} (${a.kind})`, tokens, logits: [...logits], weightBytes: whole.weightBytes };
  } finally {
    await backend.dispose();
  }
}
