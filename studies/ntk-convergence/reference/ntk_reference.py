"""Independent NumPy cross-check of the Rust study (not run by CI).

Closed-form limiting NTK (Jacot et al. 2018, Thm 1, ReLU arc-cosine recursion) and the empirical NTK
of random networks in NTK parametrisation, on distinct points of the unit circle. Prints
Theta_inf(x0, x(gamma)) at a few angles and the relative Frobenius deviation at initialisation per
width (mean over seeds). NumPy's RNG differs from the Rust one, so only the statistics compare.

    pip install numpy && OPENBLAS_NUM_THREADS=1 python3 ntk_reference.py
"""
import numpy as np

L, BETA, M = 4, 0.1, 60


def relu_dual(q1, q2, c):
    s = np.sqrt(q1 * q2)
    th = np.arccos(np.clip(c / s, -1, 1))
    return s * (np.sin(th) + (np.pi - th) * np.cos(th)) / (2 * np.pi), (np.pi - th) / (2 * np.pi)


def ntk_limit(x):
    sig = x @ x.T / x.shape[1] + BETA**2
    theta = sig.copy()
    for _ in range(L - 1):
        d = np.diag(sig)
        e, ed = relu_dual(d[:, None], d[None, :], sig)
        sig = e + BETA**2
        theta = theta * ed + sig
    return theta


def ntk_empirical(width, x, rng):
    dims = [x.shape[1]] + [width] * (L - 1) + [1]
    params = [(rng.standard_normal((dims[k + 1], dims[k])), rng.standard_normal(dims[k + 1])) for k in range(L)]
    a, z = [x], []
    for k, (w, b) in enumerate(params):
        z.append(a[-1] @ w.T / np.sqrt(dims[k]) + BETA * b)
        if k < L - 1:
            a.append(np.maximum(z[-1], 0))
    g = [np.ones((x.shape[0], 1))]
    for k in range(L - 1, 0, -1):
        g.insert(0, (g[0] @ params[k][0] / np.sqrt(dims[k])) * (z[k - 1] > 0))
    return sum((g[k] @ g[k].T) * (a[k] @ a[k].T / dims[k] + BETA**2) for k in range(L))


gam = np.pi * (2 * (np.arange(M) + 1) - M) / M
xc = np.stack([np.cos(gam), np.sin(gam)], 1)
t_inf = ntk_limit(xc)
i0 = int(np.argmin(np.abs(gam)))
for j in [i0, i0 + M // 6, i0 + M // 3, i0 + M // 2 - 1]:
    print(f"Theta_inf(x0, x({gam[j]:+.4f})) = {t_inf[i0, j]:.10f}")
ev = np.linalg.eigvalsh(t_inf)
print(f"lambda_min/lambda_max on {M} points: {ev[0] / ev[-1]:.4e}")
devs = []
for width, seeds in [(64, 16), (256, 16), (1024, 8), (4096, 8)]:
    rng = np.random.default_rng(width)
    d = [np.linalg.norm(ntk_empirical(width, xc, rng) - t_inf) / np.linalg.norm(t_inf) for _ in range(seeds)]
    devs.append(np.mean(d))
    print(f"width {width:5d}: mean relative deviation {devs[-1]:.4f} (sd {np.std(d, ddof=1):.4f}, {seeds} seeds)")
slope = np.polyfit(np.log([64, 256, 1024, 4096]), np.log(devs), 1)[0]
print(f"log-log slope {slope:.3f}")
