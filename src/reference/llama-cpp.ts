// llama.cpp, through node-llama-cpp (a devDependency), as the reference our engine is checked and
// timed against. Used only by tests and benchmarks. The thread count is always explicit: its default
// oversubscribes small machines and makes it hundreds of times slower.
import type { Llama, LlamaContext, LlamaModel, Token } from "node-llama-cpp";

/** Which of node-llama-cpp's prebuilt builds to load: the CPU one (tests, CPU benchmarks) or a GPU one. */
export type ReferenceGpu = false | "cuda" | "vulkan";

const shared = new Map<ReferenceGpu, Promise<Llama>>();

async function llamaInstance(gpu: ReferenceGpu = false): Promise<Llama> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  let llama = shared.get(gpu);
  if (!llama) shared.set(gpu, (llama = getLlama({ gpu, build: "never", logLevel: LlamaLogLevel.error })));
  return llama;
}

export interface GreedyRun {
  readonly tokens: number[];
  /** Milliseconds from the call to the first sampled token (prefill), and from it to the last. */
  readonly prefillMs: number;
  readonly decodeMs: number;
}

export class LlamaCppReference {
  private constructor(private readonly model: LlamaModel, private readonly context: LlamaContext) {}

  /** With `gpu`, every layer is offloaded to the GPU build's device. */
  static async open(path: string, options: { threads: number; contextSize: number; gpu?: ReferenceGpu }): Promise<LlamaCppReference> {
    const llama = await llamaInstance(options.gpu ?? false);
    const model = await llama.loadModel({ modelPath: path, ...(options.gpu ? { gpuLayers: "max" as const } : {}) });
    try {
      const context = await model.createContext({ threads: options.threads, contextSize: options.contextSize, batchSize: 512 });
      return new LlamaCppReference(model, context);
    } catch (e) {
      await model.dispose();
      throw e;
    }
  }

  get bos(): number | undefined {
    return this.model.tokens.bos ?? undefined;
  }

  /** llama.cpp's tokenisation, BOS added when `addBos` and the model has one. */
  tokenize(text: string, addBos: boolean): number[] {
    const ids = this.model.tokenize(text).map(Number);
    return addBos && this.bos !== undefined ? [this.bos, ...ids] : ids;
  }

  detokenize(ids: readonly number[]): string {
    return this.model.detokenize(ids as Token[]);
  }

  /** Greedy decoding of `count` tokens after the prompt ids, on a fresh sequence. */
  async greedy(promptIds: readonly number[], count: number): Promise<GreedyRun> {
    const seq = this.context.getSequence();
    try {
      const tokens: number[] = [];
      const t0 = performance.now();
      let tFirst = t0;
      for await (const t of seq.evaluate(promptIds as Token[], { temperature: 0 })) {
        if (tokens.length === 0) tFirst = performance.now();
        tokens.push(Number(t));
        if (tokens.length >= count) break;
      }
      return { tokens, prefillMs: tFirst - t0, decodeMs: performance.now() - tFirst };
    } finally {
      seq.dispose();
    }
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
