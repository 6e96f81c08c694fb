"""Cross-check of the Rust PGD against NumPy (np.fft), same forcing and iteration.

Run `cargo test --release -p barron_nonlinear_elliptic -- --ignored write_cross_check_json` first;
it writes rust_default_seed.json (the default seed's forcing, ρ_N on every grid, u* on N = 32).
Then `python3 cross_check.py`: ρ must agree to 1e-6 and u* to 1e-10.
"""
import json, os
import numpy as np
from pgd import run, rate

here = os.path.dirname(os.path.abspath(__file__))
ref = json.load(open(os.path.join(here, "rust_default_seed.json")))
modes = ref["forcing"]
worst_rho = 0.0
for n, rho_rust in zip(ref["ns"], ref["rho_pgd"]):
    c, res, st = run(n, 2, modes, ref["alpha"], ref["iters"])
    v = st
    t = [i for i in range(ref["rate_from"], ref["rate_to"] + 1) if v[i] > 1e-11 * v[0]]
    rho = np.exp(np.polyfit(t, np.log(v[t]), 1)[0])
    worst_rho = max(worst_rho, abs(rho - rho_rust))
    print(f"N={n}: rho numpy {rho:.12f} rust {rho_rust:.12f} diff {abs(rho - rho_rust):.2e}")
c, _, _ = run(32, 2, modes, ref["alpha"], ref["iters"])
u_np = np.fft.ifftn(c).real * c.size
u_rs = np.array(ref["u_star_32"]).reshape(32, 32)
du = np.abs(u_np - u_rs).max()
print(f"u* (N=32): max |numpy - rust| = {du:.2e} (max |u| = {np.abs(u_np).max():.3f})")
assert worst_rho < 1e-6, worst_rho
assert du < 1e-10, du
print("cross-check passed")
