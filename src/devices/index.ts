// Public surface of device profiling: what a device is (profile) and what it can do (benchmark).
export type { CpuBackendBenchmark, CpuFeatures, CpuProfile, DeviceIdentity, DeviceProfile, GpuProfile, GpuVendor, MemoryProfile, PowerProfile, PowerSource } from "./types.js";
export { collectProfile, LIVE_SOURCES, type ProfileSources } from "./profile.js";
export { BENCHMARK_VERSION, DEFAULT_WORKING_SET_BYTES, cpuBackendVersion, estimateTokensPerSecond, measureCpuBackend, type BenchmarkOptions } from "./benchmark.js";
export { benchmarkCacheKey, cachedCpuBenchmark, defaultDataDir, PROFILE_CACHE_FILE, type CachedBenchmark, type CachedBenchmarkOptions } from "./profile-cache.js";
export { toPlacementProfile, type PlacementOptions } from "./placement.js";
export { NVIDIA_QUERY_FIELDS, NVIDIA_SMI_ARGS, parseNvidiaSmiCsv } from "./nvidia-smi.js";
export { parseRocmSmiJson, ROCM_SMI_ARGS } from "./rocm-smi.js";
export { parsePmsetBatt, parsePmsetLowPowerMode, parsePmsetTherm, parseSystemProfilerDisplays } from "./macos.js";
export { cpuFeaturesFromFlags, parseCpuInfo, parseMemInfo } from "./linux-proc.js";
export { cpuFreqFromSysfs, lowPowerFromSysfs, parseGrepDump, parseTailDump, parseUevent, powerFromSysfs, readSysfs, thermalFromSysfs, type SysfsSnapshot } from "./linux-sysfs.js";
export { runTool, type ToolResult, type ToolRunner } from "./run-tool.js";
