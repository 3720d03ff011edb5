// How many threads the CPU backend uses when --threads is not given: one per physical core the
// process may run on. A hyper-thread shares its core's SIMD units and load ports with its sibling,
// so a memory-bound matvec gains nothing from it and loses to the extra hand-offs.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseCpuInfo } from "./linux-proc.js";

/**
 * The thread count for `physicalCores` cores (null when unknown) and `usableCpus` logical CPUs this
 * process may use (its affinity mask or cgroup limit): the cores, but never more than the usable
 * CPUs, and at least 1.
 */
export function threadsFor(physicalCores: number | null, usableCpus: number): number {
  const usable = Math.max(1, Math.floor(usableCpus));
  if (physicalCores === null || !(physicalCores >= 1)) return usable;
  return Math.max(1, Math.min(Math.floor(physicalCores), usable));
}

/** Physical cores of this machine, where the OS tells: /proc/cpuinfo on Linux, sysctl on macOS. */
export function physicalCores(platform: NodeJS.Platform = process.platform): number | null {
  try {
    if (platform === "linux") return parseCpuInfo(readFileSync("/proc/cpuinfo", "utf8")).physicalCores;
    if (platform === "darwin") {
      const n = Number(execFileSync("sysctl", ["-n", "hw.physicalcpu"], { encoding: "utf8", timeout: 2000 }).trim());
      return Number.isInteger(n) && n > 0 ? n : null;
    }
  } catch {
    // An unreadable or odd source is the same as no answer: fall back to the logical count.
  }
  return null;
}

let cached: number | undefined;

/** threadsFor(physicalCores(), availableParallelism()), computed once per process. */
export function defaultThreads(): number {
  cached ??= threadsFor(physicalCores(), availableParallelism());
  return cached;
}
