// Finding the machine's WebGPU adapters through Dawn (the `webgpu` package) and ranking them: discrete
// GPUs first, then integrated ones, then software (CPU) adapters such as llvmpipe or SwiftShader.
//
// WebGPU itself hands out one adapter per request (steered by powerPreference). Dawn's Node binding
// also takes `backend=` and `adapter=` options, and when no adapter matches it rejects with the list
// of every adapter it found; that list is how all of them are enumerated here.
import { create } from "webgpu";

export type AdapterKind = "discrete" | "integrated" | "cpu";

export interface AdapterReport {
  /** Position in the ranked list; `--gpu N` picks this one. */
  readonly index: number;
  readonly kind: AdapterKind;
  /** Dawn's native API under WebGPU (vulkan, metal, d3d12, ...), when known. */
  readonly api: string;
  /** Dawn's name for the adapter, as its `adapter=` option takes it. */
  readonly name: string;
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly isFallbackAdapter: boolean;
  readonly limits: {
    readonly maxStorageBufferBindingSize: number;
    readonly maxBufferSize: number;
    readonly maxComputeWorkgroupStorageSize: number;
    readonly maxComputeInvocationsPerWorkgroup: number;
    readonly maxComputeWorkgroupsPerDimension: number;
  };
  readonly features: { readonly shaderF16: boolean; readonly subgroups: boolean };
  readonly subgroupSizes?: { readonly min: number; readonly max: number };
}

/** A ranked adapter together with the Dawn options that open it again. */
export interface FoundAdapter {
  readonly report: AdapterReport;
  readonly options: readonly string[];
}

export class NoWebGpuAdapterError extends Error {
  override readonly name = "NoWebGpuAdapterError";
}

interface Listed {
  readonly api: string;
  readonly name: string;
}

/** Native APIs in order of preference when Dawn offers one adapter through several of them. */
const API_RANK = ["vulkan", "metal", "d3d12", "d3d11", "opengl", "opengles"];
const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render|\bwarp\b/i;
/** Vendors whose GPUs are integrated (or share system memory) unless powerPreference says otherwise. */
const INTEGRATED_VENDORS = /^(apple|qualcomm|arm|imagination|img-tec|broadcom)$/i;

/** Parses Dawn's "Available adapters" list: lines ` * backend: 'vulkan', name: 'NVIDIA H100'`. */
export function parseAdapterList(message: string): Listed[] {
  const out: Listed[] = [];
  for (const m of message.matchAll(/backend: '([^']*)', name: '([^']*)'/g)) out.push({ api: m[1], name: m[2] });
  return out;
}

async function listAdapters(): Promise<Listed[]> {
  try {
    // No adapter has this name, so Dawn rejects and names every adapter it does have.
    const adapter = await create(["adapter=\u0001tessera-list-adapters"]).requestAdapter();
    if (adapter) return [];
  } catch (e) {
    return parseAdapterList(e instanceof Error ? e.message : String(e));
  }
  return [];
}

function uniqueByName(listed: readonly Listed[]): Listed[] {
  const best = new Map<string, Listed>();
  const rank = (api: string) => {
    const i = API_RANK.indexOf(api);
    return i < 0 ? API_RANK.length : i;
  };
  for (const l of listed) {
    const seen = best.get(l.name);
    if (!seen || rank(l.api) < rank(seen.api)) best.set(l.name, l);
  }
  return [...best.values()];
}

interface Opened {
  readonly api: string;
  readonly name: string;
  readonly options: string[];
  readonly adapter: GPUAdapter;
}

function isSoftware(a: GPUAdapter, name: string): boolean {
  const info = a.info;
  return info.isFallbackAdapter || info.architecture === "software" || SOFTWARE.test(`${name} ${info.description} ${info.device}`);
}

function report(o: Opened, kind: AdapterKind, index: number): AdapterReport {
  const { info, limits, features } = o.adapter;
  return {
    index,
    kind,
    api: o.api,
    name: o.name,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: info.isFallbackAdapter,
    limits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    },
    features: { shaderF16: features.has("shader-f16"), subgroups: features.has("subgroups") },
    subgroupSizes: info.subgroupMinSize && info.subgroupMaxSize ? { min: info.subgroupMinSize, max: info.subgroupMaxSize } : undefined,
  };
}

/**
 * WebGPU does not say whether an adapter is discrete. Software adapters are recognised by name and
 * the fallback flag; among hardware ones, the adapter Dawn gives for "low-power" while another exists
 * is integrated, and with a single hardware adapter its vendor decides (Apple, Qualcomm, ARM... share
 * system memory; Intel is integrated unless it is an Arc card).
 */
async function classify(opened: readonly Opened[]): Promise<Map<Opened, AdapterKind>> {
  const kinds = new Map<Opened, AdapterKind>();
  const hardware = opened.filter((o) => !isSoftware(o.adapter, o.name));
  for (const o of opened) if (!hardware.includes(o)) kinds.set(o, "cpu");
  let lowPower: string | undefined;
  if (hardware.length > 1) {
    const lp = await create([]).requestAdapter({ powerPreference: "low-power" }).catch(() => null);
    const hp = await create([]).requestAdapter({ powerPreference: "high-performance" }).catch(() => null);
    if (lp && hp && lp.info.description !== hp.info.description) lowPower = lp.info.description;
  }
  for (const o of hardware) {
    const { vendor, description, device } = o.adapter.info;
    const byVendor = INTEGRATED_VENDORS.test(vendor) || (/intel/i.test(vendor) && !/\barc\b/i.test(`${description} ${device} ${o.name}`));
    kinds.set(o, lowPower !== undefined ? (o.adapter.info.description === lowPower ? "integrated" : "discrete") : byVendor ? "integrated" : "discrete");
  }
  return kinds;
}

const KIND_RANK: Record<AdapterKind, number> = { discrete: 0, integrated: 1, cpu: 2 };

/** Every adapter Dawn can open, ranked discrete → integrated → CPU (stable within a kind). */
export async function findAdapters(): Promise<FoundAdapter[]> {
  const opened: Opened[] = [];
  for (const l of uniqueByName(await listAdapters())) {
    const options = [`backend=${l.api}`, `adapter=${l.name}`];
    const adapter = await create(options).requestAdapter().catch(() => null);
    if (adapter) opened.push({ api: l.api, name: l.name, options, adapter });
  }
  if (opened.length === 0) {
    // Dawn's list was empty or unreadable: fall back to what plain WebGPU requests return.
    const adapter = await create([]).requestAdapter({ powerPreference: "high-performance" }).catch(() => null);
    if (adapter) opened.push({ api: "", name: adapter.info.description, options: [], adapter });
  }
  const kinds = await classify(opened);
  return opened
    .map((o, i) => ({ o, i, kind: kinds.get(o) ?? "cpu" }))
    .sort((a, b) => KIND_RANK[a.kind] - KIND_RANK[b.kind] || a.i - b.i)
    .map(({ o, kind }, index) => ({ report: report(o, kind, index), options: o.options }));
}

/** Reports of every adapter, ranked; what `devices()` and the device profile show. */
export async function describeAdapters(): Promise<AdapterReport[]> {
  return (await findAdapters()).map((f) => f.report);
}

/** The adapter `--gpu N` names, or the best-ranked one; throws a clear error when there is none. */
export async function chooseAdapter(gpu?: number): Promise<FoundAdapter> {
  const found = await findAdapters();
  if (found.length === 0) {
    throw new NoWebGpuAdapterError("no WebGPU adapter found: Dawn saw no Vulkan, Metal or D3D12 device (on Linux without a GPU, install Mesa's llvmpipe Vulkan driver)");
  }
  if (gpu === undefined) return found[0];
  if (!Number.isInteger(gpu) || gpu < 0 || gpu >= found.length) {
    const names = found.map((f) => `${f.report.index}: ${f.report.description || f.report.name} (${f.report.kind})`).join("; ");
    throw new NoWebGpuAdapterError(`--gpu ${gpu} is not an adapter index; adapters: ${names}`);
  }
  return found[gpu];
}

/**
 * Opens the adapter again in a fresh GPU instance that the backend keeps for its device's lifetime
 * (an adapter belongs to the instance that found it).
 */
export async function openAdapter(found: FoundAdapter): Promise<{ gpu: GPU; adapter: GPUAdapter }> {
  const gpu = create([...found.options]);
  const adapter = await gpu.requestAdapter(found.options.length > 0 ? undefined : { powerPreference: "high-performance" });
  if (!adapter) throw new NoWebGpuAdapterError(`WebGPU adapter ${found.report.name} could not be opened again`);
  return { gpu, adapter };
}

/** One line naming an adapter, for logs and CLI output. */
export function adapterLine(r: AdapterReport): string {
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  const feats = [r.features.shaderF16 ? "shader-f16" : "", r.features.subgroups ? "subgroups" : ""].filter(Boolean).join(",") || "none";
  return `[${r.index}] ${r.kind} ${r.vendor}/${r.architecture} "${r.description || r.name}" via ${r.api || "default"}; ` +
    `maxStorageBufferBindingSize ${mib(r.limits.maxStorageBufferBindingSize)}, maxBufferSize ${mib(r.limits.maxBufferSize)}; features ${feats}`;
}
