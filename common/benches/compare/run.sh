#!/usr/bin/env bash
# Time the JAX (CPU, jit, float64) twin of `cargo bench --bench hvp -p common`.
# Creates a virtual environment in ./.venv on first use (pip install "jax[cpu]" numpy), then
# prints one line per activation: ms per gradient, ms per HVP, and check values to compare with
# the Rust summary line (run the Rust side with: cargo bench --bench hvp -p common).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${JAX_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "jax[cpu]" numpy
fi
exec "$venv/bin/python" "$here/hvp_jax.py" "$@"
