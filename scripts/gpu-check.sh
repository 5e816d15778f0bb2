#!/usr/bin/env bash
# One short run on a GPU host: what the GPU backends do here, their parity tests, and the engine bench.
#   bash scripts/gpu-check.sh [--quick]      (results also in $OUT/ when set, e.g. on a lent device machine)
# Needs the project's dependencies (`npm ci`, or node_modules carried over) and a GPU driver: NVIDIA's for
# tensorflow-gpu (tfjs-node-gpu, CUDA) and its Vulkan ICD for webgpu (Dawn). Each part has its own time limit so a
# hung driver costs minutes, not the whole lease.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$(mktemp -d)}
quick=${1:-}
log() { echo "== $*"; }

log "host"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi";
  node --version; uptime; } | tee "$out/host.txt"

[ -d node_modules ] || { log "npm ci"; timeout 300 npm ci --no-audit --no-fund >/dev/null || echo "npm ci failed"; }

log "backends that load"
timeout 120 node --import ./scripts/register-ts.mjs --input-type=module -e '
  const { initBackend, formatBackendInfo } = await import("./src/learner/backend.ts");
  for (const name of ["tensorflow-gpu", "webgpu", "wasm"]) {
    try { console.log(formatBackendInfo(await initBackend(name))); }
    catch (e) { console.log(`${name}: ${e.message.split("\n")[0]}`); }
  }' 2>&1 | grep -v artificially | tee "$out/backends.txt"

log "parity tests (webgpu vs cpu, BLAS kernels vs stock)"
timeout 300 npx vitest run src/learner/webgpu.test.ts src/learner/kernels 2>&1 | grep -v artificially |
  tail -n 30 | tee "$out/parity.txt"

log "engine bench"
timeout 420 npm run -s bench:engine -- ${quick:+--quick} --json --backends=tensorflow-gpu,webgpu,wasm --configs=S,M \
  2>"$out/bench.stderr" | tee "$out/bench.jsonl"
log "results in $out"
