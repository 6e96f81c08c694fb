#!/usr/bin/env bash
# GPU check for the CUDA backend (common::gpu): the `gpu::` parity tests (host twin always, CUDA
# when probed) and the gpu_check example (probe, cuBLAS GEMM TFLOP/s, HVP GPU vs CPU, device
# Lanczos). Degrades cleanly without a GPU: the CUDA tests print why they skipped and the
# example reports the CPU side only.
#
#   scripts/gpu-check.sh          build here, then run (a machine with Rust and, ideally, a GPU)
#   scripts/gpu-check.sh build    build stripped binaries into gpu-check-bin/ (to carry elsewhere)
#   scripts/gpu-check.sh run      run the binaries in gpu-check-bin/ (a GPU machine without Rust)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$root/gpu-check-bin"
mode="${1:-all}"

build() {
  local target="${CARGO_TARGET_DIR:-$root/target}"
  cargo build --release -q -p common --example gpu_check
  # The common lib's test binary holds the parity tests; cargo prints its path.
  local tests
  tests="$(cargo test --release -q -p common --lib --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)"
  [ -x "$tests" ] || { echo "could not find the common test binary" >&2; exit 1; }
  mkdir -p "$bin"
  cp "$target/release/examples/gpu_check" "$bin/gpu_check"
  cp "$tests" "$bin/common_tests"
  strip "$bin/gpu_check" "$bin/common_tests" 2>/dev/null || true
  ls -la "$bin"
}

run() {
  [ -x "$bin/gpu_check" ] || { echo "no $bin/gpu_check: run '$0 build' first" >&2; exit 2; }
  # Where CUDA installs put libcuda / libnvrtc / libcublas (cudarc loads them at run time).
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
  export REPRO_DATA_DIR="$root/data"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "(no nvidia-smi)"
  echo "== parity tests (gpu::)"
  local t0=$SECONDS
  # --nocapture shows each CUDA test's skip reason on machines without a GPU.
  local status=0
  "$bin/common_tests" gpu:: --test-threads=1 --nocapture --skip kernels_run_on_the_host >"$bin/parity.log" 2>&1 || status=1
  grep -E "^test |skipped|panicked|test result" "$bin/parity.log" | tail -60
  echo "parity tests: $((SECONDS - t0)) s, $([ $status = 0 ] && echo PASSED || echo FAILED)"
  "$bin/gpu_check" || status=1
  return $status
}

case "$mode" in
  build) build ;;
  run) run ;;
  all) build; run ;;
  *) echo "usage: $0 [build|run]" >&2; exit 2 ;;
esac
