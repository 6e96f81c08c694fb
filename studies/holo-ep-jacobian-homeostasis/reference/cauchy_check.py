"""Independent NumPy cross-check of the study's E1/E2 (complex dtype).

Same architecture as the crate (64-h-h-10 recurrent MLP with the repo's sigma, softmax read-out,
feedback rotated by alpha), own random weights and a random input/label:
- free fixed point by damped iterations + Newton;
- exact dr*/dbeta = D (I - W D)^-1 e by np.linalg.solve;
- N-phase estimates: N = 1 one-sided, N >= 2 (1/N) sum_k r(beta_k)/beta_k with complex beta_k;
- fitted log-log slopes of the error vs |beta|; cos(EP, BP) at alpha = 0 and 90.
Run: OPENBLAS_NUM_THREADS=1 python3 cauchy_check.py
"""
import numpy as np

H1 = H2 = 32
K, D_IN = 10, 64
rng = np.random.default_rng(0)


def sig(z):
    return 1.0 / (1.0 + np.exp(-4.0 * z + 2.0))


def dsig(z):
    s = sig(z)
    return 4.0 * s * (1.0 - s)


def make_net(alpha_deg):
    r = np.random.default_rng(1)
    g = lambda m, n: r.normal(0.0, 1.0 / np.sqrt(n), (m, n))
    w_in, w12, w21, w23, w32, w_ro = g(H1, D_IN), g(H2, H1), g(H1, H2), g(K, H2), g(H2, K), g(K, K)
    a = np.deg2rad(alpha_deg)
    w21 = np.sin(a) * w21 + np.cos(a) * w12.T
    w32 = np.sin(a) * w32 + np.cos(a) * w23.T
    n = H1 + H2 + K
    W = np.zeros((n, n))
    W[H1:H1 + H2, :H1] = w12
    W[:H1, H1:H1 + H2] = w21
    W[H1 + H2:, H1:H1 + H2] = w23
    W[H1:H1 + H2, H1 + H2:] = w32
    return W, w_in, w_ro


def setup(alpha):
    W, w_in, w_ro = make_net(alpha)
    x = rng.uniform(0, 1, D_IN) if False else np.random.default_rng(2).uniform(0, 1, D_IN)
    y = np.eye(K)[3]
    c = np.concatenate([w_in @ x, np.zeros(H2 + K)])
    return W, w_ro, c, y


def nudge(r, w_ro, y):
    z = w_ro @ r[-K:]
    z = z - z.real.max()
    p = np.exp(z) / np.exp(z).sum()
    e = np.zeros_like(r)
    e[-K:] = w_ro.T @ (p - y)
    return e, p


def G(u, beta, W, w_ro, c, y):
    r = sig(u)
    e, _ = nudge(r, w_ro, y)
    return W @ r + c + beta * e - u


def jac(u, beta, W, w_ro, c, y):
    r = sig(u)
    _, p = nudge(r, w_ro, y)
    J = W.astype(complex) if np.iscomplexobj(u) else W.copy()
    E = w_ro.T @ (np.diag(p) - np.outer(p, p)) @ w_ro
    J = J.astype(np.result_type(J, E, beta))
    J[-K:, -K:] += beta * E
    return J * dsig(u)[None, :] - np.eye(len(u))


def fixed_point(u0, beta, W, w_ro, c, y, iters=100):
    u = u0.astype(complex) if isinstance(beta, complex) else u0.copy()
    for _ in range(iters):
        u = u + 0.5 * G(u, beta, W, w_ro, c, y)
    for _ in range(100):
        g = G(u, beta, W, w_ro, c, y)
        if np.linalg.norm(g) < 1e-13:
            break
        u = u - np.linalg.solve(jac(u, beta, W, w_ro, c, y), g)
    return u, np.linalg.norm(G(u, beta, W, w_ro, c, y))


for alpha in (0.0, 90.0):
    W, w_ro, c, y = setup(alpha)
    u0, res = fixed_point(np.zeros(len(c)), 0.0, W, w_ro, c, y)
    d = dsig(u0)
    e, _ = nudge(sig(u0), w_ro, y)
    Ju = np.eye(len(c)) - W * d[None, :]
    exact = d * np.linalg.solve(Ju, e)
    bp = np.linalg.solve(Ju.T, d * e)
    print(f"alpha={alpha:4.0f}: free residual {res:.1e}; |cos(dr/dbeta, BP cotangent)| = "
          f"{exact @ bp / np.linalg.norm(exact) / np.linalg.norm(bp):.12f}")
    betas = np.logspace(-2, np.log10(0.5), 8)
    for N in (1, 2, 3, 4):
        errs = []
        for b in betas:
            acc = np.zeros(len(c), complex)
            for k in range(N):
                bk = b * np.exp(2j * np.pi * k / N)
                u, _ = fixed_point(u0, complex(bk), W, w_ro, c, y, iters=0)
                r = sig(u)
                if N == 1:
                    r = r - sig(u0)
                acc += r / bk
            est = (acc / N).real
            errs.append(np.linalg.norm(est - exact) / np.linalg.norm(exact))
        errs = np.array(errs)
        m = errs > 1e-12
        slope = np.polyfit(np.log(betas[m]), np.log(errs[m]), 1)[0]
        print(f"  N={N}: slope {slope:.3f}; errors {' '.join(f'{v:.1e}' for v in errs)}")
    for radius in (0.1, 0.5):
        for N in (2, 4, 8, 12):
            acc = np.zeros(len(c), complex)
            for k in range(N):
                bk = radius * np.exp(2j * np.pi * k / N)
                u, _ = fixed_point(u0, complex(bk), W, w_ro, c, y, iters=0)
                acc += sig(u) / bk
            err = np.linalg.norm((acc / N).real - exact) / np.linalg.norm(exact)
            print(f"  |beta|={radius}, N={N:2d}: error {err:.2e}")
