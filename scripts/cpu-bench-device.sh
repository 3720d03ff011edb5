#!/usr/bin/env bash
# Runs on a lent machine (as root, from the repository root) after scripts/cpu-bench-pack.sh, with
# .cpu-carry carried: unpacks Node, node_modules, dist and llama.cpp's CPU build, prints what the CPU
# is, makes TinyLlama-shaped random models with bench:engine's parameters on all cores (its own
# generator uses one), then runs bench:engine at THREADS (default 1,2,4) on TYPES (default "q8_0 q4_k").
# Results land in $OUT.
set -u
T0=$(date +%s)
C=.cpu-carry
mkdir -p /opt/n && xz -dc $C/node.xz > /opt/n/node && chmod +x /opt/n/node; export PATH=/opt/n:$PATH
tar -xJf $C/nm.tar.xz; tar -xJf $C/dist.tar.xz
mkdir -p node_modules/@node-llama-cpp && tar -xJf $C/llama-cpu.tar.xz -C node_modules/@node-llama-cpp
OUT=${OUT:-/tmp/cpu-bench-out}; mkdir -p "$OUT"
echo "== setup $(( $(date +%s) - T0 )) s; node $(node --version)"
lscpu > "$OUT/lscpu.txt"; grep -E "Model name|^CPU\(s\)|Thread|Core|Socket|L2|L3|MHz" "$OUT/lscpu.txt"
echo "flags: $(grep -m1 -o -w 'avx2\|avx512f\|avx512_vnni\|avx_vnni\|amx_int8' /proc/cpuinfo | sort -u | tr '\n' ' ')"
mkdir -p bench-out
for t in ${TYPES:-q8_0 q4_k}; do timeout 300 node bin/tessera.js make-model --arch llama --type $t --out bench-out/tinyllama-$t.gguf --dim 2048 --layers 22 --heads 32 --kv-heads 4 --ffn 5632 --ctx 2048 --vocab spm --vocab-size 32000 --seed 7 > /tmp/mk-$t.log 2>&1 & done
wait; echo "== models at $(( $(date +%s) - T0 )) s"; ls -la bench-out
timeout ${BENCH_TIMEOUT:-420} node dist/bench/engine.js --shape tinyllama --types "$(echo ${TYPES:-q8_0 q4_k} | tr ' ' ',')" --threads "${THREADS:-1,2,4}" --prompt 64 --decode 16 2>/dev/null | tee "$OUT/engine.json"
echo "== done at $(( $(date +%s) - T0 )) s"
