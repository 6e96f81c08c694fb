"""E2/E3 reference: smoothed multiclass SVM dual on row simplices; Jacobian d beta*/d lambda from the
PG, MD and KKT optimality maps, central finite differences; hyper-gradient implicit vs unrolled PG."""
import numpy as np, sys, time
def proj_simplex(V):
    U = -np.sort(-V, axis=1); css = np.cumsum(U, axis=1) - 1; k = np.arange(1, V.shape[1] + 1)
    cond = U - css / k > 0; r = cond.sum(1); tau = css[np.arange(len(V)), r - 1] / r
    return np.maximum(V - tau[:, None], 0)
def make(seed, n, d, k, nval, sep):
    rng = np.random.default_rng(seed); mu = rng.normal(size=(k, d)) * sep
    def draw(m):
        y = rng.integers(0, k, m); X = (mu[y] + rng.normal(size=(m, d))) / np.sqrt(d); return X, np.eye(k)[y]
    return draw(n), draw(nval)
class Svm:
    def __init__(s, X, Y, eps): s.X, s.Y, s.eps = X, Y, eps; s.K = X @ X.T; s.Lk = np.linalg.eigvalsh(s.K)[-1]
    def grad(s, B, lam): return -(s.K @ (s.Y - B)) / lam - (1 - s.Y) + s.eps * B
    def hvp(s, V, lam): return s.K @ V / lam + s.eps * V
    def dgrad_dlam(s, B): return None
    def solve(s, lam, iters=3000):
        eta = 1 / (s.Lk / lam + s.eps); B = np.full_like(s.Y, 1 / s.Y.shape[1])
        for _ in range(iters): B = proj_simplex(B - eta * s.grad(B, lam))
        for _ in range(5):
            S = B > 0; idx = np.flatnonzero(S.ravel()); n, k = B.shape; m = len(idx)
            H = np.kron(s.K, np.eye(k)) / lam + s.eps * np.eye(n * k)
            c = (-(s.K @ s.Y) / lam - (1 - s.Y)).ravel()
            E = np.zeros((n * k, n)); E[np.arange(n * k), np.repeat(np.arange(n), k)] = 1
            M = np.block([[H[np.ix_(idx, idx)], E[idx]], [E[idx].T, np.zeros((n, n))]])
            sol = np.linalg.solve(M, np.concatenate([-c[idx], np.ones(n)]))
            Bn = np.zeros(n * k); Bn[idx] = sol[:m]; Bn = Bn.reshape(n, k)
            if Bn.min() >= -1e-15:
                B = np.maximum(Bn, 0); break
            for _ in range(500): B = proj_simplex(B - eta * s.grad(B, lam))
        return B, eta
def jacobians(s, B, lam, eta):
    n, k = B.shape; N = n * k; g = s.grad(B, lam)
    H = np.kron(s.K, np.eye(k)) / lam + s.eps * np.eye(N)
    dg = (s.K @ (s.Y - B) / lam**2).ravel()  # d grad / d lam
    out = {}
    # PG: T = P(B - eta g); F = T - B
    Z = B - eta * g; P = proj_simplex(Z)
    Jp = np.zeros((N, N))
    for i in range(n):
        Sup = P[i] > 0; m = Sup.sum(); blk = np.diag(Sup.astype(float)) - np.outer(Sup, Sup) / m
        Jp[i*k:(i+1)*k, i*k:(i+1)*k] = blk
    A = Jp @ (np.eye(N) - eta * H) - np.eye(N); b = Jp @ (-eta * dg)
    out["pg"] = -np.linalg.solve(A, b)
    # MD: T = softmax(log B - eta g) per row
    Tm = np.zeros((N, N)); Tg = np.zeros((N, N))
    for i in range(n):
        a = -eta * g[i]; mx = np.max(np.where(B[i] > 0, np.log(np.where(B[i] > 0, B[i], 1)) + a, -np.inf))
        sfac = np.exp(a - mx); Z = (B[i] * sfac).sum(); s_ = sfac / Z; T = B[i] * s_
        # dT = diag(s) dB - T (s . dB) - eta [diag(T) dg - T (T . dg)]
        Tm[i*k:(i+1)*k, i*k:(i+1)*k] = np.diag(s_) - np.outer(T, s_)
        Tg[i*k:(i+1)*k, i*k:(i+1)*k] = -eta * (np.diag(T) - np.outer(T, T))
    A = Tm + Tg @ H - np.eye(N); b = Tg @ dg
    out["md"] = -np.linalg.solve(A, b)
    # KKT
    E = np.zeros((N, n)); E[np.arange(N), np.repeat(np.arange(n), k)] = 1
    Sup = (B > 0).ravel()
    nu = np.array([-g[i][B[i] > 0].mean() for i in range(n)]); mu = g.ravel() + E @ nu
    mu[Sup] = 0
    Kk = np.block([[H, E, -np.eye(N)], [E.T, np.zeros((n, n)), np.zeros((n, N))], [np.diag(mu), np.zeros((N, n)), np.diag(B.ravel())]])
    rhs = np.concatenate([dg, np.zeros(n), np.zeros(N)])
    out["kkt"] = -np.linalg.solve(Kk, rhs)[:N]
    out["min_mu_off"] = mu[~Sup].min() if (~Sup).any() else np.inf
    return out
if __name__ == "__main__":
    n, d, k, lam, eps, sep = int(sys.argv[1]), int(sys.argv[2]), 5, float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    for seed in range(5):
        (X, Y), (Xv, Yv) = make(seed, n, d, k, 200, sep); s = Svm(X, Y, eps)
        t0 = time.time(); B, eta = s.solve(lam); t1 = time.time()
        J = jacobians(s, B, lam, eta)
        h = 1e-5 * lam; Bp, _ = s.solve(lam + h); Bm, _ = s.solve(lam - h); fd = ((Bp - Bm) / (2 * h)).ravel()
        nrm = np.linalg.norm(J["kkt"])
        print(seed, "kappa %.1f" % ((s.Lk / lam + eps) / eps), "support frac %.2f" % (B > 0).mean(), "min mu off %.2e" % J["min_mu_off"],
              "pg-kkt %.1e md-kkt %.1e fd-kkt %.1e" % (np.linalg.norm(J["pg"] - J["kkt"]) / nrm, np.linalg.norm(J["md"] - J["kkt"]) / nrm, np.linalg.norm(fd - J["kkt"]) / nrm),
              "|J| %.2e solve %.2fs" % (nrm, t1 - t0), "min pos B %.2e" % B[B > 0].min())
