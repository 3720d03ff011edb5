// Bundles the browser device's page (/join) with esbuild: src/join/page/main.ts and the engine it
// imports become one ES module in dist/browser/join.js, beside the page's HTML. The `webgpu` package
// (Dawn's Node binding) is swapped for a module that hands out the page's own navigator.gpu.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "browser");
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(root, "src/join/page/main.ts")],
  outfile: join(out, "join.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  minify: false,
  alias: { webgpu: join(root, "src/join/page/webgpu-shim.ts") },
  logLevel: "warning",
});
await copyFile(join(root, "src/join/page/join.html"), join(out, "join.html"));
