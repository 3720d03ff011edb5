// The browser's stand-in for the `webgpu` npm package (Dawn's Node binding). The build aliases that
// package to this module, so the engine's WebGPU backend, which asks `create(options)` for a GPU
// object, gets the page's own `navigator.gpu`. Dawn's options (backend=, adapter=) have no browser
// equivalent and are ignored: the browser picks the adapter, steered by powerPreference.
export function create(options: readonly string[] = []): GPU {
  void options;
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new Error("this browser has no WebGPU (navigator.gpu is missing); try a recent Chrome or Edge");
  return gpu;
}

/** Dawn's flags object has no meaning in a page; present so the alias matches the package's exports. */
export const globals: Record<string, unknown> = {};
