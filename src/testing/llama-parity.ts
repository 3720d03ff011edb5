// Greedy tokens against llama.cpp's on seeded random-weight models. Their logits crowd together, and
// llama.cpp rounds to f16 inside flash attention and sums in orders that depend on the CPU kernel
// variant its build picks (AVX2, AVX-512, VNNI...): on a near-tie the two engines may part, and where
// depends on the machine. So where the tokens differ, llama.cpp's are replayed through our model
// (teacher forcing) and each must be our top-1 or within TOP1_TOLERANCE logits of it. Logits of these
// models spread with a standard deviation of about 6, so that is about 3% of the spread; a wrong
// layer, rope or norm moves logits by whole units and fails it.
import type { LoadedModel } from "../engine/generate.js";
import { argmax } from "../engine/sampler.js";

export const TOP1_TOLERANCE = 0.2;

/** For each of llama.cpp's tokens, how far its logit is below our best one when fed llama.cpp's history. */
export async function top1Gaps(model: LoadedModel, prompt: readonly number[], theirs: readonly number[], contextLength = 256): Promise<number[]> {
  const seq = model.transformer.newSequence(contextLength);
  let logits = await model.transformer.forward(prompt, prompt.length, seq);
  const gaps: number[] = [];
  for (const id of theirs) {
    gaps.push(logits[argmax(logits)] - logits[id]);
    logits = await model.transformer.forward([id], 1, seq);
  }
  return gaps;
}

export interface LlamaAgreement {
  /** Identical token lists. */
  readonly same: boolean;
  /** Where they differ: the largest gap along llama.cpp's path (0 when the same). */
  readonly worst: number;
  readonly gaps: readonly number[];
}

/** Whether our greedy tokens and llama.cpp's agree exactly or, where they part, by near-ties only (see above). */
export async function agreementWithLlamaCpp(model: LoadedModel, prompt: readonly number[], ours: readonly number[], theirs: readonly number[]): Promise<LlamaAgreement> {
  if (ours.length === theirs.length && ours.every((id, i) => id === theirs[i])) return { same: true, worst: 0, gaps: [] };
  const gaps = await top1Gaps(model, prompt, theirs);
  return { same: false, worst: Math.max(...gaps), gaps };
}
