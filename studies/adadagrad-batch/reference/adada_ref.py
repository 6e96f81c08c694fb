"""NumPy re-derivation of the AdAdaGrad batch-size tests on a fixed case (no randomness).

The formulas follow the official code (timlautk/AdAdaGrad, tests.py): per-coordinate sample
variances with correction 1 (torch.var(correction=1) == np.var(ddof=1)), the new batch
max(b, ceil(r)) capped at the maximum. The Rust unit test `reference_case_matches_numpy`
rebuilds the same case and asserts the numbers printed here.

    python3 studies/adadagrad-batch/reference/adada_ref.py
"""
import math

import numpy as np

N, D, K = 64, 5, 2  # samples, features, classes (binary logistic regression as a 2-class softmax)


def case():
    i = np.arange(N)[:, None]
    j = np.arange(D)[None, :]
    x = np.sin(1.3 * i + 0.7 * j) + 0.1 * j
    y = ((np.arange(N) * 7) % 3 == 0).astype(int)
    # Parameters in the Rust Mlp layout: W (K x D, row-major), then the bias (K).
    w = 0.1 * np.cos(np.arange(K * D + K))
    return x, y, w


def per_sample_grads(w, x, y):
    W = w[: K * D].reshape(K, D)
    b = w[K * D:]
    z = x @ W.T + b
    z -= z.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0  # dl/dz for the mean cross-entropy's per-sample loss
    gw = np.einsum("ik,ij->ikj", p, x).reshape(len(y), -1)
    return np.hstack([gw, p])


def proposals(g):
    """The raw proposals r of the four tests (tests.py semantics; coord: AdAdaGrad's)."""
    m = g.mean(0)
    var = g.var(0, ddof=1)
    g2 = m @ m
    ip = g @ m
    var_ip = ip.var(ddof=1)
    orth = g - np.outer(ip, m) / g2
    var_orth = orth.var(0, ddof=1).sum()
    return {
        "norm 0.5": var.sum() / (0.5**2 * g2),
        "ip 0.5": var_ip / (0.5**2 * g2**2),
        "ip+orth 0.5": max(var_ip / (0.5**2 * g2**2), var_orth / (0.5**2 * g2)),
        "coord 1": max(v / m_ ** 2 for v, m_ in zip(var, m) if v > 0),
    }


def trace(steps=25, lr=1.0, b0=0.1, eta=0.5, start=2, cap=N):
    """AdaGrad-Norm with the norm test; the batch at step k is the first b_k samples."""
    x, y, w = case()
    acc = b0 * b0
    b = start
    out = []
    for _ in range(steps):
        g = per_sample_grads(w, x[:b], y[:b])
        m = g.mean(0)
        out.append(b)
        acc += m @ m
        w = w - lr * m / math.sqrt(acc)
        if b < cap:
            r = g.var(0, ddof=1).sum() / (eta**2 * (m @ m))
            b = cap if not np.isfinite(r) or r >= cap else max(b, math.ceil(r))
    return out, w


if __name__ == "__main__":
    x, y, w = case()
    g = per_sample_grads(w, x, y)
    for k, v in proposals(g).items():
        print(f"{k:12s} r = {v:.15e}   next batch from b = 2, cap 64: {min(64, max(2, math.ceil(v)))}")
    out, wf = trace()
    print("batch trace:", out)
    print("final ||w||^2 = %.15e" % (wf @ wf))
