"""Independent NumPy cross-check of the full-batch target-surrogate MM (Lavington et al. 2023).

Softmax regression, linear model with a constant feature, eta = 2 (= 1/L_z), inner steps of
length eta/lambda_max(X^T X/n). Prints, per problem, the outer steps each m needs to reach GD's
loss after T = 300 steps, and the majorization violations over the first 10 outer steps.
Problems: the shipped sklearn digits (/16; deterministic, so the counts must equal the study's
`amortization` table exactly) and a fresh Gaussian mixture (n=2000, d=64, k=10, separation 3;
the study's mixture comes from its own RNG, so only the range can be compared).
Usage: OPENBLAS_NUM_THREADS=1 python3 sso.py [path/to/digits.csv.gz]
"""
import gzip, sys
import numpy as np

def lossgrad(F, y):
    F = F - F.max(1, keepdims=True); P = np.exp(F); P /= P.sum(1, keepdims=True)
    n = len(y); l = -np.log(P[np.arange(n), y]).mean(); P[np.arange(n), y] -= 1
    return l, P  # per-sample gradients, not / n

def run(X, y, m, T=300, eta=2.0, check=10):
    n, p = X.shape; k = y.max() + 1; S = X.T @ X / n; lam = np.linalg.eigvalsh(S).max()
    W = np.zeros((p, k)); losses, viol = [], 0
    for t in range(T + 1):
        Z = X @ W; l, G = lossgrad(Z, y); losses.append(l)
        if t == T: break
        C = X.T @ G / n; Wt = W.copy()
        for j in range(m):
            W = W - (eta / lam) * (C + S @ (W - Wt) / eta)
            if t < check:
                D = X @ W - Z; g = l + (G * D).sum() / n + (D * D).sum() / (2 * eta * n)
                viol += lossgrad(X @ W, y)[0] > g + 1e-12 * max(1, abs(g))
    return np.array(losses), viol

def report(name, X, y):
    X = np.hstack([X, np.ones((len(X), 1))])
    gd, _ = run(X, y, 1)
    out = []
    for m in (1, 5, 10, 100):
        ls, v = run(X, y, m)
        out.append(f"m={m}: {int(np.argmax(ls <= gd[-1])) if (ls <= gd[-1]).any() else 'never'} (violations {v})")
    print(name, "; ".join(out))

path = sys.argv[1] if len(sys.argv) > 1 else "../../../data/digits.csv.gz"
D = np.loadtxt(gzip.open(path, "rt"), delimiter=",", skiprows=1)
report("digits", D[:, :-1] / 16.0, D[:, -1].astype(int))
rng = np.random.default_rng(0)
Q, _ = np.linalg.qr(rng.standard_normal((64, 64)))
y = rng.permutation(2000) % 10
report("mixture", rng.standard_normal((2000, 64)) + Q[:10][y] * 3 / np.sqrt(2), y)
