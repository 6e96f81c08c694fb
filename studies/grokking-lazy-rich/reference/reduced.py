"""NumPy reference for grokking-lazy-rich: the reduced (m, M) dynamics of
f(x) = alpha * mean_i phi(w_i.x), phi(z) = z + eps z^2/2, centred loss, GD with eta = N/alpha^2,
checked against the full W dynamics, and R(alpha) = t_test(20%)/t_train(20%).
Usage: python3 reduced.py [seed ...]"""
import sys
import numpy as np


def setup(seed, D, P, N):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((D, P)) / np.sqrt(D)
    beta = rng.standard_normal(D)
    y = (beta @ X) ** 2 / 2
    W = rng.standard_normal((N, D))
    return X, beta, y, W


def test_loss(alpha, eps, m, M, m0, M0, beta):
    D = len(beta)
    v = alpha * (m - m0)
    Q = alpha * eps / 2 * (M - M0) - np.outer(beta, beta) / 2
    return v @ v / D + np.trace(Q) ** 2 / D**2 + 2 * np.sum(Q * Q) / D**2


def reduced(X, beta, y, W, alpha, eps, epochs, stop=True):
    D, P = X.shape
    m = W.mean(0)
    M = W.T @ W / W.shape[0]
    m0, M0 = m.copy(), M.copy()
    f0 = alpha * (m @ X + eps / 2 * np.einsum("dp,de,ep->p", X, M, X))
    tr, te = [], []
    for t in range(epochs + 1):
        f = alpha * (m @ X + eps / 2 * np.einsum("dp,de,ep->p", X, M, X))
        e = f - f0 - y
        tr.append(np.mean(e**2))
        te.append(test_loss(alpha, eps, m, M, m0, M0, beta))
        if stop and tr[-1] <= 0.2 * tr[0] and te[-1] <= 0.2 * te[0]:
            break
        g = 2 / P * X @ e
        C = 2 / P * (X * e) @ X.T
        A = np.eye(D) - eps / alpha * C
        Am = A @ m
        M = A @ M @ A.T - (np.outer(Am, g) + np.outer(g, Am)) / alpha + np.outer(g, g) / alpha**2
        m = Am - g / alpha
    return np.array(tr), np.array(te)


def full(X, y, W, alpha, eps, epochs):
    N = W.shape[0]
    P = X.shape[1]
    eta = N / alpha**2
    f = lambda W: alpha * np.mean((h := W @ X) + eps / 2 * h**2, 0)
    f0 = f(W)
    tr = []
    for t in range(epochs + 1):
        h = W @ X
        e = f(W) - f0 - y
        tr.append(np.mean(e**2))
        grad = alpha / N * ((1 + eps * h) * (2 / P * e)) @ X.T
        W = W - eta * grad
    return np.array(tr)


def t20(c):
    i = np.nonzero(c <= 0.2 * c[0])[0]
    return int(i[0]) if len(i) else -1


if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1:]] or [0, 1]
    for seed in seeds:
        X, beta, y, W = setup(seed, 50, 275, 200)
        tr_f = full(X, y, W, 1.0, 0.02, 500)
        tr_r, _ = reduced(X, beta, y, W, 1.0, 0.02, 500, stop=False)
        print(f"seed {seed}: full vs reduced train loss, max rel diff over 500 epochs {np.max(np.abs(tr_f - tr_r) / tr_r):.2e}")
        for eps in [0.02, 0.2]:
            for alpha in [0.5, 1.0, 2.0]:
                tr, te = reduced(X, beta, y, W, alpha, eps, 60000)
                a, b = t20(tr), t20(te)
                print(f"  eps {eps} alpha {alpha}: t_train {a} t_test {b} R {b / a:.2f} test peak/initial {te.max() / te[0]:.3f} (L_test(0) {te[0]:.3f})")
