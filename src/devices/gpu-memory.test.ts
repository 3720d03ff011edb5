import assert from "node:assert/strict";
import { test } from "node:test";
import { adapterVendor, gpuMemoryFor } from "./gpu-memory.js";
import type { GpuProfile } from "./types.js";

const GIB = 1024 ** 3;

function card(vendor: GpuProfile["vendor"], name: string, total: number | null, free: number | null, unifiedMemory = false): GpuProfile {
  return { vendor, index: 0, name, memoryTotalBytes: total, memoryFreeBytes: free, utilisation: null, temperatureC: null, powerDrawW: null, powerLimitW: null, driverVersion: null, computeCapability: null, cores: null, unifiedMemory };
}

test("vendor strings and PCI ids map to vendors", () => {
  assert.equal(adapterVendor("nvidia"), "nvidia");
  assert.equal(adapterVendor("0x10de"), "nvidia");
  assert.equal(adapterVendor("AMD"), "amd");
  assert.equal(adapterVendor("apple"), "apple");
  assert.equal(adapterVendor("mesa"), "other");
});

test("a discrete adapter gets its card's free memory, else its total", () => {
  const h100 = { kind: "discrete" as const, vendor: "nvidia", description: "NVIDIA H100 80GB HBM3" };
  assert.equal(gpuMemoryFor(h100, [card("nvidia", "NVIDIA H100 80GB HBM3", 80 * GIB, 79 * GIB)]), 79 * GIB);
  assert.equal(gpuMemoryFor(h100, [card("nvidia", "NVIDIA H100 80GB HBM3", 80 * GIB, null)]), 80 * GIB);
});

test("among several cards the best name match wins", () => {
  const gpus = [card("nvidia", "NVIDIA GeForce RTX 3060", 12 * GIB, 11 * GIB), card("nvidia", "NVIDIA GeForce RTX 4090", 24 * GIB, 23 * GIB)];
  assert.equal(gpuMemoryFor({ kind: "discrete", vendor: "nvidia", description: "NVIDIA GeForce RTX 4090" }, gpus), 23 * GIB);
  assert.equal(gpuMemoryFor({ kind: "discrete", vendor: "nvidia", description: "RTX 3060" }, gpus), 11 * GIB);
});

test("no figure for integrated, software or unmatched adapters", () => {
  const gpus = [card("nvidia", "NVIDIA RTX A4000", 16 * GIB, 15 * GIB), card("apple", "Apple M2", 16 * GIB, null, true)];
  assert.equal(gpuMemoryFor({ kind: "integrated", vendor: "apple", description: "Apple M2" }, gpus), undefined);
  assert.equal(gpuMemoryFor({ kind: "cpu", vendor: "mesa", description: "llvmpipe (LLVM 19.1.7, 256 bits)" }, gpus), undefined);
  assert.equal(gpuMemoryFor({ kind: "discrete", vendor: "amd", description: "AMD Radeon RX 7900 XTX" }, gpus), undefined, "no AMD card reported");
  assert.equal(gpuMemoryFor({ kind: "discrete", vendor: "0x8086", description: "Intel Arc A770" }, gpus), undefined, "unknown vendor without a name match");
  assert.equal(gpuMemoryFor({ kind: "discrete", vendor: "nvidia", description: "RTX A4000" }, []), undefined);
});
