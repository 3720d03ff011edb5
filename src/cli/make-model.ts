// `tessera make-model`: writes a seeded random-weight model of a given architecture, shape and type.
import { stat } from "node:fs/promises";
import type { GgufMetaValue } from "../gguf/format.js";
import { openGguf } from "../gguf/reader.js";
import { writeGguf } from "../gguf/writer.js";
import { GgmlType } from "../gguf/types.js";
import { isArchitecture, SUPPORTED_ARCHITECTURES } from "../engine/config.js";
import { randomModelSpecParallel } from "../models/random-model-parallel.js";
import { buildSyntheticVocab } from "../tokenizer/synth.js";
import { CliError, isNonNegativeInt, isPositiveInt, numberFlag, parseFlags, requireFile } from "./args.js";

export const MAKE_MODEL_USAGE = `tessera make-model --arch llama|mistral|qwen2|qwen3 --type f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q4_k|q5_k|q6_k --out FILE
                   [--dim N --layers N --heads N --kv-heads N --ffn N --head-dim N --ctx N]
                   [--vocab-from FILE | --vocab spm|gpt2 --vocab-size N --pre NAME] [--tied] [--rope-freqs] [--rope-scale F] [--seed S] [--json]`;

export const TYPE_FLAGS: ReadonlyMap<string, GgmlType> = new Map([
  ["f32", GgmlType.F32], ["f16", GgmlType.F16], ["bf16", GgmlType.BF16], ["q8_0", GgmlType.Q8_0],
  ["q4_0", GgmlType.Q4_0], ["q4_1", GgmlType.Q4_1], ["q5_0", GgmlType.Q5_0], ["q5_1", GgmlType.Q5_1],
  ["q4_k", GgmlType.Q4_K], ["q5_k", GgmlType.Q5_K], ["q6_k", GgmlType.Q6_K],
]);

async function tokenizerFrom(path: string): Promise<Map<string, GgufMetaValue>> {
  const file = await openGguf(path);
  try {
    return new Map([...file.header.metadata].filter(([k]) => k.startsWith("tokenizer.")));
  } finally {
    await file.close();
  }
}

export async function makeModelCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    arch: { type: "string" },
    type: { type: "string" },
    out: { type: "string" },
    dim: { type: "string" },
    layers: { type: "string" },
    heads: { type: "string" },
    "kv-heads": { type: "string" },
    ffn: { type: "string" },
    "head-dim": { type: "string" },
    ctx: { type: "string" },
    "vocab-from": { type: "string" },
    vocab: { type: "string" },
    "vocab-size": { type: "string" },
    pre: { type: "string" },
    tied: { type: "boolean" },
    "rope-freqs": { type: "boolean" },
    "rope-scale": { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
  });
  const arch = f.arch ?? "llama";
  if (!isArchitecture(arch)) {
    throw new CliError(`unknown --arch ${arch} (expected ${SUPPORTED_ARCHITECTURES.join(", ")})`, 2);
  }
  const type = TYPE_FLAGS.get((f.type ?? "f32").toLowerCase());
  if (type === undefined) throw new CliError(`unknown --type ${f.type} (expected ${[...TYPE_FLAGS.keys()].join(", ")})`, 2);
  if (!f.out) throw new CliError("--out is required", 2);

  const dim = numberFlag(f.dim, "dim", 256, isPositiveInt);
  const heads = numberFlag(f.heads, "heads", 8, isPositiveInt);
  const seed = numberFlag(f.seed, "seed", 1, isNonNegativeInt);
  const vocabKind = f.vocab ?? (arch === "qwen2" || arch === "qwen3" ? "gpt2" : "spm");
  if (vocabKind !== "spm" && vocabKind !== "gpt2") throw new CliError(`unknown --vocab ${vocabKind} (expected spm or gpt2)`, 2);
  const tokenizer = f["vocab-from"]
    ? await tokenizerFrom(requireFile(f["vocab-from"], "vocab-from"))
    : buildSyntheticVocab(vocabKind, { size: numberFlag(f["vocab-size"], "vocab-size", 1024, isPositiveInt), seed, pre: f.pre });

  let spec;
  try {
    spec = await randomModelSpecParallel({
      arch,
      type,
      dim,
      layers: numberFlag(f.layers, "layers", 2, isPositiveInt),
      heads,
      kvHeads: numberFlag(f["kv-heads"], "kv-heads", heads, isPositiveInt),
      ffn: numberFlag(f.ffn, "ffn", dim * 3, isPositiveInt),
      headDim: f["head-dim"] === undefined ? undefined : numberFlag(f["head-dim"], "head-dim", 0, isPositiveInt),
      contextLength: numberFlag(f.ctx, "ctx", 2048, isPositiveInt),
      seed,
      tokenizer,
      tiedEmbeddings: f.tied === true,
      ropeFreqs: f["rope-freqs"] === true,
      ropeScaleLinear: f["rope-scale"] === undefined ? undefined : numberFlag(f["rope-scale"], "rope-scale", 1, (n) => n > 0),
    });
  } catch (e) {
    if (e instanceof RangeError) throw new CliError(e.message, 2);
    throw e;
  }
  await writeGguf(f.out, spec);
  if (f.json) {
    const { size } = await stat(f.out);
    process.stdout.write(JSON.stringify({ path: f.out, arch, type: (f.type ?? "f32").toLowerCase(), seed, tensors: spec.tensors.length, bytes: size }) + "\n");
    return 0;
  }
  process.stderr.write(`wrote ${f.out}\n`);
  return 0;
}
