// A shard: a model file plus the layer range [start, end) one node runs. Only the header and the
// tensors of the range are read (by offset); the first stage also loads the embedding, the last the
// final norm and output head. The tokenizer comes from the header, which every stage has anyway.
import type { Backend, Weight } from "../engine/backend.js";
import { CpuBackend } from "../engine/backends/cpu/index.js";
import { configFromMetadata, type ModelConfig } from "../engine/config.js";
import { loadTransformer } from "../engine/load.js";
import type { LayerRange, Transformer } from "../engine/model.js";
import { openGguf } from "../gguf/reader.js";
import { chatTemplateFromGguf } from "../tokenizer/chat.js";
import { tokenizerFromGguf } from "../tokenizer/index.js";
import type { Tokenizer } from "../tokenizer/types.js";

export interface ShardSpec {
  readonly modelPath: string;
  readonly range: LayerRange;
}

export interface LoadedShard {
  readonly spec: ShardSpec;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly transformer: Transformer;
  /** Bytes of weights this shard holds. */
  readonly weightBytes: number;
  close(): Promise<void>;
}

export interface ModelHeader {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  /** The model's Jinja chat template (ChatML when it has none). */
  readonly chatTemplate: string;
}

/** Reads only the header: the config and tokenizer, e.g. to check a placement before creating it. */
export async function readModelHeader(modelPath: string): Promise<ModelHeader> {
  const file = await openGguf(modelPath);
  try {
    const tokenizer = tokenizerFromGguf(file.header.metadata);
    const md = file.header.metadata;
    return { config: configFromMetadata(md, tokenizer.vocabSize), tokenizer, chatTemplate: chatTemplateFromGguf(md) };
  } finally {
    await file.close();
  }
}

/** Loads a shard onto `backend` (a CPU backend by default, released by close()). */
export async function loadShard(spec: ShardSpec, backend?: Backend): Promise<LoadedShard> {
  const target = backend ?? new CpuBackend();
  const file = await openGguf(spec.modelPath);
  try {
    const tokenizer = tokenizerFromGguf(file.header.metadata);
    const config = configFromMetadata(file.header.metadata, tokenizer.vocabSize);
    if (spec.range.end > config.layers) throw new RangeError(`layer range [${spec.range.start}, ${spec.range.end}) is outside the model's ${config.layers} layers`);
    const transformer = await loadTransformer(file, config, target, { range: spec.range });
    const w = transformer.weights;
    const held: (Weight | undefined)[] = [w.embedding, w.outputNorm, w.output === w.embedding ? undefined : w.output];
    for (const layer of w.layers) held.push(...(Object.values(layer) as (Weight | undefined)[]));
    const weightBytes = held.reduce((sum, x) => sum + (x?.bytes ?? 0), 0);
    await file.close();
    return {
      spec, config, tokenizer, transformer, weightBytes,
      close: async () => {
        if (!backend) await target.dispose?.();
      },
    };
  } catch (e) {
    await file.close();
    if (!backend) await target.dispose?.();
    throw e;
  }
}
