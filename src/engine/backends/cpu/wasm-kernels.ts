// The WebAssembly SIMD kernels (assembly/, built to dist/.../kernels.wasm) and the linear memory they
// work in. Weights live in that memory for the model's lifetime (as GGUF blocks, except Q8_0 and Q4_K,
// repacked with f32 scales: see upload); activations are copied into a scratch region per call. JS owns the
// layout: a bump allocator over one growable WebAssembly.Memory.
// With threads > 1 the memory is shared and a MatmulPool's workers run the same module on it, each
// over its own range of a matmul's rows (kernels-shared.wasm: the same source, built for shared memory).
// Where the engine runs relaxed SIMD, the kernels-relaxed*.wasm builds of the same source are used
// instead: their int8 dot product gives the same integer sums with fewer instructions. Where that
// instruction also multiplies unsigned by signed bytes exactly (x64 with AVX-VNNI under Node 22+),
// the u8 kernels run, same results: Q8_0 with its weights stored in the u8 form (assembly/blocks32.ts),
// Q4_K with its weights in four-row groups (assembly/q4k-x4.ts), Q5_K with its quants fed straight to
// the instruction (assembly/k-quants.ts chunkVnni).
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { QuantShapeError } from "../../../gguf/quants/errors.js";
import { GgmlType, bytesFor, typeName } from "../../../gguf/types.js";
import type { PreparedActivations } from "./kernels/prepared-activations.js";
import type { KernelCall } from "./matmul-control.js";
import { MatmulPool } from "./matmul-pool.js";
import { kernelImports } from "./wasm-imports.js";

const PAGE = 65536;
/** wasm32 addresses 4 GiB; one page is kept back so no offset computation can wrap. */
const MAX_PAGES = 65535;
/** Kept free for activations and outputs when deciding whether weights still fit. */
const SCRATCH_RESERVE = 64 << 20;
/** AssemblyScript's static data sits below this; JS allocations start above it. */
const HEAP_BASE = 1 << 20;

/**
 * One kernel per weight type, all with one signature (byte offsets into linear memory):
 * (w, rows, cols, aq, ad, aextra, nTok, y, r0, r1) computes y[t*rows + r] = W[r] · x[t] for rows
 * [r0, r1). aq: the int8 activation quants (nTok × cols); ad: their f32 block scales; aextra:
 * per-block i32 sums (Q8_0, Q8_K's 16 bsums per block) or Q8_1's f32 s values.
 */
/** assembly/attention.ts flash_attention and attention_f32: (q, k, v, out, scratch, start, nTok, heads, kvHeads, headDim, h0, h1). */
type AttentionExport = (q: number, k: number, v: number, out: number, scratch: number, start: number, nTok: number, heads: number, kvHeads: number, headDim: number, h0: number, h1: number) => void;
/** flash_scratch_bytes and f32_scratch_bytes: scratch bytes per head. */
type ScratchBytesExport = (start: number, nTok: number, headDim: number) => number;
interface AttentionKernel {
  readonly run: AttentionExport;
  readonly scratchPerHead: ScratchBytesExport;
  /** Its index in the pool's kernels. */
  readonly index: number;
}

/**
 * How many matmul multiply-adds one attention multiply-add is worth when deciding whether to split
 * it across threads: each one rounds as the TypeScript does (f64, then f32, then f16), several
 * times the work of an int8 product.
 */
const ATTENTION_WORK_FACTOR = 8;

type WasmMatmul = (w: number, rows: number, cols: number, aq: number, ad: number, aextra: number, nTok: number, y: number, r0: number, r1: number) => void;

/**
 * Default for WasmKernelsOptions.minParallelWork: multiply-adds (rows × cols × tokens) below which a
 * matmul stays on the calling thread, as waking the workers (tens of µs) would cost more than it saves.
 */
export const MIN_PARALLEL_WORK = 1 << 18;

export interface WasmKernelsOptions {
  /** Threads per matmul, the caller included (default 1: no workers, unshared memory). */
  readonly threads?: number;
  /**
   * Whether to use the relaxed-SIMD build: "auto" (default) where the engine supports it and its
   * dot product passes a check on edge values; false for the plain SIMD build; true to insist (throws
   * where unsupported). Results are identical either way.
   */
  readonly relaxed?: boolean | "auto";
  /**
   * Whether the u8 kernels run, built on one unsigned-by-signed dot instruction per 16 bytes (AVX-VNNI's
   * vpdpbusd): Q8_0's (weights stored plus 128), Q4_K's (weights in four-row groups, a row to each i32
   * lane, see q4k-x4.ts) and Q5_K's (the 5-bit quants straight into i32 lanes, see chunkVnni). "auto" (default) on the relaxed build where dot_u8_selftest passes, which
   * is where V8 emits that instruction; true to insist (on the plain build they run, exactly but
   * slowly, from widened products, which is what tests use to check them on any machine; throws where
   * the relaxed instruction is not exact); false for the other kernels. Results are identical either way.
   */
  readonly u8?: boolean | "auto";
  /** Multiply-adds below which a matmul runs on the calling thread only (default MIN_PARALLEL_WORK). */
  readonly minParallelWork?: number;
}

interface KernelExports {
  readonly [name: string]: unknown;
}

const KERNEL_NAMES: ReadonlyMap<GgmlType, string> = new Map([
  [GgmlType.Q8_0, "matmul_q8_0"],
  [GgmlType.Q4_0, "matmul_q4_0"],
  [GgmlType.Q5_0, "matmul_q5_0"],
  [GgmlType.Q4_1, "matmul_q4_1"],
  [GgmlType.Q5_1, "matmul_q5_1"],
  [GgmlType.Q4_K, "matmul_q4_k"],
  [GgmlType.Q5_K, "matmul_q5_k"],
  [GgmlType.Q6_K, "matmul_q6_k"],
]);

/** Each attention in its f64 form and, where madd_selftest passes, its form on the fused multiply-add (same results). */
const ATTENTION_NAMES = { flash: "flash_attention", flashFma: "flash_attention_fma", f32: "attention_f32", f32Fma: "attention_f32_fma" } as const;
const SILU_MUL = "silu_mul";
/**
 * The kernels built on the unsigned-by-signed dot instruction (WasmKernelsOptions.u8): Q8_0's for
 * weights in the u8 form, Q4_K's for weights in four-row groups, and Q5_K's, which reads the same
 * weights as the usual kernel.
 */
const U8_KERNEL_NAMES: ReadonlyMap<GgmlType, string> = new Map([
  [GgmlType.Q8_0, "matmul_q8_0_u8"],
  [GgmlType.Q4_K, "matmul_q4_k_x4"],
  [GgmlType.Q5_K, "matmul_q5_k_vnni"],
]);
/** Kernels by their index in the control block (see matmul-control.ts): the matmuls, attention, silu_mul. */
const KERNEL_NAMES_BY_INDEX = [...KERNEL_NAMES.values(), ...U8_KERNEL_NAMES.values(), ATTENTION_NAMES.flash, ATTENTION_NAMES.flashFma, ATTENTION_NAMES.f32, ATTENTION_NAMES.f32Fma, SILU_MUL];
/** silu_mul(gate, up, i0, i1). */
type SiluMulExport = (gate: number, up: number, i0: number, i1: number) => void;
/** assembly/norms.ts */
type RmsnormExport = (x: number, weight: number, out: number, rows: number, width: number, eps: number) => void;
type RopeExport = (x: number, nTok: number, heads: number, headDim: number, cs: number, half: number, neox: number) => void;

/** assembly/quantize.ts quantize_q8_0 and quantize_q8_k: (x, n, qs, d, sums). */
type QuantizeExport = (x: number, n: number, qs: number, d: number, sums: number) => void;
/** assembly/blocks32.ts q8_widen: (aq, ad, nTok, cols, a16, sc). */
type WidenExport = (aq: number, ad: number, nTok: number, cols: number, a16: number, sc: number) => void;
/** assembly/k-quants.ts q8k_pairs: (sums, blocks, out). */
type PairsExport = (sums: number, blocks: number, out: number) => void;
/** assembly/blocks32.ts q8_u8_group: (aq, ad, ax, nTok, cols, a8, sc, bi). */
type GroupExport = (aq: number, ad: number, ax: number, nTok: number, cols: number, a8: number, sc: number, bi: number) => void;
/** assembly/blocks32.ts q8_0_pack and q8_0_unpack: (src, dst, rows, cols). */
type RepackExport = (src: number, dst: number, rows: number, cols: number, flip: number) => void;
/** assembly/k-quants.ts q4_k_pack and q4_k_unpack: (src, dst, super-blocks). */
type BlockRepackExport = (src: number, dst: number, blocks: number) => void;
/** assembly/q4k-x4.ts q4_k_pack_x4 / q4_k_unpack_x4: (src, dst, groups of four rows, super-blocks per row). */
type GroupRepackExport = (src: number, dst: number, groups: number, nb: number) => void;

/** GGUF bytes repacked per call of q8_0_pack/q8_0_unpack, through the scratch region. */
const REPACK_CHUNK_BYTES = 1 << 20;

/** Rows per repack call for rows of rawRow bytes: about REPACK_CHUNK_BYTES, a multiple of 4 (whole four-row groups). */
function repackChunkRows(rawRow: number): number {
  return Math.max(4, Math.floor(REPACK_CHUNK_BYTES / rawRow / 4) * 4);
}

/** The kernels that work row by row on the calling thread (silu_mul also splits across threads). */
interface RowKernels {
  readonly siluMul: SiluMulExport;
  readonly rmsnorm: RmsnormExport;
  readonly rope: RopeExport;
  readonly quantizeQ8_0: QuantizeExport;
  readonly quantizeQ8_K: QuantizeExport;
  readonly q8Widen: WidenExport;
  readonly q8U8Group: GroupExport;
  readonly q8kPairs: PairsExport;
  readonly q8Pack: RepackExport;
  readonly q8Unpack: RepackExport;
  readonly q4kPack: BlockRepackExport;
  readonly q4kUnpack: BlockRepackExport;
  readonly q4kPackX4: GroupRepackExport;
  readonly q4kUnpackX4: GroupRepackExport;
  /** Tokens from which matmul_q8_0 reads the wide layout. */
  readonly q8WideMinTokens: number;
}

/**
 * How the kernels read a weight type's activations: Q8_0 blocks (Q4_0, Q5_0, and Q8_0 on the plain
 * build), Q8_0 rewritten as magnitudes and sign masks (Q8_0 on the relaxed build, see q8_split),
 * Q8_0 widened to i16 in groups of four tokens (Q8_0 from Q8_WIDE_MIN_TOKENS tokens up, see
 * q8_widen), Q8_0 grouped four tokens to a block for the u8 kernel (from as many tokens, see
 * q8_u8_group), or Q8_K blocks (the K formats).
 */
export type WasmActivationLayout = "q8_0" | "q8_0-split" | "q8_0-wide" | "q8_0-u8group" | "q8_K";

/**
 * Activations quantised in the kernels' memory by WasmKernels.prepare: pointers to the quants (aq),
 * block scales (ad) and block sums (ax). Valid until the next prepare (`generation` tells).
 */
export interface WasmActivations {
  readonly layout: WasmActivationLayout;
  readonly nTok: number;
  readonly cols: number;
  readonly aq: number;
  readonly ad: number;
  readonly ax: number;
  readonly generation: number;
}

/** `bytes` rounded up to a whole number of 64-byte cache lines, so the next piece of a region starts on one. */
const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;

/** Bytes of the wide layout (q8_widen) of nTok tokens of `cols` values: i16 quants, then f32 scales, tokens padded to groups of four. */
function wideBytes(nTok: number, cols: number): { quants: number; scales: number } {
  const padded = Math.ceil(nTok / 4) * 4;
  return { quants: align64(padded * cols * 2), scales: align64((padded * cols / 32) * 4) };
}

/** Bytes of the u8 kernel's grouped layout (q8_u8_group): int8 quants, f32 scales, i32 corrections, tokens padded to groups of four. */
function groupedBytes(nTok: number, cols: number): { quants: number; scales: number; corrections: number } {
  const padded = Math.ceil(nTok / 4) * 4;
  return { quants: align64(padded * cols), scales: align64((padded * cols / 32) * 4), corrections: align64((padded * cols / 32) * 4) };
}

/** A region of the kernels' memory reused call after call, grown (by a fresh allocation) when too small. */
class Region {
  private ptr = 0;
  private bytes = 0;
  constructor(private readonly heap: WasmHeap) {}

  take(bytes: number): number {
    if (bytes > this.bytes) {
      this.bytes = Math.max(bytes, this.bytes * 2);
      this.ptr = this.heap.alloc(this.bytes);
    }
    return this.ptr;
  }
}
/** Matmul multiply-adds one silu_mul element is worth when deciding whether to split it (an e^x and two divisions). */
const SILU_WORK_FACTOR = 16;

/** The built module for the memory kind and instruction set; compiled once per process. */
const modules = new Map<string, WebAssembly.Module>();
function kernelModule(shared: boolean, relaxed: boolean): WebAssembly.Module {
  const file = `./kernels${relaxed ? "-relaxed" : ""}${shared ? "-shared" : ""}.wasm`;
  let m = modules.get(file);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(new URL(file, import.meta.url)));
    modules.set(file, m);
  }
  return m;
}

let relaxedState: boolean | undefined;
/** WebAssembly.validate, which every engine has but this project's type declarations omit. */
const validate = (WebAssembly as unknown as { validate(bytes: Uint8Array): boolean }).validate;
/**
 * Whether this engine compiles relaxed-SIMD modules. Node 22+ (V8 >= 11.4) ships them; Node 20's
 * V8 11.3 has them behind --experimental-wasm-relaxed-simd, which may be switched on before the
 * first such module is compiled (it is process-wide, so worker threads see it too).
 */
export function relaxedSimdAvailable(): boolean {
  if (relaxedState !== undefined) return relaxedState;
  let bytes: Buffer;
  try {
    bytes = readFileSync(new URL("./kernels-relaxed.wasm", import.meta.url));
  } catch {
    // Not built (an older build:wasm): the plain kernels serve.
    relaxedState = false;
    return false;
  }
  if (!validate(bytes)) {
    try {
      setFlagsFromString("--experimental-wasm-relaxed-simd");
    } catch {
      // An engine that refuses the flag simply keeps the plain kernels.
    }
  }
  const ok = validate(bytes);
  relaxedState = ok;
  return ok;
}

function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  return new WebAssembly.Instance(module, kernelImports(memory)).exports as KernelExports;
}

/**
 * Relaxed SIMD lets an engine pick how it computes out-of-range cases. dot_i7_selftest checks the
 * cases every kernel relies on; dot_u8_selftest the one the u8 Q8_0 kernel adds (unsigned bytes past
 * 127), and which is passed where V8 emits the one instruction the Q4_K/Q5_K u8 kernels gain from;
 * madd_selftest whether the multiply-add rounds once (fused), which flash_attention_fma needs.
 */
function selftestPasses(exports: KernelExports, name: "dot_i7_selftest" | "dot_u8_selftest" | "madd_selftest"): boolean {
  const test = exports[name];
  return typeof test === "function" && (test as (zero: number) => number)(0) === 1;
}

export class WasmHeap {
  private top = HEAP_BASE;
  constructor(readonly memory: WebAssembly.Memory) {}

  /** Whether `bytes` more (plus room for per-call scratch) still fit under the 4 GiB limit. */
  canHold(bytes: number): boolean {
    return align64(this.top) + bytes + SCRATCH_RESERVE <= MAX_PAGES * PAGE;
  }

  /** Reserves `bytes` at a 64-byte aligned offset, growing the memory as needed. */
  alloc(bytes: number): number {
    const ptr = align64(this.top);
    const end = ptr + bytes;
    const pages = Math.ceil(end / PAGE);
    if (pages > MAX_PAGES) throw new RangeError(`CPU kernels' memory is full: ${end} bytes exceed the 4 GiB wasm32 limit`);
    const have = this.memory.buffer.byteLength / PAGE;
    if (pages > have) this.memory.grow(pages - have);
    this.top = end;
    return ptr;
  }

  /** A fresh view (growing the memory detaches older ones). */
  bytes(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  get used(): number {
    return this.top;
  }
}

export class WasmKernels {
  private readonly scratchRegion: Region;
  /** Where prepare() puts quantised activations, apart from the scratch so they outlive other calls. */
  private readonly activationRegion: Region;
  /** uploadFrom's staging buffer (JS memory, see there). */
  private staging = new Uint8Array(0);
  /** uploadFrom calls, one after another. */
  private uploads: Promise<void> = Promise.resolve();
  private generation = 0;

  private pool: MatmulPool | undefined;

  private constructor(
    readonly heap: WasmHeap,
    private readonly fns: ReadonlyMap<GgmlType, { readonly fn: WasmMatmul; readonly index: number }>,
    pool: MatmulPool | undefined,
    private readonly minParallelWork: number,
    /** Whether the relaxed-SIMD build is in use. */
    readonly relaxed: boolean,
    /** Whether the u8 kernels run (WasmKernelsOptions.u8), with Q8_0 weights in the u8 form. */
    readonly u8: boolean,
    /** Set for the relaxed build's split Q8_0 kernel: it takes the activations rewritten by q8_split. */
    private readonly q8Split: ((p: number, n: number, sums: number) => void) | undefined,
    private readonly attentionKernels: { readonly flash: AttentionKernel; readonly f32: AttentionKernel },
    private readonly rowKernels: RowKernels,
  ) {
    this.pool = pool;
    this.scratchRegion = new Region(heap);
    this.activationRegion = new Region(heap);
  }

  static load(options: WasmKernelsOptions = {}): WasmKernels {
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    const shared = threads > 1;
    const memory = new WebAssembly.Memory({ initial: HEAP_BASE / PAGE, maximum: MAX_PAGES, shared });
    const want = options.relaxed ?? "auto";
    let relaxed = want !== false && relaxedSimdAvailable();
    if (want === true && !relaxed) throw new Error("this JavaScript engine cannot run relaxed-SIMD WebAssembly");
    let module = kernelModule(shared, relaxed);
    let exports = instantiate(module, memory);
    if (relaxed && !selftestPasses(exports, "dot_i7_selftest")) {
      if (want === true) throw new Error("the engine's relaxed-SIMD int8 dot product gave unexpected results");
      relaxed = false;
      module = kernelModule(shared, false);
      exports = instantiate(module, memory);
    }
    const wantU8 = options.u8 ?? "auto";
    const u8 = wantU8 === true || (wantU8 === "auto" && relaxed && selftestPasses(exports, "dot_u8_selftest"));
    if (wantU8 === true && relaxed && !selftestPasses(exports, "dot_u8_selftest")) {
      throw new Error("the engine's relaxed-SIMD dot product is not exact for unsigned bytes past 127 (no AVX-VNNI here)");
    }
    const names = new Map(KERNEL_NAMES);
    if (u8) for (const [type, name] of U8_KERNEL_NAMES) names.set(type, name);
    const fns = new Map<GgmlType, { readonly fn: WasmMatmul; readonly index: number }>();
    for (const [type, name] of names) {
      const fn = exports[name];
      if (typeof fn === "function") fns.set(type, { fn: fn as WasmMatmul, index: KERNEL_NAMES_BY_INDEX.indexOf(name) });
    }
    const pool = shared ? new MatmulPool(threads, module, memory, KERNEL_NAMES_BY_INDEX, KERNEL_NAMES_BY_INDEX.map((name) => exports[name] as KernelCall)) : undefined;
    const split = relaxed && !u8 ? (exports["q8_split"] as (p: number, n: number, sums: number) => void) : undefined;
    const fused = relaxed && selftestPasses(exports, "madd_selftest");
    const attention = (name: string, scratch: string): AttentionKernel => ({
      run: exports[name] as AttentionExport,
      scratchPerHead: exports[scratch] as ScratchBytesExport,
      index: KERNEL_NAMES_BY_INDEX.indexOf(name),
    });
    return new WasmKernels(new WasmHeap(memory), fns, pool, options.minParallelWork ?? MIN_PARALLEL_WORK, relaxed, u8, split, {
      flash: attention(fused ? ATTENTION_NAMES.flashFma : ATTENTION_NAMES.flash, "flash_scratch_bytes"),
      f32: attention(fused ? ATTENTION_NAMES.f32Fma : ATTENTION_NAMES.f32, "f32_scratch_bytes"),
    }, {
      siluMul: exports[SILU_MUL] as SiluMulExport,
      rmsnorm: exports["rmsnorm"] as RmsnormExport,
      rope: exports["rope"] as RopeExport,
      quantizeQ8_0: exports["quantize_q8_0"] as QuantizeExport,
      quantizeQ8_K: exports["quantize_q8_k"] as QuantizeExport,
      q8Widen: exports["q8_widen"] as WidenExport,
      q8U8Group: exports["q8_u8_group"] as GroupExport,
      q8kPairs: exports["q8k_pairs"] as PairsExport,
      q8Pack: exports["q8_0_pack"] as RepackExport,
      q8Unpack: exports["q8_0_unpack"] as RepackExport,
      q4kPack: exports["q4_k_pack"] as BlockRepackExport,
      q4kUnpack: exports["q4_k_unpack"] as BlockRepackExport,
      q4kPackX4: exports["q4_k_pack_x4"] as GroupRepackExport,
      q4kUnpackX4: exports["q4_k_unpack_x4"] as GroupRepackExport,
      q8WideMinTokens: (exports["Q8_WIDE_MIN_TOKENS"] as { readonly value: number }).value,
    });
  }

  /** Threads a large matmul runs on (1 once disposed). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Stops the worker threads; matmuls then run on the calling thread. */
  async dispose(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }

  canHold(bytes: number): boolean {
    return this.heap.canHold(bytes);
  }

  supports(type: GgmlType): boolean {
    return this.fns.has(type);
  }

  /**
   * Bytes a `type` weight of rows × cols takes in linear memory: its GGUF size, except Q8_0 and Q4_K,
   * which the kernels read repacked with f32 scales (Q8_0: 36 bytes per 32 values instead of 34, see
   * assembly/blocks32.ts q8_0_pack; Q4_K: 152 per 256 instead of 144, see assembly/k-quants.ts q4_k_pack).
   */
  weightBytes(type: GgmlType, rows: number, cols: number): number {
    if (type === GgmlType.Q8_0) return rows * (cols / 32) * 36;
    if (type === GgmlType.Q4_K) return rows * (cols / 256) * 152;
    return rows * bytesFor(type, cols);
  }

  /** Whether the kernels keep `type` in a layout of their own rather than as GGUF blocks. */
  private static repacked(type: GgmlType): boolean {
    return type === GgmlType.Q8_0 || type === GgmlType.Q4_K;
  }

  /**
   * Puts rows [r, r + n) of a weight (their GGUF bytes in `piece`, any memory but the kernels') in place
   * at ptr: copied, or for a repacked type copied to the scratch region and packed from there.
   */
  private placeRows(type: GgmlType, ptr: number, rows: number, r: number, n: number, cols: number, piece: Uint8Array): void {
    if (!WasmKernels.repacked(type)) {
      this.heap.bytes(ptr + r * bytesFor(type, cols), piece.length).set(piece);
      return;
    }
    const src = this.scratch(piece.length);
    this.heap.bytes(src, piece.length).set(piece);
    if (this.grouped(type)) this.q4kGroups("pack", src, ptr, rows, r, n, cols);
    else this.repack(type, "pack", src, ptr + r * this.weightBytes(type, 1, cols), n, cols);
  }

  /** Whether this type's weights are in four-row groups: Q4_K for the u8 kernels (assembly/q4k-x4.ts). */
  private grouped(type: GgmlType): boolean {
    return type === GgmlType.Q4_K && this.u8;
  }

  /**
   * Q4_K rows [r, r + n) of a grouped weight of `rows` rows at ptr, to ("pack") or from ("unpack") GGUF
   * rows at raw: whole groups first (r a multiple of 4 where it is below rows & ~3), then the rows past
   * the last group, which sit after the groups in q4_k_pack's layout.
   */
  private q4kGroups(direction: "pack" | "unpack", raw: number, ptr: number, rows: number, r: number, n: number, cols: number): void {
    const k = this.rowKernels;
    const nb = cols / 256, rawRow = nb * 144, rows4 = rows & ~3;
    const groups = Math.max(0, Math.min(r + n, rows4) - r) / 4, grouped = ptr + (r / 4) * nb * 608;
    if (groups > 0 && direction === "pack") k.q4kPackX4(raw, grouped, groups, nb);
    else if (groups > 0) k.q4kUnpackX4(grouped, raw, groups, nb);
    const tail = ptr + (rows4 / 4) * nb * 608;
    for (let i = Math.max(r, rows4); i < r + n; i++) {
      const packed = tail + (i - rows4) * nb * 152, gguf = raw + (i - r) * rawRow;
      if (direction === "pack") k.q4kPack(gguf, packed, nb);
      else k.q4kUnpack(packed, gguf, nb);
    }
  }


  /** Repacks `rows` rows (cols values each) of a repacked type between GGUF bytes and the kernels' layout. */
  private repack(type: GgmlType, direction: "pack" | "unpack", src: number, dst: number, rows: number, cols: number): void {
    const k = this.rowKernels;
    if (type === GgmlType.Q8_0) (direction === "pack" ? k.q8Pack : k.q8Unpack)(src, dst, rows, cols, this.u8 ? 1 : 0);
    else (direction === "pack" ? k.q4kPack : k.q4kUnpack)(src, dst, rows * (cols / 256));
  }

  /**
   * Copies a weight (`data`: GGUF bytes of rows × cols) into linear memory once, in the layout
   * `type`'s kernel reads; returns its offset. Q8_0 and Q4_K are repacked on the way in, a megabyte at a time
   * through the scratch region, so no second copy of the tensor is made.
   */
  upload(type: GgmlType, data: Uint8Array, rows: number, cols: number): number {
    const ptr = this.heap.alloc(this.weightBytes(type, rows, cols));
    this.writeWeight(type, ptr, data, rows, cols);
    return ptr;
  }

  /**
   * upload() from a reader instead of a buffer: `read(dst, offset)` fills dst with the GGUF bytes from
   * `offset`. Up to a megabyte of rows at a time is read into a staging buffer and copied (or
   * repacked) into place, so loading holds no whole tensor in JS memory. The staging buffer is plain
   * JS memory: no view of the kernels' memory is held across an await, since growing that memory
   * (another caller's allocation meanwhile) detaches its views. Calls are serialised on the buffer.
   */
  uploadFrom(type: GgmlType, rows: number, cols: number, read: (dst: Uint8Array, offset: number) => Promise<void>): Promise<number> {
    const run = this.uploads.then(async () => {
      const rawRow = bytesFor(type, cols);
      const chunkRows = repackChunkRows(rawRow);
      if (this.staging.length < chunkRows * rawRow) this.staging = new Uint8Array(chunkRows * rawRow);
      const ptr = this.heap.alloc(this.weightBytes(type, rows, cols));
      for (let r = 0; r < rows; r += chunkRows) {
        const n = Math.min(chunkRows, rows - r);
        const piece = this.staging.subarray(0, n * rawRow);
        await read(piece, r * rawRow);
        this.placeRows(type, ptr, rows, r, n, cols, piece);
      }
      return ptr;
    });
    this.uploads = run.then(() => undefined, () => undefined);
    return run;
  }

  /** Writes a weight as upload() does, at ptr (weightBytes(type, rows, cols) bytes already reserved there). */
  writeWeight(type: GgmlType, ptr: number, data: Uint8Array, rows: number, cols: number): void {
    const raw = rows * bytesFor(type, cols);
    if (data.length !== raw) throw new QuantShapeError(`${typeName(type)} weight of ${rows} x ${cols} needs ${raw} bytes, got ${data.length}`);
    // Repacked types go a megabyte at a time through the scratch region; the rest in one copy.
    const rawRow = raw / rows;
    const chunkRows = WasmKernels.repacked(type) ? repackChunkRows(rawRow) : rows;
    for (let r = 0; r < rows; r += chunkRows) {
      const n = Math.min(chunkRows, rows - r);
      this.placeRows(type, ptr, rows, r, n, cols, data.subarray(r * rawRow, (r + n) * rawRow));
    }
  }

  /**
   * GGUF bytes of rows [r0, r1) of a weight put in linear memory by upload(): a view of that memory
   * (valid until it next grows), or for Q8_0 and Q4_K a copy unpacked from the kernels' layout.
   */
  weightRows(type: GgmlType, ptr: number, rows: number, cols: number, r0: number, r1: number): Uint8Array {
    const rawRow = bytesFor(type, cols);
    if (!WasmKernels.repacked(type)) return this.heap.bytes(ptr + r0 * rawRow, (r1 - r0) * rawRow);
    const out = new Uint8Array((r1 - r0) * rawRow);
    const packedRow = this.weightBytes(type, 1, cols);
    const chunkRows = repackChunkRows(rawRow);
    // Grouped weights unpack whole groups, from the group holding r0 to the one holding r1 - 1.
    const grouped = this.grouped(type), rows4 = rows & ~3;
    const from = grouped && r0 < rows4 ? r0 & ~3 : r0;
    const to = grouped && r1 <= rows4 ? (r1 + 3) & ~3 : r1;
    for (let r = from; r < to; r += chunkRows) {
      const n = Math.min(chunkRows, to - r);
      const dst = this.scratch(n * rawRow);
      if (grouped) this.q4kGroups("unpack", dst, ptr, rows, r, n, cols);
      else this.repack(type, "unpack", ptr + r * packedRow, dst, n, cols);
      const first = Math.max(r, r0), last = Math.min(r + n, r1);
      out.set(this.heap.bytes(dst + (first - r) * rawRow, (last - first) * rawRow), (first - r0) * rawRow);
    }
    return out;
  }


  /** Per-call memory for copies in and out; its contents last until the next call. */
  private scratch(bytes: number): number {
    return this.scratchRegion.take(bytes);
  }

  /** The layout `type`'s kernel reads nTok tokens of activations in, when prepare() can build it. */
  activationLayout(type: GgmlType, nTok: number): WasmActivationLayout | undefined {
    switch (type) {
      case GgmlType.Q8_0:
        if (this.u8) return nTok >= this.rowKernels.q8WideMinTokens ? "q8_0-u8group" : "q8_0";
        return nTok >= this.rowKernels.q8WideMinTokens ? "q8_0-wide" : this.q8Split ? "q8_0-split" : "q8_0";
      case GgmlType.Q4_0:
      case GgmlType.Q5_0: return "q8_0";
      case GgmlType.Q4_K:
      case GgmlType.Q5_K:
      case GgmlType.Q6_K: return "q8_K";
      default: return undefined;
    }
  }

  /**
   * Quantises nTok rows of `cols` values of x for `type`'s kernel, in the kernels' memory (as
   * prepareActivations does in JS, bit for bit); the result stays valid until the next prepare.
   * Undefined for types whose activations are not built here (Q4_1/Q5_1's Q8_1).
   */
  prepare(type: GgmlType, x: Float32Array, nTok: number, cols: number): WasmActivations | undefined {
    const layout = this.activationLayout(type, nTok);
    if (layout === undefined) return undefined;
    const block = layout === "q8_K" ? 256 : 32;
    if (cols <= 0 || cols % block !== 0) throw new QuantShapeError(`cols ${cols} is not a multiple of the activation block size ${block}`);
    const n = nTok * cols;
    if (x.length < n) throw new QuantShapeError(`activations hold ${x.length} values, need ${nTok} x ${cols}`);
    const blocks = n / block;
    const xBytes = align64(n * 4), qBytes = align64(layout === "q8_0-split" ? 2 * n : n), dBytes = align64(blocks * 4);
    // Q8_K: the 16 i32 bsums per block, then (for Q4_K/Q5_K, see q8k_pairs) 8 i16 pair sums per block.
    const sBytes = align64(layout === "q8_K" ? blocks * (16 * 4 + 16) : blocks * 4);
    const wide = layout === "q8_0-wide" ? wideBytes(nTok, cols) : { quants: 0, scales: 0 };
    const grouped = layout === "q8_0-u8group" ? groupedBytes(nTok, cols) : { quants: 0, scales: 0, corrections: 0 };
    const base = this.activationRegion.take(xBytes + qBytes + dBytes + sBytes + wide.quants + wide.scales + grouped.quants + grouped.scales + grouped.corrections);
    const aq = base + xBytes, ad = aq + qBytes, ax = ad + dBytes;
    new Float32Array(this.heap.memory.buffer, base, n).set(x.subarray(0, n));
    if (layout === "q8_K") {
      this.rowKernels.quantizeQ8_K(base, n, aq, ad, ax);
      this.rowKernels.q8kPairs(ax, blocks, ax + blocks * 64);
    }
    else this.rowKernels.quantizeQ8_0(base, n, aq, ad, ax);
    if (layout === "q8_0-split") this.q8Split!(aq, n, ax);
    if (layout === "q8_0-wide") {
      const a16 = ax + sBytes, sc = a16 + wide.quants;
      this.rowKernels.q8Widen(aq, ad, nTok, cols, a16, sc);
      return { layout, nTok, cols, aq: a16, ad: sc, ax, generation: ++this.generation };
    }
    if (layout === "q8_0-u8group") {
      const a8 = ax + sBytes, sc = a8 + grouped.quants, bi = sc + grouped.scales;
      this.rowKernels.q8U8Group(aq, ad, ax, nTok, cols, a8, sc, bi);
      return { layout, nTok, cols, aq: a8, ad: sc, ax: bi, generation: ++this.generation };
    }
    return { layout, nTok, cols, aq, ad, ax, generation: ++this.generation };
  }

  /** Whether `act` still holds: no prepare() has run since it was made. */
  isCurrent(act: WasmActivations): boolean {
    return act.generation === this.generation;
  }

  /**
   * y[t*rows + r] = W[r] · x[t] for rows [r0, r1), on weights already in linear memory, with
   * activations from prepare() (current ones, in `type`'s layout) or from prepareActivations (copied in).
   */
  matmul(type: GgmlType, w: number, rows: number, cols: number, act: PreparedActivations | WasmActivations, y: Float32Array, r0 = 0, r1 = rows): void {
    const kernel = this.fns.get(type);
    if (!kernel) throw new RangeError(`no wasm kernel for ggml type ${type}`);
    const yBytes = act.nTok * rows * 4;
    let aq: number, ad: number, ax: number, yPtr: number;
    if ("aq" in act) {
      if (!this.isCurrent(act)) throw new Error("these activations were overwritten by a later prepare()");
      if (act.layout !== this.activationLayout(type, act.nTok) || act.cols !== cols) throw new RangeError(`activations prepared as ${act.layout} × ${act.cols} do not fit a ${typeName(type)} matmul over ${cols} columns`);
      ({ aq, ad, ax } = act);
      yPtr = this.scratch(yBytes);
    } else {
      const extra = act.format === "q8_1" ? act.s : act.sums;
      const layout = this.activationLayout(type, act.nTok);
      // The relaxed Q8_0 kernel reads the quants as magnitudes and sign masks: twice the bytes.
      const split = layout === "q8_0-split" ? this.q8Split : undefined;
      const wide = layout === "q8_0-wide" ? wideBytes(act.nTok, cols) : { quants: 0, scales: 0 };
      const grouped = layout === "q8_0-u8group" ? groupedBytes(act.nTok, cols) : { quants: 0, scales: 0, corrections: 0 };
      const qBytes = align64((split ? 2 : 1) * act.qs.length);
      const dBytes = align64(act.d.length * 4);
      // Q8_K's bsums are followed by their pair sums (q8k_pairs), 16 bytes per block of 16 bsums.
      const eBytes = align64(extra.length * 4 + (layout === "q8_K" ? extra.length : 0));
      const layoutBytes = wide.quants + wide.scales + grouped.quants + grouped.scales + grouped.corrections;
      const base = this.scratch(qBytes + dBytes + eBytes + layoutBytes + yBytes);
      const buf = this.heap.memory.buffer;
      new Int8Array(buf, base, act.qs.length).set(act.qs);
      new Float32Array(buf, base + qBytes, act.d.length).set(act.d);
      if (extra instanceof Float32Array) new Float32Array(buf, base + qBytes + dBytes, extra.length).set(extra);
      else new Int32Array(buf, base + qBytes + dBytes, extra.length).set(extra);
      if (layout === "q8_K") this.rowKernels.q8kPairs(base + qBytes + dBytes, extra.length / 16, base + qBytes + dBytes + extra.length * 4);
      yPtr = base + qBytes + dBytes + eBytes + layoutBytes;
      aq = base;
      ad = base + qBytes;
      ax = base + qBytes + dBytes;
      split?.(aq, act.qs.length, ax);
      if (layout === "q8_0-wide") {
        const a16 = ax + eBytes, sc = a16 + wide.quants;
        this.rowKernels.q8Widen(aq, ad, act.nTok, cols, a16, sc);
        aq = a16;
        ad = sc;
      }
      if (layout === "q8_0-u8group") {
        const a8 = ax + eBytes, sc = a8 + grouped.quants, bi = sc + grouped.scales;
        this.rowKernels.q8U8Group(aq, ad, ax, act.nTok, cols, a8, sc, bi);
        aq = a8;
        ad = sc;
        ax = bi;
      }
    }
    if (this.pool && (r1 - r0) * cols * act.nTok >= this.minParallelWork) {
      this.pool.run({ kernel: kernel.index, args: [w, rows, cols, aq, ad, ax, act.nTok, yPtr], r0, r1 });
    } else {
      kernel.fn(w, rows, cols, aq, ad, ax, act.nTok, yPtr, r0, r1);
    }
    const out = new Float32Array(this.heap.memory.buffer, yPtr, act.nTok * rows);
    for (let t = 0; t < act.nTok; t++) {
      const o = t * rows;
      y.set(out.subarray(o + r0, o + r1), o + r0);
    }
  }

  /**
   * Causal attention over a KV cache held in JS arrays, on the wasm kernels: "flash" is
   * ops.flashAttention (llama.cpp's flash attention below 64 query rows, f16 value sums), "f32" is
   * ops.attention without f16Softmax (its tiled all-f32 form from 64 rows up). Each rounds as the
   * TypeScript does; the query-key dot sums in two f64 lanes, and e^x comes from the kernel's own
   * polynomial (within an ulp of Math.exp before the rounding to f32). The visible cache rows are
   * copied into scratch memory for the call. With threads, the heads are split across them (each
   * head computed the same way wherever it runs). headDim must be a multiple of 4.
   */
  attention(kind: "flash" | "f32", q: Float32Array, k: Float32Array, v: Float32Array, start: number, nTok: number, heads: number, kvHeads: number, headDim: number, out: Float32Array): void {
    const kernel = this.attentionKernels[kind];
    const kvDim = kvHeads * headDim;
    const visible = start + nTok;
    const qLen = nTok * heads * headDim;
    const kvLen = visible * kvDim;
    const align = (n: number) => Math.ceil(n / 16) * 16;
    const qBytes = align(qLen * 4), kvBytes = align(kvLen * 4), sBytes = heads * kernel.scratchPerHead(start, nTok, headDim);
    const base = this.scratch(2 * qBytes + 2 * kvBytes + sBytes);
    const buf = this.heap.memory.buffer;
    const qPtr = base, kPtr = qPtr + qBytes, vPtr = kPtr + kvBytes, oPtr = vPtr + kvBytes, sPtr = oPtr + qBytes;
    new Float32Array(buf, qPtr, qLen).set(q.subarray(0, qLen));
    new Float32Array(buf, kPtr, kvLen).set(k.subarray(0, kvLen));
    new Float32Array(buf, vPtr, kvLen).set(v.subarray(0, kvLen));
    const args = [qPtr, kPtr, vPtr, oPtr, sPtr, start, nTok, heads, kvHeads, headDim] as const;
    if (this.pool && nTok * heads * visible * headDim * ATTENTION_WORK_FACTOR >= this.minParallelWork) {
      this.pool.run({ kernel: kernel.index, args, r0: 0, r1: heads, align: 1 });
    } else {
      kernel.run(...args, 0, heads);
    }
    out.set(new Float32Array(this.heap.memory.buffer, oPtr, qLen));
  }

  /**
   * gate = silu(gate) * up over n values, as ops.siluMul (see assembly/activations.ts: the same f64
   * arithmetic and f32 roundings, e^x from the kernel's polynomial). Split across the threads for
   * prompt-sized batches.
   */
  siluMul(gate: Float32Array, up: Float32Array, n: number): void {
    const bytes = align64(n * 4);
    const base = this.scratch(2 * bytes);
    const buf = this.heap.memory.buffer;
    new Float32Array(buf, base, n).set(gate.subarray(0, n));
    new Float32Array(buf, base + bytes, n).set(up.subarray(0, n));
    if (this.pool && n * SILU_WORK_FACTOR >= this.minParallelWork) {
      this.pool.run({ kernel: KERNEL_NAMES_BY_INDEX.indexOf(SILU_MUL), args: [base, base + bytes], r0: 0, r1: n, align: 4 });
    } else {
      this.rowKernels.siluMul(base, base + bytes, 0, n);
    }
    gate.set(new Float32Array(this.heap.memory.buffer, base, n));
  }

  /** out = x / rms(x) * weight for `rows` rows of `width` values: ops.rmsnorm bit for bit (see assembly/norms.ts). */
  rmsnorm(x: Float32Array, weight: Float32Array, rows: number, width: number, eps: number, out: Float32Array): void {
    const n = rows * width;
    const xBytes = align64(n * 4), wBytes = align64(width * 4);
    const base = this.scratch(2 * xBytes + wBytes);
    const buf = this.heap.memory.buffer;
    new Float32Array(buf, base, n).set(x.subarray(0, n));
    new Float32Array(buf, base + xBytes, width).set(weight.subarray(0, width));
    this.rowKernels.rmsnorm(base, base + xBytes, base + xBytes + wBytes, rows, width, eps);
    out.set(new Float32Array(this.heap.memory.buffer, base + xBytes + wBytes, n));
  }

  /**
   * Rotates `half` pairs of each head of nTok rows of x in place, as ops.rope does, given per row
   * `half` cos values then `half` sin values (cs, from ops.ropeTable). neox: pairs (i, i + half).
   */
  rope(x: Float32Array, nTok: number, heads: number, headDim: number, cs: Float32Array, half: number, neox: boolean): void {
    const n = nTok * heads * headDim;
    const xBytes = align64(n * 4);
    const base = this.scratch(xBytes + cs.length * 4);
    const buf = this.heap.memory.buffer;
    new Float32Array(buf, base, n).set(x.subarray(0, n));
    new Float32Array(buf, base + xBytes, cs.length).set(cs);
    this.rowKernels.rope(base, nTok, heads, headDim, base + xBytes, half, neox ? 1 : 0);
    x.set(new Float32Array(this.heap.memory.buffer, base, n));
  }
}
