// Headless Chromium with SwiftShader's WebGPU, for the /join page's tests: the browser the CI image
// installs at /usr/bin/chromium, driven by playwright-core.
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env["TESSERA_CHROMIUM"] ?? "/usr/bin/chromium";

export function launchWebGpuChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader"],
  });
}
