"""Independent NumPy check of the midpoint relation L(m) - (L_A + L_B)/2 = -1/8 D^T H(m) D + O(|D|^4).

A small tanh MLP (6-10-3, softmax cross-entropy, 300 Gaussian points, labels from a random teacher),
two "spawned" children (the same parent, trained by full-batch GD with different label-noise
subsets), and the curvature D^T H D by Richardson-extrapolated central second differences along D (no HVP,
no Rust). Prints the measured midpoint excess, the midpoint- and endpoint-Hessian predictions,
the ratio of their errors (expected about -5) and the log-log slope of the midpoint error on the
segments m +- tD/2 (expected 4). Run: OPENBLAS_NUM_THREADS=1 python3 midpoint_taylor.py
"""
import sys

import numpy as np

rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
n, d, h, k = 300, 6, 10, 3
X = rng.standard_normal((n, d))
T = rng.standard_normal((d, k))
y = np.argmax(np.tanh(X @ T) * 3 + 0.5 * rng.standard_normal((n, k)), axis=1)
shapes = [(h, d), (h,), (k, h), (k,)]
sizes = [int(np.prod(s)) for s in shapes]


def unpack(w):
    out, i = [], 0
    for s, z in zip(shapes, sizes):
        out.append(w[i:i + z].reshape(s))
        i += z
    return out


def loss(w, idx=slice(None)):
    W1, b1, W2, b2 = unpack(w)
    z = np.tanh(X[idx] @ W1.T + b1) @ W2.T + b2
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(z)), y[idx]]))


def grad(w, idx, eps=1e-6):
    # central differences are enough for a 103-parameter net
    g = np.zeros_like(w)
    for j in range(len(w)):
        e = np.zeros_like(w)
        e[j] = eps
        g[j] = (loss(w + e, idx) - loss(w - e, idx)) / (2 * eps)
    return g


def curv(w, D, eps=1e-2):
    # second difference along the unit direction, Richardson-extrapolated (error O(eps^4))
    u = D / np.linalg.norm(D)
    c = [(loss(w + e * u) - 2 * loss(w) + loss(w - e * u)) / e**2 for e in (eps, eps / 2)]
    return (4 * c[1] - c[0]) / 3 * (D @ D)


p = sum(sizes)
w = np.concatenate([rng.standard_normal(z) / np.sqrt(s[-1]) if len(s) == 2 else np.zeros(z)
                    for s, z in zip(shapes, sizes)])
for _ in range(100):  # parent
    w -= 0.5 * grad(w, slice(None))
children = []
for c in range(2):
    sub = np.random.default_rng(10 + c).choice(n, n // 2, replace=False)
    wc = w.copy()
    for _ in range(100):
        wc -= 0.5 * grad(wc, sub)
    children.append(wc)
A, B = children
D = B - A
m = A + D / 2
meas = loss(m) - 0.5 * (loss(A) + loss(B))
pm = -curv(m, D) / 8
pe = -(curv(A, D) + curv(B, D)) / 16
print(f"|D| = {np.linalg.norm(D):.4f}  L_A = {loss(A):.5f}  L_B = {loss(B):.5f}")
print(f"measured midpoint excess  {meas:.6e}")
print(f"-1/8 D'H(m)D              {pm:.6e}   error {meas - pm:.3e}")
print(f"-1/8 mean endpoint D'HD   {pe:.6e}   error {meas - pe:.3e}")
print(f"error ratio endpoint/midpoint {(meas - pe) / (meas - pm):.3f}  (theory -5)")
ts = np.array([0.1, 0.15, 0.22, 0.32, 0.46, 0.68, 1.0])
cm = curv(m, D)
errs = []
for t in ts:
    a = m - t * D / 2
    e = loss(m) - 0.5 * (loss(a) + loss(a + t * D)) + t * t * cm / 8
    errs.append(abs(e))
print("midpoint error vs t:", " ".join(f"{e:.3e}" for e in errs))
print(f"log-log slope {np.polyfit(np.log(ts), np.log(errs), 1)[0]:.3f}  (theory 4)")
print(f"log-log slope over t <= 0.22 {np.polyfit(np.log(ts[:3]), np.log(errs[:3]), 1)[0]:.3f}  (theory 4)")
t = 0.22
a, Dt = m - t * D / 2, t * D
mt = loss(m) - 0.5 * (loss(a) + loss(a + Dt))
r = (mt + (curv(a, Dt) + curv(a + Dt, Dt)) / 16) / (mt + curv(m, Dt) / 8)
print(f"error ratio endpoint/midpoint at t = {t}: {r:.3f}  (theory -5)")
