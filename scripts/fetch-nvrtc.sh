#!/usr/bin/env bash
# Fetch NVIDIA's NVRTC 13.0 (the runtime CUDA compiler; it needs no GPU and no driver) from PyPI,
# pinned by version and sha256, and print the folder that holds libnvrtc.so.13. CI puts that
# folder on LD_LIBRARY_PATH so that `gpu::tests::nvrtc_compiles_the_kernels_for_sm90` compiles
# common/kernels/mlp.cu with the real NVRTC on a machine without a GPU. Best effort: exits
# non-zero (and the test then skips) when PyPI cannot be reached.
set -euo pipefail
dest="${REPRO_NVRTC_DIR:-/var/tmp/repro-nvrtc}"
lib="$dest/nvidia/cu13/lib"
if [ -e "$lib/libnvrtc.so.13" ]; then echo "$lib"; exit 0; fi
wheel="nvidia_cuda_nvrtc-13.0.88-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl"
sha="ad9b6d2ead2435f11cbb6868809d2adeeee302e9bb94bcf0539c7a40d80e8575"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "nvidia-cuda-nvrtc==13.0.88 --hash=sha256:$sha" > "$tmp/req.txt"
python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
  --platform manylinux_2_12_x86_64 --python-version 3.11 -r "$tmp/req.txt" -d "$tmp" >&2
[ -f "$tmp/$wheel" ] || { echo "download failed" >&2; exit 1; }
mkdir -p "$dest"
python3 -m zipfile -e "$tmp/$wheel" "$dest" >&2
echo "$lib"
