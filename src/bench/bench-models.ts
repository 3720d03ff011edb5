// Random-weight models with real architectures' shapes, for benchmarks: made by our own generator once
// and cached (under bench-out/ by default), since writing a 1 GB model takes a while.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { writeGguf } from "../gguf/writer.js";
import { GgmlType, typeName } from "../gguf/types.js";
import { randomModelSpec } from "../models/random-model.js";
import { buildSyntheticVocab } from "../tokenizer/synth.js";

export const SHAPES = {
  // TinyLlama-1.1B: 22 layers, dim 2048, 32 heads / 4 kv heads, ffn 5632, 32000 vocabulary.
  tinyllama: { dim: 2048, layers: 22, heads: 32, kvHeads: 4, ffn: 5632, vocab: 32000 },
  // SmolLM-135M: 30 layers, dim 576, 9 heads / 3 kv heads, ffn 1536, 49152 vocabulary.
  smollm: { dim: 576, layers: 30, heads: 9, kvHeads: 3, ffn: 1536, vocab: 49152 },
} as const;

/** The cached model of a shape and weight type, written first if missing. */
export async function ensureModel(dir: string, shape: keyof typeof SHAPES, type: GgmlType): Promise<string> {
  const path = join(dir, `${shape}-${typeName(type).toLowerCase()}.gguf`);
  if (existsSync(path)) return path;
  const s = SHAPES[shape];
  const spec = randomModelSpec({
    arch: "llama", type, dim: s.dim, layers: s.layers, heads: s.heads, kvHeads: s.kvHeads, ffn: s.ffn,
    contextLength: 2048, seed: 7, tokenizer: buildSyntheticVocab("spm", { size: s.vocab, seed: 7 }),
  });
  await writeGguf(path, spec);
  return path;
}
