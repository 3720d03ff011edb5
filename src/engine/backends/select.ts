// Choosing the engine backend for a process: the CPU backend, the WebGPU backend on a given or the
// best-ranked adapter, or "auto": a hardware GPU when one exists, else the CPU. A software WebGPU
// adapter (llvmpipe, SwiftShader) is slower than the CPU backend on the same cores, so auto skips it.
import type { Backend } from "../backend.js";
import { CpuBackend } from "./cpu/index.js";

export type BackendChoice = "cpu" | "webgpu" | "auto";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["cpu", "webgpu", "auto"];

export interface SelectOptions {
  readonly backend: BackendChoice;
  /** Adapter index for WebGPU (see describeAdapters); with "auto" it forces that adapter. */
  readonly gpu?: number;
  /** Matmul threads of the CPU backend. */
  readonly threads: number;
}

export function isBackendChoice(s: string): s is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(s);
}

export async function createBackend(options: SelectOptions): Promise<Backend> {
  const cpu = () => new CpuBackend({ threads: options.threads });
  if (options.backend === "cpu") return cpu();
  // Loaded on demand: Dawn's native module only matters to processes that use a GPU.
  const webgpu = await import("./webgpu/index.js");
  if (options.backend === "webgpu") return webgpu.WebGpuBackend.create({ gpu: options.gpu });
  if (options.gpu !== undefined) return webgpu.WebGpuBackend.create({ gpu: options.gpu });
  const adapters = await webgpu.describeAdapters().catch(() => []);
  const hardware = adapters.find((a) => a.kind !== "cpu");
  return hardware ? webgpu.WebGpuBackend.create({ gpu: hardware.index }) : cpu();
}
