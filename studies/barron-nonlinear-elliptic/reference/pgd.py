"""NumPy reference for barron-nonlinear-elliptic: PGD / GD on the torus [0, 2π)^2.

E(u) = mean( ½|∇u|² + ½u² + α Σ_i log cosh(∂_i u) − f u ),  DE(u) = −Δu + u − α Σ ∂_i tanh(∂_i u) − f.
Coefficients c_k = fft(u)/N^d (u = Σ c_k e^{ik·x}); odd derivatives zero the Nyquist mode.
Usage: python3 pgd.py [N ...]   (prints rates; --f FILE reads f's modes from a JSON file)
"""
import json, sys
import numpy as np

def grid_k(n, d):
    k1 = np.fft.fftfreq(n, 1.0 / n)
    kd = k1.copy(); kd[n // 2] = 0.0           # first derivative: Nyquist zeroed
    ks = np.meshgrid(*([k1] * d), indexing="ij")
    kds = np.meshgrid(*([kd] * d), indexing="ij")
    return ks, kds

def make_f(n, d, modes):
    xs = np.meshgrid(*([2 * np.pi * np.arange(n) / n] * d), indexing="ij")
    f = np.zeros([n] * d)
    for m in modes:
        f += m["amp"] * np.cos(sum(ki * xi for ki, xi in zip(m["k"], xs)) + m["phase"])
    return f

def de_coeffs(c, fc, alpha, ks, kds):
    k2 = sum(k * k for k in ks)
    g = (1 + k2) * c - fc
    if alpha != 0.0:
        for kd in kds:
            du = np.fft.ifftn(1j * kd * c).real * c.size
            t = np.fft.fftn(np.tanh(du)) / c.size
            g -= alpha * 1j * kd * t
    return g

def h1(c, ks):
    k2 = sum(k * k for k in ks)
    return np.sqrt(np.sum((1 + k2) * np.abs(c) ** 2))

def run(n, d, modes, alpha, iters, eta=None, precond=True):
    ks, kds = grid_k(n, d)
    k2 = sum(k * k for k in ks)
    fc = np.fft.fftn(make_f(n, d, modes)) / n ** d
    if eta is None:
        if precond:
            eta = 2.0 / (1.0 + 1.0 + alpha)
        else:
            lmax = 1.0 + (1.0 + alpha) * d * n * n / 4.0
            eta = 2.0 / (1.0 + lmax)
    c = np.zeros_like(fc)
    res, steps = [], []
    for t in range(iters + 1):
        g = de_coeffs(c, fc, alpha, ks, kds)
        pg = g / (1 + k2)
        res.append(np.sqrt(np.sum(np.abs(g) ** 2 / (1 + k2))))   # ‖DE‖_{H^-1}
        step = pg if precond else g
        steps.append(eta * h1(step, ks))
        c = c - eta * step
    return c, np.array(res), np.array(steps)

def rate(v, t0, t1):
    t = np.arange(t0, t1 + 1)
    return np.exp(np.polyfit(t, np.log(v[t0:t1 + 1]), 1)[0])

def random_modes(rng, n_modes=6, kmax=3, amp=4.0, mean=0.0):
    cand = [(a, b) for a in range(-kmax, kmax + 1) for b in range(-kmax, kmax + 1) if 0 < a * a + b * b <= kmax * kmax]
    idx = rng.choice(len(cand), n_modes, replace=False)
    modes = [{"k": list(cand[i]), "amp": float(amp * rng.uniform(0.5, 1.5)), "phase": float(rng.uniform(0, 2 * np.pi))} for i in idx]
    if mean:
        modes.append({"k": [0, 0], "amp": mean, "phase": 0.0})
    return modes

if __name__ == "__main__":
    rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    amp = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
    mean = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    modes = random_modes(rng, amp=amp, mean=mean)
    for n in (32, 64, 128):
        c, res, st = run(n, 2, modes, 1.0, 40)
        it = int(np.argmax(res / res[0] < 1e-8))
        print(n, "rho", rate(st, 3, 25), "iters", it, "res", res[25] / res[0], "maxgrad", np.abs(np.fft.ifftn(1j * grid_k(n, 2)[1][0] * c).real * n * n).max())
