"""Quartic variant L = ½|p|² + (α/4)Σ p_i⁴ (+ ½u² − fu): PGD iterates' bandwidth grows ×3 per step."""
import sys
import numpy as np
from pgd import grid_k, make_f, random_modes

def bandwidths(n, modes, alpha, steps, tol=1e-11):
    ks, kds = grid_k(n, 2)
    k2 = ks[0] ** 2 + ks[1] ** 2
    fc = np.fft.fftn(make_f(n, 2, modes)) / n ** 2
    eta = 2.0 / (2.0 + alpha)
    c = np.zeros_like(fc)
    ii = np.abs(np.stack(np.meshgrid(np.fft.fftfreq(n, 1 / n), np.fft.fftfreq(n, 1 / n), indexing="ij"))).max(axis=0)
    out = []
    for t in range(steps):
        g = (1 + k2) * c - fc
        for kd in kds:
            du = np.fft.ifftn(1j * kd * c).real * n * n
            g -= alpha * 1j * kd * np.fft.fftn(du ** 3) / n ** 2
        c = c - eta * g / (1 + k2)
        a = np.abs(c)
        out.append(int(ii[a > tol * a.max()].max()))
    return out

if __name__ == "__main__":
    for s in range(5):
        rng = np.random.default_rng(s)
        modes = random_modes(rng, amp=float(sys.argv[1]) if len(sys.argv) > 1 else 4.0)
        print(max(max(abs(x) for x in m["k"]) for m in modes), bandwidths(256, modes, 1.0, 4))
