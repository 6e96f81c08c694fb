"""Independent NumPy cross-check of the convex-relu-admm study (no cvxpy needed; uses it if present).

The data are the study's deterministic two spirals (jitter 0), so every number here is comparable
to the Rust unit test `reference_values_match_numpy`:
  * the exact pattern count (vertex enumeration of the central arrangement in R^3),
  * p* of the squared-loss convex program by a plain NumPy ADMM (dense Cholesky, Boyd sec. 3.3),
  * p* again by cvxpy/Clarabel when installed (objective within 1e-4 relative),
  * the objective of the network rebuilt from the convex solution.
Run: OPENBLAS_NUM_THREADS=1 python3 admm_reference.py [n=12] [beta=1e-2] [rho=0.1]
"""
import itertools
import sys
import numpy as np


def spirals(n, jitter=0.0, rng=None):
    """Two interleaved spirals, n points (n/2 per arm), labels +-1, with a bias column."""
    k = n // 2
    t = np.linspace(0.25, 1.0, k) * 3.0 * np.pi  # angle along an arm
    r = t / (3.0 * np.pi)
    a = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    pts = np.concatenate([a, -a], 0)
    if jitter > 0:
        pts = pts + jitter * rng.standard_normal(pts.shape)
    y = np.concatenate([np.ones(k), -np.ones(k)])
    X = np.concatenate([pts, np.ones((n, 1))], 1)
    return X, y


def enumerate_patterns(X):
    """Every sign pattern 1[Xh >= 0] of the central arrangement {x_i^T h = 0} in R^3: each region is a
    pointed cone whose extreme rays are the intersections h = +-(x_i x x_j); around each ray the
    patterns of i and j are free and the others are fixed."""
    n = X.shape[0]
    pats = set()
    for i, j in itertools.combinations(range(n), 2):
        h = np.cross(X[i], X[j])
        for s in (1.0, -1.0):
            base = (s * (X @ h) >= 0).astype(np.int8)
            for bi in (0, 1):
                for bj in (0, 1):
                    p = base.copy()
                    p[i], p[j] = bi, bj
                    pats.add(p.tobytes())
    return np.array([np.frombuffer(p, dtype=np.int8) for p in sorted(pats)], dtype=float)


def admm(X, y, D, beta, rho=1.0, tol=1e-8, max_iter=20000):
    n, d = X.shape
    P = D.shape[0]
    F = np.concatenate([np.concatenate([D[i][:, None] * X for i in range(P)], 1)] * 1, 1)
    F = np.concatenate([F, -F], 1)  # n x 2dP
    G = np.zeros((2 * n * P, 2 * d * P))
    for b in range(2 * P):
        i = b % P
        G[b * n:(b + 1) * n, b * d:(b + 1) * d] = (2 * D[i] - 1)[:, None] * X
    N, M = 2 * d * P, 2 * n * P
    K = F.T @ F + rho * (np.eye(N) + G.T @ G)
    L = np.linalg.cholesky(K)
    A = lambda x: np.concatenate([x, G @ x])
    At = lambda z: z[:N] + G.T @ z[N:]
    z = np.zeros(N + M)
    u = np.zeros(N + M)
    hist = []
    for k in range(max_iter):
        rhs = F.T @ y + rho * At(z - u)
        x = np.linalg.solve(L.T, np.linalg.solve(L, rhs))
        ax = A(x)
        zo = z
        v = ax + u
        z = v.copy()
        blocks = z[:N].reshape(2 * P, d)
        nb = np.linalg.norm(blocks, axis=1, keepdims=True)
        z[:N] = (np.maximum(0, 1 - (beta / rho) / np.maximum(nb, 1e-300)) * blocks).ravel()
        z[N:] = np.maximum(z[N:], 0)
        u = u + ax - z
        r = np.linalg.norm(ax - z)
        s = np.linalg.norm(rho * At(z - zo))
        ep = np.sqrt(N + M) * tol + tol * max(np.linalg.norm(ax), np.linalg.norm(z))
        ed = np.sqrt(N) * tol + tol * np.linalg.norm(rho * At(u))
        hist.append((r, s, np.mean(np.sign(F @ x) == y)))
        if r <= ep and s <= ed:
            break
    xs = z[:N]
    obj = 0.5 * np.sum((F @ xs - y) ** 2) + beta * np.linalg.norm(xs.reshape(2 * P, d), axis=1).sum()
    return xs, obj, np.array(hist)


def rebuild(xs, X, y, beta, P, d):
    blocks = xs.reshape(2 * P, d)
    out = np.zeros(X.shape[0])
    reg = 0.0
    for b in range(2 * P):
        nv = np.linalg.norm(blocks[b])
        if nv == 0:
            continue
        u = blocks[b] / np.sqrt(nv)
        al = np.sqrt(nv) * (1 if b < P else -1)
        out += np.maximum(X @ u, 0) * al
        reg += 0.5 * beta * (u @ u + al * al)
    return 0.5 * np.sum((out - y) ** 2) + reg


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    beta = float(sys.argv[2]) if len(sys.argv) > 2 else 1e-2
    rho = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
    X, y = spirals(n)
    D = enumerate_patterns(X)
    from math import comb
    print("patterns", D.shape[0], "formula", 2 * sum(comb(n - 1, k) for k in range(3)))
    xs, pstar, hist = admm(X, y, D, beta, rho=rho, max_iter=50000)
    print("iterations", len(hist), "p*", repr(pstar))
    print("acc at iters 1..10", hist[:10, 2], "final", hist[-1, 2])
    res = hist[:, 0] + hist[:, 1]
    for k in [1, 5, 10, 20, 50, 100, 200, 300, 500, 1000, 2000, len(hist) - 1]:
        if k < len(hist):
            print(k, res[k])
    print("rebuilt network objective", repr(rebuild(xs, X, y, beta, D.shape[0], X.shape[1])))
    try:
        import cvxpy as cp
        P, d = D.shape[0], X.shape[1]
        V, W = cp.Variable((d, P)), cp.Variable((d, P))
        yhat = cp.sum(cp.multiply(D.T, X @ (V - W)), axis=1)
        cost = cp.sum_squares(yhat - y) / 2 + beta * (cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0)))
        E = 2 * D.T - 1
        prob = cp.Problem(cp.Minimize(cost), [cp.multiply(E, X @ V) >= 0, cp.multiply(E, X @ W) >= 0])
        prob.solve(solver=cp.CLARABEL)
        print("cvxpy/clarabel p*", repr(prob.value), "rel diff", (pstar - prob.value) / prob.value)
    except ImportError:
        print("cvxpy not installed: skipped")


if __name__ == "__main__":
    main()
