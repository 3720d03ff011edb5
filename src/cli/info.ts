// `tessera info`: what this device is (identity, CPU, memory, GPUs, power) and what its CPU backend can
// do (measured once per device and kernel version, then cached in the data directory).
import { resolve } from "node:path";
import { cachedCpuBenchmark, defaultDataDir } from "../devices/profile-cache.js";
import { cpuBackendVersion } from "../devices/benchmark.js";
import { formatProfile } from "../devices/format.js";
import { toPlacementProfile } from "../devices/placement.js";
import { collectProfile } from "../devices/profile.js";
import { parseFlags } from "./args.js";

export const INFO_USAGE = "tessera info [--json] [--refresh] [--data-dir DIR]";

export async function infoCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { json: { type: "boolean" }, refresh: { type: "boolean" }, "data-dir": { type: "string" } });
  const dataDir = resolve(f["data-dir"] ?? defaultDataDir());
  const profile = await collectProfile();
  const cached = await cachedCpuBenchmark({
    dataDir,
    hostname: profile.identity.hostname,
    cpuModel: profile.cpu.model,
    backendVersion: cpuBackendVersion(),
    refresh: f.refresh === true,
  });
  if (f.json) {
    const out = {
      ...profile,
      benchmark: { ...cached.benchmark, fromCache: cached.fromCache, cachePath: cached.cachePath },
      placement: toPlacementProfile(profile, cached.benchmark),
    };
    process.stdout.write(JSON.stringify(out) + "\n");
    return 0;
  }
  process.stdout.write(formatProfile(profile, cached.benchmark, cached.fromCache) + "\n");
  return 0;
}
