"""Maurey sampling of the PGD solution u* (NumPy reference): f_m = (B0/m) Σ_j cos(k_j·x + φ_j), k_j ∝ |c_k|.

E‖u* − f_m‖² = (B0 Σ_k a_k ms_k − ‖u*‖²)/m ≤ B0²/m (mean-square norms on the torus).
"""
import sys
import numpy as np
from pgd import random_modes, run

def cos_modes(c):
    n = c.shape[0]
    flat = c.ravel()
    idx = np.arange(flat.size)
    i0, i1 = np.unravel_index(idx, c.shape)
    conj = np.ravel_multi_index(((-i0) % n, (-i1) % n), c.shape)
    keep = idx <= conj
    self_conj = idx == conj
    amp = np.where(self_conj, np.abs(flat), 2 * np.abs(flat))[keep]
    ms = np.where(self_conj, 1.0, 0.5)[keep]          # grid mean square of cos(k·x + φ)
    return amp, ms

def stats(c, ms_list, reps, rng):
    amp, ms = cos_modes(c)
    b0 = amp.sum(); p = amp / b0
    u2 = np.sum(np.abs(c) ** 2)
    v = b0 * np.sum(amp * ms) - u2
    out = []
    for m in ms_list:
        e = np.empty(reps)
        for r in range(reps):
            cnt = rng.multinomial(m, p)
            e[r] = np.sum(ms * (amp - b0 * cnt / m) ** 2)
        out.append((m, e.mean(), e.std(ddof=1) / np.sqrt(reps), v / m, b0 * b0 / m))
    return b0, u2, v, np.array(out)

if __name__ == "__main__":
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    ms_list = [4 * 2 ** i for i in range(9)]
    for s in range(seeds):
        rng = np.random.default_rng(1000 + s)
        modes = random_modes(rng, amp=4.0)
        c, _, _ = run(64, 2, modes, 1.0, 40)
        b0, u2, v, o = stats(c, ms_list, 50, rng)
        z = np.abs(o[:, 1] - o[:, 3]) / o[:, 2]
        sl = np.polyfit(np.log(o[:, 0]), 0.5 * np.log(o[:, 1]), 1)[0]
        print(f"seed {s}: B0 {b0:.3f} |u|^2 {u2:.3f} V/B0^2 {v / b0 ** 2:.3f} max m*err2/B0^2 {np.max(o[:, 1] * o[:, 0]) / b0 ** 2:.3f} zmax {z.max():.2f} slope {sl:.4f}")
