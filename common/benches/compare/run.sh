#!/usr/bin/env bash
# Side by side: the Rust HVP benchmark (`cargo bench --bench hvp -p common -- --summary`) and its
# JAX twin (CPU, jit, float64; hvp_jax.py), alternated for ROUNDS rounds (default 3) so that
# background load falls on both alike. Prints every round's lines, then per activation the best
# (min) ms per gradient and per HVP of each side over all rounds and the ratio JAX/Rust (> 1: Rust
# is faster), and checks that both sides computed the same loss, |grad| and v.Hv.
# Creates a virtual environment in ./.venv on first use (pip install "jax[cpu]" numpy);
# JAX_VENV overrides its place. `run.sh --jax-only` runs the JAX side once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="${JAX_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "jax[cpu]" numpy
fi
if [ "${1:-}" = "--jax-only" ]; then
  exec "$venv/bin/python" "$here/hvp_jax.py"
fi
rounds="${1:-3}"
cd "$root"
cargo bench -q --bench hvp -p common --no-run
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for i in $(seq "$rounds"); do
  cargo bench -q --bench hvp -p common -- --summary | grep '^rust mlp' | tee -a "$log"
  "$venv/bin/python" "$here/hvp_jax.py" 2>/dev/null | grep '^jax  mlp' | tee -a "$log"
done
"$venv/bin/python" - "$log" <<'PY'
import re, sys
best, checks = {}, {}
for line in open(sys.argv[1]):
    side, act = line.split()[0], line.split()[3]
    m = re.search(r"min grad ([0-9.]+) ms, hvp ([0-9.]+) ms", line)
    g, h = float(m.group(1)), float(m.group(2))
    b = best.setdefault((side, act), [g, h])
    b[0], b[1] = min(b[0], g), min(b[1], h)
    c = re.search(r"loss (\S+) \|grad\| (\S+) v\.Hv (\S+)", line)
    checks.setdefault(act, {})[side] = [float(v) for v in c.groups()]
print(f"\nbest of all rounds (ms), 2 sides alternated:")
print(f"{'act':6} {'rust grad':>10} {'jax grad':>10} {'jax/rust':>9} {'rust hvp':>10} {'jax hvp':>10} {'jax/rust':>9}  same numbers")
ok = True
for act in ["tanh", "relu"]:
    (rg, rh), (jg, jh) = best[("rust", act)], best[("jax", act)]
    r, j = checks[act]["rust"], checks[act]["jax"]
    same = all(abs(a - b) <= 1e-9 * max(abs(a), abs(b)) for a, b in zip(r, j))
    ok &= same
    print(f"{act:6} {rg:10.2f} {jg:10.2f} {jg / rg:9.2f} {rh:10.2f} {jh:10.2f} {jh / rh:9.2f}  {'yes' if same else 'NO'}")
sys.exit(0 if ok else 1)
PY
