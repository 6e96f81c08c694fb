"""Independent NumPy cross-check of the quick profile (different RNG, same setting and estimators).

    OPENBLAS_NUM_THREADS=1 python3 crosscheck.py      # ~1 min
"""
import numpy as np

n, r, m, eta = 20, 2, 800, 0.05
rng = np.random.default_rng(0)
U, _ = np.linalg.qr(rng.standard_normal((n, r)))
M = U @ np.diag([1.0, 0.5]) @ U.T
Z = rng.standard_normal((m, n, n)) / np.sqrt(m)
A_sym, A_gen = ((Z + Z.transpose(0, 2, 1)) / 2).reshape(m, -1), Z.reshape(m, -1)
K_sym, K_gen = A_sym.T @ A_sym, A_gen.T @ A_gen
res = lambda K, P: (K @ (P - M).ravel()).reshape(n, n)  # A*A(P - M*)


def gd(K, F, G, T, sym=False, floor=1e-16):
    err = []
    for _ in range(T):
        P = F @ G.T
        err.append(np.sum((P - M) ** 2))
        if err[-1] < floor:
            break
        S = res(K, P)
        if sym:  # X <- X - eta * sym(S) X, loss 1/4 |A(XX^T) - y|^2
            F = G = F - eta * 0.5 * (S + S.T) @ F
        else:  # loss 1/2 |A(FG^T) - y|^2
            F, G = F - eta * S @ G, G - eta * S.T @ F
    return np.array(err)


def loglog(e, lo, hi):
    t = np.unique(np.geomspace(lo, hi - 1, 60).astype(int))
    return np.polyfit(np.log(t), np.log(e[t]), 1)[0]


def rate(e, lo=1e-14, hi=1e-8):
    t = np.where((e >= lo) & (e <= hi))[0]
    return -np.polyfit(t, np.log(e[t]), 1)[0]


init = lambda k, s: np.random.default_rng(s).standard_normal((n, k))
for k in (3, 4):
    for a in (0.1, 0.3):
        X = a * init(k, k)
        e = gd(K_sym, X, X, 20000, sym=True)
        print(f"sym k={k} a={a}: slope[T/2,T]={loglog(e, 10000, 20000):.3f} T^2*err={20000**2 * e[-1]:.0f}")
print("sym k=r: err at 5000 =", gd(K_sym, 0.1 * init(2, 2), 0.1 * init(2, 2), 5000, sym=True, floor=1e-24)[-1])
rates = [rate(gd(K_gen, a * init(4, 1), a / 3 * init(4, 2), 150000)) for a in (0.025, 0.035, 0.05, 0.07)]
print("asym k=4 rates", rates, "exponent", np.polyfit(np.log([0.025, 0.035, 0.05, 0.07]), np.log(rates), 1)[0])
X = 0.1 * init(4, 1)
print("balanced slope[T/2,T]", loglog(gd(K_gen, X, X.copy(), 20000), 10000, 20000))
print("imbalanced final", gd(K_gen, X, 0.1 / 3 * init(4, 2), 20000, floor=1e-24)[-1])
