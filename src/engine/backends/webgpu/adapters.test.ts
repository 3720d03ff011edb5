// Adapter discovery on this machine (CI has Mesa's llvmpipe): at least one adapter, ranked, with its
// limits and features; a wrong --gpu index names the adapters that exist. No adapter means failure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseAdapter, describeAdapters, parseAdapterList } from "./adapters.js";
import { measureMatvecRate } from "./benchmark.js";
import { GgmlType } from "../../../gguf/types.js";
import { openWebGpu } from "./test-support.js";

test("describeAdapters finds and ranks adapters: discrete, then integrated, then CPU", async () => {
  const adapters = await describeAdapters();
  assert.ok(adapters.length > 0, "no WebGPU adapter found; CI needs Mesa's llvmpipe Vulkan driver (see DEVELOPERS.md)");
  const rank = { discrete: 0, integrated: 1, cpu: 2 };
  adapters.forEach((a, i) => {
    assert.equal(a.index, i);
    if (i > 0) assert.ok(rank[adapters[i - 1].kind] <= rank[a.kind], "ranked by kind");
    assert.ok(a.limits.maxStorageBufferBindingSize >= 128 * 2 ** 20, "WebGPU guarantees 128 MiB storage bindings");
    assert.ok(a.limits.maxBufferSize >= a.limits.maxStorageBufferBindingSize || a.limits.maxBufferSize >= 256 * 2 ** 20);
    assert.equal(typeof a.features.shaderF16, "boolean");
    assert.ok(a.description.length > 0 || a.name.length > 0);
  });
  if (adapters.some((a) => /llvmpipe|lavapipe|swiftshader/i.test(a.description))) {
    assert.equal(adapters.find((a) => /llvmpipe|lavapipe|swiftshader/i.test(a.description))?.kind, "cpu");
  }
  await assert.rejects(chooseAdapter(adapters.length), (e: unknown) => e instanceof Error && e.message.includes(`--gpu ${adapters.length} is not an adapter index`));
});

test("Dawn's adapter list is parsed into native API and name", () => {
  const message = "no suitable backends found\nAvailable adapters:\n * backend: 'vulkan', name: 'NVIDIA H100 80GB HBM3'\n * backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)'\n";
  assert.deepEqual(parseAdapterList(message), [
    { api: "vulkan", name: "NVIDIA H100 80GB HBM3" },
    { api: "vulkan", name: "llvmpipe (LLVM 15.0.6, 256 bits)" },
  ]);
});

test("devices() reports the open adapter, and the matvec benchmark measures a rate", async () => {
  const backend = await openWebGpu();
  try {
    const [device] = await backend.devices();
    assert.equal(device.backend, "webgpu");
    assert.equal(device.adapter.index, 0);
    const rate = await measureMatvecRate({ backend, type: GgmlType.Q8_0, rows: 256, cols: 512, iterations: 3 });
    assert.equal(rate.weightBytes, 256 * 16 * 34);
    assert.ok(Number.isFinite(rate.bytesPerSecond) && rate.bytesPerSecond > 0, `rate ${rate.bytesPerSecond}`);
  } finally {
    await backend.dispose();
  }
});
