// Support for the /join page's tests: headless Chromium with SwiftShader's WebGPU (the browser the CI
// image installs at /usr/bin/chromium, driven by playwright-core), and the small cluster it joins.
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { agreed, startNode, until, type RunningNode } from "../testing/cluster-procs.js";

export const CHROMIUM = process.env["TESSERA_CHROMIUM"] ?? "/usr/bin/chromium";

export function launchWebGpuChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader"],
  });
}

/** Flags for test nodes that a page joins: one matmul thread, no telemetry or link probes. */
export const QUIET_JOIN_NODE = ["--threads", "1", "--telemetry-ms", "0", "--probe-ms", "0"];

/** Two nodes of a new cluster with `key` (n0, then n1 peering it) under dir, once they agree. */
export async function startTwoNodes(dir: string, key: string): Promise<RunningNode[]> {
  const nodes = [await startNode(join(dir, "n0"), ["--name", "n0", "--join", key, ...QUIET_JOIN_NODE])];
  nodes.push(await startNode(join(dir, "n1"), ["--name", "n1", "--join", key, ...QUIET_JOIN_NODE, "--peer", `127.0.0.1:${nodes[0].port}`]));
  await until(nodes, agreed(2));
  return nodes;
}

/** The device id a /join page shows, once it says it has joined (waiting up to timeoutMs). */
export async function joinedDeviceId(page: Page, timeoutMs = 120_000): Promise<string> {
  await page.waitForSelector('#status[data-state="joined"]', { timeout: timeoutMs });
  return (await page.textContent("#device-id")) ?? "";
}
