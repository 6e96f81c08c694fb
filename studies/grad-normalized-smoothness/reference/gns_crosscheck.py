"""Cross-check of Algorithm 1 (gradient-normalized smoothness) on a LogSumExp instance exported by
the Rust study (`cargo test --release -p grad_normalized_smoothness -- --ignored export_instance`).

An independent NumPy/SciPy implementation of the repo's `grad_norm_smooth` and `gradient_method`
(epfml/grad-norm-smooth, src/methods.py: λ = ‖g‖*/(γ + eps), accept iff f − f₊ ≥ ‖g₊‖*²/(8λ), then
γ ← max(2γ, γ_min), else γ ← γ/2, 40 tries; gradient method with L-doubling). Prints the
iterations to f − f* < 1e-8 and compares them with the counts the Rust run wrote.

    OPENBLAS_NUM_THREADS=1 python3 gns_crosscheck.py /tmp/gns_instance
"""
import json
import sys

import numpy as np
import scipy.linalg as sla


def lse(z):
    m = z.max()
    return m + np.log(np.exp(z - m).sum())


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def main(d):
    A = np.loadtxt(f"{d}/a.csv", delimiter=",")
    b = np.loadtxt(f"{d}/b.csv", delimiter=",")
    B = np.loadtxt(f"{d}/metric.csv", delimiter=",")
    meta = json.load(open(f"{d}/meta.json"))
    mu = meta["mu"]
    f = lambda x: mu * lse((A @ x - b) / mu)
    grad = lambda x: A.T @ softmax((A @ x - b) / mu)

    def hess(x, exact):
        pi = softmax((A @ x - b) / mu)
        h = (A.T * pi) @ A / mu
        if exact:
            g = A.T @ pi
            h -= np.outer(g, g) / mu
        return h

    f_star = mu * lse(-b / mu)
    Binv = np.linalg.inv(B)
    dual = lambda g: g @ Binv @ g
    n = A.shape[1]
    out = {}
    for name, exact in [("GNS exact", True), ("GNS weighted GN", False)]:
        x = np.ones(n)
        fk, gk = f(x), grad(x)
        gn = dual(gk) ** 0.5
        gamma, fact, iters = 1.0, 0, None
        for k in range(1001):
            if fk - f_star < 1e-8:
                iters = k
                break
            H = hess(x, exact)
            for i in range(41):
                if i == 40:
                    break
                lam = gn / (gamma + 1e-8)
                dx = sla.cho_solve(sla.cho_factor(H + lam * B), -gk)
                fact += 1
                fn, gnew = f(x + dx), grad(x + dx)
                gsq = dual(gnew)
                if fk - fn >= gsq / (8 * lam):
                    gamma = max(2 * gamma, 1e-9)
                    break
                gamma *= 0.5
            x = x + dx
            fk, gk, gn = fn, gnew, gsq ** 0.5
        out[name] = (iters, fact)
    # gradient method in the B-metric
    x = np.ones(n)
    fk, gk, L, iters = f(x), grad(x), 1.0, None
    for k in range(2001):
        if fk - f_star < 1e-8:
            iters = k
            break
        pg = Binv @ gk
        for i in range(31):
            if i == 30:
                break
            T = x - pg / L
            fT = f(T)
            d_ = T - x
            if fT <= fk + gk @ d_ + 0.5 * L * d_ @ B @ d_:
                L = max(L * 0.5, 1e-5)
                break
            L *= 2
        x, fk, gk = T, fT, grad(T)
    out["GM B-metric"] = (iters, 0)
    ok = True
    for name, (it, fact) in out.items():
        rust = meta["rust"][name]
        agree = it is not None and rust is not None and abs(it - rust) <= 1
        ok &= agree
        print(f"{name}: numpy {it} iterations ({fact} factorizations), rust {rust}: {'ok' if agree else 'DIFFER'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/gns_instance")
