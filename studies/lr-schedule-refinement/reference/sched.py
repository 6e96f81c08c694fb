"""NumPy/SciPy cross-check of the study's bound kernels (written from the spec's formulas).

bound(lam) = D^2/(2 S_0) + sum G^2 lam^2/(2 S_0) + 1/2 sum_{t<T-1} lam_t Q_t/(S_t S_{t+1}),
S_t = sum_{p>=t} lam_p, Q_t = sum_{p>=t} G_p^2 lam_p^2. Each schedule is scaled optimally
(bound(c lam) = A/c + B c, min 2 sqrt(AB)). The numerical optimum is L-BFGS-B on lam >= 1e-8
(as the Meta repo's find_schedule) with the analytic gradient. Run: python3 sched.py
"""
import numpy as np
from scipy.optimize import fmin_l_bfgs_b


def bound_parts(lam, g2, D=1.0):
    S = np.cumsum(lam[::-1])[::-1]
    Q = np.cumsum((g2 * lam * lam)[::-1])[::-1]
    A = D * D / (2 * S[0])
    B = Q[0] / (2 * S[0]) + 0.5 * np.sum(lam[:-1] * Q[:-1] / (S[:-1] * S[1:]))
    return A, B


def bound(lam, g2, D=1.0):
    A, B = bound_parts(lam, g2, D)
    return A + B


def scaled(lam, g2, D=1.0):
    A, B = bound_parts(lam, g2, D)
    return 2 * np.sqrt(A * B)


def grad(lam, g2, D=1.0):
    T = len(lam)
    S = np.cumsum(lam[::-1])[::-1]
    Q = np.cumsum((g2 * lam * lam)[::-1])[::-1]
    S1 = np.append(S[1:], 0.0)
    g = -(D * D + Q[0]) / (2 * S[0] ** 2) + g2 * lam / S[0]
    m = T - 1
    a = np.zeros(T); b = np.zeros(T); c = np.zeros(T); q = np.zeros(T)
    a[:m] = lam[:m] / (S[:m] * S1[:m])
    h = lam[:m] * Q[:m] / (S[:m] * S1[:m])
    b[:m] = h / S[:m]
    c[:m] = h / S1[:m]
    q[:m] = Q[:m] / (S[:m] * S1[:m])
    A = np.cumsum(a); Bc = np.cumsum(b); C = np.cumsum(c)
    Cprev = np.concatenate([[0.0], C[:-1]])
    return g + 0.5 * (q + 2 * g2 * lam * A - Bc - Cprev)


def closed_form(G):
    w = np.asarray(G, float) ** -2.0
    tail = np.cumsum(w[::-1])[::-1]
    s = np.zeros(len(w))
    s[:-1] = w[:-1] * tail[1:] / tail[0]
    return s


def refined(G):
    return closed_form(np.append(G, G[-1]))[:-1]


def optimum(g2, D=1.0, x0=None):
    T = len(g2)
    x0 = np.full(T, D / np.sqrt(T)) if x0 is None else x0
    f = lambda x: (bound(x, g2, D), grad(x, g2, D))
    x, fx, d = fmin_l_bfgs_b(f, x0, bounds=[(1e-8, None)] * T, factr=10.0, pgtol=1e-12, m=20, maxfun=200000, maxiter=200000)
    return x, fx


def schedules(T):
    t = np.arange(T)
    return {
        "linear": 1 - t / T,
        "cosine": 0.5 * (1 + np.cos(np.pi * t / T)),
        "inv_sqrt": 1 / np.sqrt(t + 1),
        "constant": np.ones(T),
        "step": np.where(t < T // 2, 1.0, np.where(t < 3 * T // 4, 0.1, 0.01)),
    }


def profiles(T):
    t = np.arange(T)
    return {
        "decreasing": 1 + 9 * np.exp(-t / (T / 10)),
        "increasing": 1 + 2.5 * t / (T - 1),
        "spike": np.where(t < 20, 5.0, 1.0),
        "constant": np.ones(T),
    }


if __name__ == "__main__":
    for T in (100, 400, 1600):
        g2 = np.ones(T)
        row = {k: np.sqrt(T) * scaled(v, g2) for k, v in schedules(T).items()}
        _, fo = optimum(g2)
        row["optimum"] = np.sqrt(T) * fo
        print(T, {k: round(v, 4) for k, v in row.items()})
    T = 400
    for name, G in profiles(T).items():
        g2 = G * G
        r = refined(G)
        lin = scaled(schedules(T)["linear"], g2)
        _, fo = optimum(g2)
        print(name, "refined/linear", round(scaled(r, g2) / lin, 4), "refined/opt", round(scaled(r, g2) / fo, 5),
              "argmax", int(np.argmax(r)), "refined", repr(scaled(r, g2)), "linear", repr(lin), "optimum", repr(fo))
    # gradient check
    rng = np.random.default_rng(0)
    lam = rng.uniform(0.1, 1, 50); g2 = rng.uniform(0.5, 2, 50)
    e = np.zeros(50); fd = []
    for k in range(50):
        e[:] = 0; e[k] = 1e-6
        fd.append((bound(lam + e, g2) - bound(lam - e, g2)) / 2e-6)
    print("grad max err", np.max(np.abs(np.array(fd) - grad(lam, g2))))
