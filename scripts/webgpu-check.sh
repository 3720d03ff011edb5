#!/usr/bin/env bash
# WebGPU check for a machine with a real GPU (or llvmpipe): builds nothing, expects dist/ to exist.
# Prints the adapters, runs the WebGPU tests, then a short speed print: matvec GB/s (Q8_0, F16) and
# decode tok/s of a TinyLlama-shaped Q8_0 random model (dim 2048, 32 heads / 4 KV heads, FFN 5632,
# vocab 32000, tied output; 2 of TinyLlama's 22 layers, since generating the weights is single-threaded
# JS; WEBGPU_CHECK_LAYERS=N for more) on WebGPU and on the CPU backend, with the weight bytes per second
# that rate implies. Takes about 3 minutes; under 4 on a many-core host.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -f dist/engine/backends/webgpu/index.js ] || { echo "dist/ is missing: run npx tsc -p tsconfig.json first" >&2; exit 1; }
status=0
quiet() { grep -v "artificially reduced" || true; }

echo "== adapters"
node --input-type=module -e '
import { describeAdapters, adapterLine } from "./dist/engine/backends/webgpu/index.js";
const all = await describeAdapters();
if (all.length === 0) { console.log("no WebGPU adapter found"); process.exit(1); }
for (const a of all) console.log(adapterLine(a));
' 2>&1 | quiet || status=1

echo "== WebGPU tests"
timeout 120 node scripts/run-tests.js dist/engine/backends/webgpu/ 2>&1 | quiet | grep -E "^(not )?ok|^# (tests|pass|fail|duration)|error:|expected|actual" 
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== matvec rate (weight bytes streamed per second, 5632 x 2048)"
timeout 60 node --input-type=module -e '
import { measureMatvecRate } from "./dist/engine/backends/webgpu/benchmark.js";
for (const type of [8, 1]) {
  const r = await measureMatvecRate({ type, iterations: 50 });
  console.log(`${r.type}: ${(r.bytesPerSecond / 1e9).toFixed(2)} GB/s (${r.iterations} x ${r.weightBytes} bytes in ${r.seconds.toFixed(3)} s) on ${r.adapter}`);
}
' 2>&1 | quiet || status=1

echo "== decode speed, TinyLlama-shaped Q8_0 (${WEBGPU_CHECK_LAYERS:-2} layers)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if timeout 120 node bin/tessera.js make-model --arch llama --type q8_0 --out "$tmp/tinyllama-q8_0.gguf" --dim 2048 --layers "${WEBGPU_CHECK_LAYERS:-2}" \
    --heads 32 --kv-heads 4 --ffn 5632 --ctx 2048 --vocab spm --vocab-size 32000 --tied --seed 1 >/dev/null; then
  bytes=$(stat -c %s "$tmp/tinyllama-q8_0.gguf")
  for backend in webgpu cpu; do
    timeout 60 node bin/tessera.js generate --backend "$backend" --model "$tmp/tinyllama-q8_0.gguf" --prompt "Once upon a time" \
      --max-tokens 64 --temperature 0 --json 2>&1 | quiet | node -e '
let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const line = s.split("\n").find((l) => l.startsWith("{"));
  if (!line) { console.log(process.argv[1] + ": failed: " + s.trim().slice(-400)); process.exitCode = 1; return; }
  const j = JSON.parse(line);
  const gbs = (Number(process.argv[2]) * j.timings.decode_tok_s) / 1e9;
  console.log(`${process.argv[1]}: decode ${j.timings.decode_tok_s.toFixed(1)} tok/s (~${gbs.toFixed(2)} GB/s of weights), ` +
    `prefill ${j.timings.prefill_tok_s.toFixed(1)} tok/s (${j.tokens.length} tokens${j.threads ? ", " + j.threads + " threads" : ""})`);
});' "$backend" "$bytes" || status=1
  done
else
  echo "make-model failed or timed out"; status=1
fi
echo "== done (status $status)"
exit $status
