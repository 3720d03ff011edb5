#!/usr/bin/env bash
# Packs what a lent GPU machine needs for the WebGPU benchmarks into .gpu-carry/ (git ignores it), under
# the 64 MiB a device call carries: this Node (stripped), the runtime node_modules, dist/, stories260K and
# node-llama-cpp's CUDA build made loadable on Hopper (scripts/cuda-reference-sm90.mjs; needs zstd).
# Then, on the machine: bash .gpu-carry/run.sh (scripts/gpu-bench-device.sh). See docs/webgpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-carry
grep -qx "/$out/" .git/info/exclude 2>/dev/null || echo "/$out/" >> .git/info/exclude
rm -rf "$out" && mkdir -p "$out/shared/models" "$out/tmp"
npx tsc -p tsconfig.json
tar -cJf "$out/dist.tar.xz" dist
cp "$(command -v node)" "$out/tmp/node" && strip "$out/tmp/node" && xz -T0 -9 -c "$out/tmp/node" > "$out/node.xz"
tar -cf - --exclude='node_modules/@node-llama-cpp' --exclude='node_modules/webgpu/dist/darwin-*' \
  --exclude='node_modules/webgpu/dist/win32-*' --exclude='node_modules/webgpu/dist/linux-arm64' \
  --exclude=node_modules/typescript --exclude=node_modules/binaryen --exclude=node_modules/assemblyscript \
  --exclude='node_modules/eslint*' --exclude='node_modules/@typescript-eslint' --exclude='node_modules/@esbuild' \
  --exclude=node_modules/esbuild --exclude=node_modules/openai --exclude=node_modules/@types \
  --exclude=node_modules/playwright-core --exclude='node_modules/node-llama-cpp/llama/gitRelease.bundle' \
  --exclude='node_modules/node-llama-cpp/llama/llama.cpp' node_modules | xz -T0 -6 > "$out/nm.tar.xz"
cuda=node_modules/@node-llama-cpp/linux-x64-cuda
mkdir -p "$out/tmp/linux-x64-cuda" && cp -r "$cuda"/. "$out/tmp/linux-x64-cuda/"
bins="$out/tmp/linux-x64-cuda/bins/linux-x64-cuda"
# The GPU runs the model; one generic and a few recent CPU variants of ggml are enough.
for v in alderlake cannonlake cascadelake cooperlake ivybridge piledriver sandybridge sse42 skylakex; do rm -f "$bins/libggml-cpu-$v.so"; done
node scripts/cuda-reference-sm90.mjs "$cuda/bins/linux-x64-cuda/libggml-cuda.so" "$bins/libggml-cuda.so"
tar -C "$out/tmp" -cf - linux-x64-cuda | xz -T0 -6 > "$out/llama-cuda.tar.xz"
cp ../shared/models/stories260K.gguf ../shared/models/SOURCE.md "$out/shared/models/"
cp scripts/gpu-bench-device.sh "$out/run.sh"
rm -rf "$out/tmp"
du -sh "$out"
