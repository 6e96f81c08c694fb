"""Independent NumPy cross-check of the Rust bounds on a tiny deterministic ReLU net.

Net: sizes [4, 6, 5, 3], W_l[i, j] = sin(1.3 (i+1) + 0.7 (j+1) + 2.1 l) * sqrt(2 / fan_in),
b_l[i] = 0.1 cos(0.9 (i+1) + l); the box is the l-inf ball of radius eps = 0.3 around 0.5 * 1.
Computes, per class c: IBP pre-activation bounds, the Clarke pattern box from them, interval
arithmetic through the backward graph, exact enumeration of the pattern-box vertices, the product of
layer norms, and a sampled lower bound (uniform points and box vertices). The Rust test
`reference_net_matches_numpy` rebuilds the same net and checks the printed numbers.
Run: OPENBLAS_NUM_THREADS=1 python3 enumerate.py
"""
import itertools
import numpy as np

SIZES = [4, 6, 5, 3]
EPS = 0.3


def net():
    ws, bs = [], []
    for l in range(len(SIZES) - 1):
        i = np.arange(1, SIZES[l + 1] + 1)[:, None]
        j = np.arange(1, SIZES[l] + 1)[None, :]
        ws.append(np.sin(1.3 * i + 0.7 * j + 2.1 * l) * np.sqrt(2.0 / SIZES[l]))
        bs.append(0.1 * np.cos(0.9 * np.arange(1, SIZES[l + 1] + 1) + l))
    return ws, bs


def ibp(ws, bs, lo, hi):
    out = []
    for l, (w, b) in enumerate(zip(ws, bs)):
        if l > 0:
            lo, hi = np.maximum(out[-1][0], 0), np.maximum(out[-1][1], 0)
        c, r = (lo + hi) / 2, (hi - lo) / 2
        zc, zr = w @ c + b, np.abs(w) @ r
        out.append((zc - zr, zc + zr))
    return out


def grad(ws, deltas, c):
    v = ws[-1].T @ c
    for l in range(len(ws) - 2, -1, -1):
        v = ws[l].T @ (deltas[l] * v)
    return v


def pattern_at(ws, bs, x):
    d, a = [], x
    for w, b in zip(ws[:-1], bs[:-1]):
        z = w @ a + b
        d.append((z > 0).astype(float))
        a = np.maximum(z, 0)
    return d


def main():
    ws, bs = net()
    x0 = 0.5 * np.ones(SIZES[0])
    lo, hi = x0 - EPS, x0 + EPS
    bounds = ibp(ws, bs, lo, hi)
    dlo = [(b[0] > 0).astype(float) for b in bounds[:-1]]
    dhi = [(b[1] >= 0).astype(float) for b in bounds[:-1]]
    unstable = [(l, j) for l in range(len(dlo)) for j in range(len(dlo[l])) if dlo[l][j] < dhi[l][j]]
    print("unstable", len(unstable))
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.uniform(lo, hi, size=(20000, 4)), np.where(rng.random((20000, 4)) < 0.5, lo, hi)])
    pats = [pattern_at(ws, bs, x) for x in xs]
    for k in range(SIZES[-1]):
        c = np.eye(SIZES[-1])[k]
        # interval arithmetic through the backward graph
        vlo = vhi = ws[-1].T @ c
        for l in range(len(ws) - 2, -1, -1):
            p = np.stack([dlo[l] * vlo, dlo[l] * vhi, dhi[l] * vlo, dhi[l] * vhi])
            ylo, yhi = p.min(0), p.max(0)
            yc, yr = (ylo + yhi) / 2, (yhi - ylo) / 2
            vc, vr = ws[l].T @ yc, np.abs(ws[l].T) @ yr
            vlo, vhi = vc - vr, vc + vr
        interval = np.maximum(np.abs(vlo), np.abs(vhi)).sum()
        best = 0.0
        for bits in itertools.product([0, 1], repeat=len(unstable)):
            d = [x.copy() for x in dlo]
            for (l, j), bit in zip(unstable, bits):
                d[l][j] = bit
            best = max(best, np.abs(grad(ws, d, c)).sum())
        naive = np.abs(ws[-1].T @ c).sum() * np.prod([np.abs(w).sum(1).max() for w in ws[:-1]])
        sampled = max(np.abs(grad(ws, p, c)).sum() for p in pats)
        at_x0 = np.abs(grad(ws, pattern_at(ws, bs, x0), c)).sum()
        print(f"class {k}: at_x0 {at_x0:.15e} sampled {sampled:.15e} enum {best:.15e} "
              f"interval {interval:.15e} naive {naive:.15e}")
        assert at_x0 <= sampled + 1e-12 and sampled <= best + 1e-12 and best <= interval + 1e-12 <= naive + 2e-12


if __name__ == "__main__":
    main()
