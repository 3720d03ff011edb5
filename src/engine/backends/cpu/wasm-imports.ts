// What the kernel modules (assembly/) import, shared by the calling thread and the matmul workers.

/** The memory, an abort hook, and the host's exp, which attention's softmax uses (wasm has none). */
export function kernelImports(memory: WebAssembly.Memory): Record<string, Record<string, unknown>> {
  return {
    env: {
      memory,
      abort: () => {
        throw new Error("wasm kernel aborted");
      },
      exp: Math.exp,
    },
  };
}
