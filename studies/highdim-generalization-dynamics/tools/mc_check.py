"""Independent NumPy Monte Carlo of the study's k -> infinity setting (no code shared with the crate).

N = 200, x ~ N(0, I/N), teacher ~ N(0, I), label noise ~ N(0, 0.2), w0 = s0 * g, g ~ N(0, I); the
k -> infinity limit of gradient descent from w0 is the minimum-norm change w0 + pinv(X)(y - X w0),
computed with numpy's least squares. For each alpha it reports the mean pinv test error over many
data sets against the finite-N closed form, the spread of a 50-data-set mean (what one root seed of
the quick profile averages), and the mean and spread of the label-noise residual standardized by
its exact variance given the eigenvalues (2 sigma^4 sum 1/lambda^2 / N^2 at s0 = 0, P > N).

    OPENBLAS_NUM_THREADS=1 python3 tools/mc_check.py [data sets per alpha] [numpy seed]
"""
import sys

import numpy as np

N, S2, TEACHER = 200, 0.2, 1.0
ALPHAS = [0.25, 0.5, 0.8, 1.25, 2.0, 4.0]


def closed_form(p, s0):
    start = TEACHER + s0 * s0
    if p + 1 < N:
        return S2 + (1 - p / N) * start + S2 * p / (N - p - 1)
    return S2 * (1 + N / (p - N - 1))


def main():
    sets = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    for alpha in ALPHAS:
        p = int(round(alpha * N))
        for s0 in (0.0, 0.5):
            t, zres = np.empty(sets), np.empty(sets)
            for d in range(sets):
                x = rng.standard_normal((p, N)) / np.sqrt(N)
                wbar = rng.standard_normal(N) * np.sqrt(TEACHER)
                y = x @ wbar + rng.standard_normal(p) * np.sqrt(S2)
                w0 = s0 * rng.standard_normal(N)
                w = w0 + np.linalg.lstsq(x, y - x @ w0, rcond=None)[0]
                t[d] = S2 + np.sum((w - wbar) ** 2) / N
                lam = np.linalg.eigvalsh(x.T @ x)
                lam = lam[lam > 1e-9 * lam.max()]
                n_null = N - len(lam)
                v = np.concatenate([np.full(n_null, TEACHER + s0 * s0), S2 / lam])
                zres[d] = (t[d] - S2 - v.sum() / N) / np.sqrt(2 * np.sum(v * v) / N**2)
            th = closed_form(p, s0)
            blocks = t[: sets // 50 * 50].reshape(-1, 50)
            bm, bse = blocks.mean(1), blocks.std(1, ddof=1) / np.sqrt(50)
            zb = (bm - th) / bse
            print(
                f"alpha {alpha} s0 {s0}: mean {t.mean():.4f} ± {t.std(ddof=1) / np.sqrt(sets):.4f} "
                f"(closed form {th:.4f}); 50-set mean: sd {bm.std(ddof=1):.4f}, typical SE {bse.mean():.4f}, "
                f"corr(mean, SE) {np.corrcoef(bm, bse)[0, 1]:.2f}, z range [{zb.min():.2f}, {zb.max():.2f}]; "
                f"standardized noise residual {zres.mean():.3f} ± {1 / np.sqrt(sets):.3f}, sd {zres.std():.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
