// createBackend (src/engine/backends/select.ts): each choice gives the backend it names, and "auto"
// takes a hardware GPU when this machine has one and the CPU backend otherwise (llvmpipe is slower).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createBackend, isBackendChoice } from "../select.js";
import { describeAdapters } from "./adapters.js";

test("createBackend: cpu, webgpu and auto", async () => {
  const cpu = await createBackend({ backend: "cpu", threads: 1 });
  assert.equal(cpu.name, "cpu");
  await cpu.dispose?.();

  const webgpu = await createBackend({ backend: "webgpu", threads: 1 });
  assert.equal(webgpu.name, "webgpu");
  await webgpu.dispose?.();

  const hardware = (await describeAdapters()).some((a) => a.kind !== "cpu");
  const auto = await createBackend({ backend: "auto", threads: 1 });
  assert.equal(auto.name, hardware ? "webgpu" : "cpu");
  await auto.dispose?.();

  await assert.rejects(createBackend({ backend: "webgpu", gpu: 99, threads: 1 }), /--gpu 99 is not an adapter index/);
  assert.equal(isBackendChoice("gpu"), false);
});
