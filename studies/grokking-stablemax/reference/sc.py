"""Q5 calibration: softmax-collapse fraction of the training set over a long baseline run
(no ⊥Grad) in float32 vs float64, summing exp(z - max) competitors-first (the Rust order).
Usage: python3 sc.py p hidden epochs seed"""
import sys
import numpy as np

def run(p, h, epochs, seed, dt, lr=0.01):
    rng = np.random.default_rng(seed)
    pairs = np.array([(a, b) for a in range(p) for b in range(p)])
    perm = rng.permutation(len(pairs)); ntr = round(0.4 * len(pairs)); tr = pairs[perm[:ntr]]
    W = [rng.uniform(-1, 1, (2 * p, h)) / np.sqrt(2 * p), rng.uniform(-1, 1, (h, h)) / np.sqrt(h),
         rng.uniform(-1, 1, (h, p)) / np.sqrt(h)]
    W = [w.astype(dt) for w in W]; m = [np.zeros_like(w) for w in W]; v = [np.zeros_like(w) for w in W]
    y = tr.sum(1) % p; out = {}
    for t in range(1, epochs + 1):
        a1 = np.maximum(W[0][tr[:, 0]] + W[0][p + tr[:, 1]], 0); a2 = np.maximum(a1 @ W[1], 0); z = a2 @ W[2]
        zs = z - z.max(1, keepdims=True); e = np.exp(zs)
        k = zs.argmax(1); e2 = e.copy(); e2[np.arange(ntr), k] = 0
        S = np.zeros(ntr, dtype=dt)
        for j in range(p):
            S = (S + e2[:, j]).astype(dt)
        sc = np.mean((S + dt(1)) == 1)
        P = e / (S + dt(1))[:, None]; G = P; G[np.arange(ntr), y] -= 1; G /= ntr
        g2 = a2.T @ G; d2 = (G @ W[2].T) * (a2 > 0); g1 = a1.T @ d2; d1 = (d2 @ W[1].T) * (a1 > 0)
        g0 = np.zeros_like(W[0]); np.add.at(g0, tr[:, 0], d1); np.add.at(g0, p + tr[:, 1], d1)
        g = [g0, g1, g2]
        for i in range(3):
            m[i] = 0.9 * m[i] + 0.1 * g[i]; v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i]
            W[i] = (W[i] - lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.99 ** t)) + dt(1e-25))).astype(dt)
        if t % 250 == 0:
            out[t] = sc
    return out

if __name__ == "__main__":
    p, h, ep, s = (int(x) for x in sys.argv[1:5])
    for dt in (np.float32, np.float64):
        print(dt.__name__, " ".join(f"{k}:{v:.2f}" for k, v in run(p, h, ep, s, dt).items()), flush=True)
