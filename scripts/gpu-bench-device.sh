#!/usr/bin/env bash
# Runs on a lent GPU machine (as root, from the repository root) after scripts/gpu-bench-pack.sh, with
# .gpu-carry and .gl (the Vulkan loader packages) carried: unpacks Node, node_modules, dist and the CUDA
# reference, makes TinyLlama-shaped random models (LAYERS, default all 22; 2026-11-27's figures used 8),
# then prints the kernel sweep (dist/bench/gpu-kernels.js) and, per model, our
# WebGPU backend against llama.cpp's CUDA build (dist/bench/gpu.js). Results also land in $OUT.
set -u
T0=$(date +%s)
C=.gpu-carry
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
mkdir -p /opt/n && xz -dc $C/node.xz > /opt/n/node && chmod +x /opt/n/node; export PATH=/opt/n:$PATH
tar -xJf $C/nm.tar.xz; tar -xJf $C/dist.tar.xz
mkdir -p node_modules/@node-llama-cpp && tar -xJf $C/llama-cuda.tar.xz -C node_modules/@node-llama-cpp
mkdir -p ../shared/models && cp $C/shared/models/* ../shared/models/
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
LIBS=$(find /usr/local /opt /usr/lib -name 'libcublas.so.13*' -o -name 'libcudart.so.13*' 2>/dev/null | xargs -r -n1 dirname | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH=${LIBS}${LD_LIBRARY_PATH:-}
export CUDA_CACHE_PATH=/tmp/cuda-cache CUDA_CACHE_MAXSIZE=4294967296 CUDA_MODULE_LOADING=LAZY
OUT=${OUT:-/tmp/gpu-bench-out}; mkdir -p "$OUT"
echo "== setup $(( $(date +%s) - T0 )) s; node $(node --version)"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
L=${LAYERS:-22}
for t in q8_0 q4_k; do timeout 240 node bin/tessera.js make-model --arch llama --type $t --out /tmp/tl-$t.gguf --dim 2048 --layers "$L" --heads 32 --kv-heads 4 --ffn 5632 --ctx 2048 --vocab spm --vocab-size 32000 --seed 7 > /tmp/mk-$t.log 2>&1 & done
echo "== kernels"; timeout 120 node dist/bench/gpu-kernels.js ${SWEEP_ARGS:---shapes 64x4,64x8,128x4 --subgroups on --iterations 100} 2>&1 | grep -v "artificially" | tee "$OUT/kernels.jsonl"
wait; echo "== models at $(( $(date +%s) - T0 )) s"
for t in q8_0 q4_k; do
  echo "== $t ($L layers)"
  timeout 150 node dist/bench/gpu.js --model /tmp/tl-$t.gguf --gpu cuda --decode 64 --variants "${VARIANTS:-fused,unfused}" 2>&1 | grep -v "artificially\|Warning\|trace-warnings\|DEP0137" | tee "$OUT/gpu-$t.json"
done
echo "== done at $(( $(date +%s) - T0 )) s"
