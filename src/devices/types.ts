// What one device is and what it can do, as Tessera observed it. Plain data, JSON-serialisable.
// `null` always means "unknown": the tool was missing, failed, or said nothing about that field.
// Nothing here is looked up from a table of chip names: identity is reported, capability is measured.
import type { Thermal } from "../placement/types.js";

export type { Thermal };

export interface DeviceIdentity {
  /** node's os.platform(): "linux", "darwin", "win32", ... */
  readonly os: string;
  readonly osRelease: string;
  /** Distribution or product name where the OS reports one ("Debian GNU/Linux 12", "macOS 14.4"). */
  readonly distro: string | null;
  readonly arch: string;
  readonly hostname: string;
  /** The machine's model ("MacBookPro18,3", "ThinkPad X1 Carbon"), where firmware or the OS tells it. */
  readonly machineModel: string | null;
  /** The SoC name on Apple Silicon ("Apple M2 Pro"), from sysctl machdep.cpu.brand_string. */
  readonly chip: string | null;
}

/** Instruction-set extensions the CPU kernels (or a future native backend) care about; null when unknown. */
export interface CpuFeatures {
  readonly avx2: boolean | null;
  readonly avx512f: boolean | null;
  readonly fma: boolean | null;
  readonly f16c: boolean | null;
  readonly neon: boolean | null;
}

export interface CpuProfile {
  readonly model: string | null;
  readonly physicalCores: number | null;
  /** Logical CPUs this process may use (os.availableParallelism()). */
  readonly logicalCores: number;
  readonly features: CpuFeatures;
  /** 1-minute load average ÷ logical cores, clamped to 0..1; null where the OS has no load average (Windows). */
  readonly load: number | null;
}

export interface MemoryProfile {
  readonly totalBytes: number;
  /** Memory a new process could take without swapping (Linux MemAvailable; elsewhere the OS's free figure). */
  readonly availableBytes: number;
}

export type GpuVendor = "nvidia" | "amd" | "apple" | "other";

export interface GpuProfile {
  readonly vendor: GpuVendor;
  readonly index: number;
  readonly name: string | null;
  readonly memoryTotalBytes: number | null;
  readonly memoryFreeBytes: number | null;
  /** Fraction of time the GPU was busy, 0..1. */
  readonly utilisation: number | null;
  readonly temperatureC: number | null;
  readonly powerDrawW: number | null;
  readonly powerLimitW: number | null;
  readonly driverVersion: string | null;
  /** CUDA compute capability ("8.9") or AMD gfx target ("gfx1100"). */
  readonly computeCapability: string | null;
  readonly cores: number | null;
  /** Shares system memory with the CPU (Apple Silicon, APUs): its memory is the system's. */
  readonly unifiedMemory: boolean;
}

export type PowerSource = "battery" | "mains";

export interface PowerProfile {
  readonly source: PowerSource | null;
  readonly batteryPercent: number | null;
  readonly charging: boolean | null;
  readonly lowPowerMode: boolean | null;
  readonly thermal: Thermal | null;
  /** Hottest CPU-ish temperature the OS exposes, °C. */
  readonly temperatureC: number | null;
  /** Fraction of its top speed the CPU is currently allowed, 0..1 (cpufreq caps, macOS CPU_Speed_Limit). */
  readonly cpuSpeedLimit: number | null;
  /** Current CPU clock ÷ its maximum, 0..1 (Linux cpufreq). Low at idle is normal; low under load is throttling. */
  readonly cpuFrequencyFraction: number | null;
}

/** Measured capability of the CPU (wasm) backend on one thread. */
export interface CpuBackendBenchmark {
  readonly backend: "cpu-wasm";
  /** Changes whenever the kernels change (a hash of kernels.wasm plus the benchmark's own version). */
  readonly backendVersion: string;
  /** Matmul threads the rates were measured with: the node's stage thread count. */
  readonly threads: number;
  /** Bytes of the working set each measurement streams (bigger than the last-level cache). */
  readonly workingSetBytes: number;
  /** Size of the largest CPU cache where the OS tells it; when it is not below workingSetBytes the figures are cache, not DRAM, speeds. */
  readonly lastLevelCacheBytes: number | null;
  /** Sequential read bandwidth, GB/s (1e9 bytes per second). */
  readonly memoryReadGBs: number;
  /** Matrix-vector throughput in GB/s of quantised weights read. */
  readonly q8_0GBs: number;
  readonly q4_KGBs: number;
  readonly measuredAt: string;
}

export interface DeviceProfile {
  readonly identity: DeviceIdentity;
  readonly cpu: CpuProfile;
  readonly memory: MemoryProfile;
  readonly gpus: readonly GpuProfile[];
  readonly power: PowerProfile;
  /** Why some fields are unknown ("nvidia-smi: not installed"), for `tessera info` and bug reports. */
  readonly notes: readonly string[];
  readonly collectedAt: string;
}
