"""NumPy cross-check of the opposing-signals toy (manual backprop, finite-difference HVP).

Binary y = ±1, x in R^(d+1): d dims ~ N(y u, I) with ||u|| = ||u||, plus an outlier coordinate
x_o = A on a random fraction of each class (group A in y=+1, group B in y=-1), 0 elsewhere.
MLP d+1 -> h -> h -> 1, tanh, LeCun init (as common's Mlp for tanh), biases zero-initialised,
MSE 0.5*mean (f - y)^2, full-batch GD at step eta. Sharpness: power iteration on the central
finite-difference HVP, warm-started, every `every` steps.

usage: python3 toy.py [A] [seed] [n] [h] [steps] [eta] [every]
"""
import sys
import numpy as np

A = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
n = int(sys.argv[3]) if len(sys.argv) > 3 else 400
h = int(sys.argv[4]) if len(sys.argv) > 4 else 32
steps = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
eta = float(sys.argv[6]) if len(sys.argv) > 6 else 0.2
every = int(sys.argv[7]) if len(sys.argv) > 7 else 25
d, frac, unorm = 20, 0.05, 0.5

rng = np.random.default_rng(seed)
y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
u = rng.standard_normal(d)
u *= unorm / np.linalg.norm(u)
X = np.zeros((n, d + 1))
X[:, :d] = y[:, None] * u + rng.standard_normal((n, d))
pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y < 0)
k = int(round(frac * len(pos)))
ga = rng.choice(pos, k, replace=False)
gb = rng.choice(neg, k, replace=False)
X[ga, d] = A
X[gb, d] = A
rest = np.setdiff1d(np.arange(n), np.concatenate([ga, gb]))
sizes = [d + 1, h, h, 1]
shapes = [(sizes[i + 1], sizes[i]) for i in range(3)]


def unpack(w):
    out, o = [], 0
    for (a, b) in shapes:
        W = w[o:o + a * b].reshape(a, b); o += a * b
        bb = w[o:o + a]; o += a
        out.append((W, bb))
    return out


def init():
    parts = []
    for (a, b) in shapes:
        parts += [rng.standard_normal(a * b) / np.sqrt(b), np.zeros(a)]
    return np.concatenate(parts)


def forward(w):
    (W1, b1), (W2, b2), (W3, b3) = unpack(w)
    a1 = np.tanh(X @ W1.T + b1)
    a2 = np.tanh(a1 @ W2.T + b2)
    f = (a2 @ W3.T + b3)[:, 0]
    return a1, a2, f


def per_sample(w):
    return 0.5 * (forward(w)[2] - y) ** 2


def grad(w):
    (W1, b1), (W2, b2), (W3, b3) = unpack(w)
    a1, a2, f = forward(w)
    g = ((f - y) / n)[:, None]
    gW3, gb3 = g.T @ a2, g.sum(0)
    d2 = (g @ W3) * (1 - a2 ** 2)
    gW2, gb2 = d2.T @ a1, d2.sum(0)
    d1 = (d2 @ W2) * (1 - a1 ** 2)
    gW1, gb1 = d1.T @ X, d1.sum(0)
    return np.concatenate([gW1.ravel(), gb1, gW2.ravel(), gb2, gW3.ravel(), gb3])


def hvp(w, v, eps=1e-5):
    return (grad(w + eps * v) - grad(w - eps * v)) / (2 * eps)


w = init()
v = rng.standard_normal(w.size); v /= np.linalg.norm(v)
sharp, LA, LB, LR, dtop = [], [], [], [], []
prev = per_sample(w)
for t in range(steps + 1):
    if t % every == 0:
        for _ in range(10):
            hv = hvp(w, v)
            lam = v @ hv
            v = hv / np.linalg.norm(hv)
        sharp.append((t, lam))
    ls = per_sample(w)
    LA.append(ls[ga].mean()); LB.append(ls[gb].mean()); LR.append(ls[rest].mean())
    if t > 0 and t % every == 0 and t > steps // 2:
        top = np.argsort(-np.abs(ls - prev))[:20]
        dtop.append(np.isin(top, np.concatenate([ga, gb])).mean())
    prev = ls
    if t < steps:
        w = w - eta * grad(w)
s2 = np.array([s for (t, s) in sharp if t >= steps // 2])
h2 = steps // 2
dA, dB = np.diff(LA[h2:]), np.diff(LB[h2:])
corr = np.corrcoef(dA, dB)[0, 1]
print(f"A={A} seed={seed} n={n} h={h} steps={steps}: median sharpness/(2/eta) = {np.median(s2) * eta / 2:.4f}; "
      f"corr(dL_A, dL_B) = {corr:+.3f}; top-20 precision = {np.mean(dtop):.3f}; "
      f"final L = {0.5*np.mean((forward(w)[2]-y)**2):.4g} L_A={LA[-1]:.3g} L_B={LB[-1]:.3g}")
