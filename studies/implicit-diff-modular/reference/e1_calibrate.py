"""E1/E1b calibration: Jacobian error of implicit vs unrolled differentiation along gradient descent.
Ridge on diabetes (closed form) and L2-logistic regression on breast cancer (Newton truth)."""
import gzip, numpy as np, sys
def load(name, target):
    with gzip.open(f"../../../data/{name}.csv.gz", "rt") as f:
        a = np.genfromtxt(f, delimiter=",", skip_header=1)
    X, y = a[:, :-1], a[:, -1]
    X = (X - X.mean(0)) / X.std(0)
    return X, y
X, y = load("diabetes", "target"); y = (y - y.mean()) / y.std()
n, d = X.shape; lam = 1.0
A = X.T @ X / n + lam * np.eye(d); b = X.T @ y / n
ev = np.linalg.eigvalsh(A); mu, L = ev[0], ev[-1]; eta = 1 / L; kappa = L / mu
print("ridge: mu", mu, "L", L, "kappa", kappa, "eigs", ev)
ws = np.linalg.solve(A, b); Jstar = -np.linalg.solve(A, ws); Ainv2 = 1 / mu
w = np.zeros(d); J = np.zeros(d); rows = []
for t in range(301):
    it = np.linalg.norm(w - ws); ei = np.linalg.norm(-np.linalg.solve(A, w) - Jstar); eu = np.linalg.norm(J - Jstar)
    rows.append((t, it, ei, eu, Ainv2 * it))
    J, w = J - eta * (A @ J + w), w - eta * (A @ w - b)
rows = np.array(rows)
for t in [0, 1, 5, 10, 15, 20, 30, 50, 80, 100, 120, 150, 200]:
    r = rows[t]; pred = 1 + eta * mu * t / (1 - eta * mu)
    print(t, "iter %.3e impl %.3e unroll %.3e ratio %.4f pred %.4f spec %.4f" % (r[1], r[2], r[3], r[3] / r[2], pred, pred - 1))
ok = rows[:, 1] > 1e-9
m = ok & (rows[:, 0] >= 1)
print("slope impl", np.polyfit(np.log(rows[m, 1]), np.log(rows[m, 2]), 1)[0], "slope unroll", np.polyfit(np.log(rows[m, 1]), np.log(rows[m, 3]), 1)[0])
print("max bound ratio", (rows[:, 2] / rows[:, 4]).max())
# logistic on breast cancer
X, y = load("breast_cancer", "label"); n, d = X.shape
for lam in [0.1, 0.3, 1.0]:
    def grad(w): p = 1 / (1 + np.exp(-X @ w)); return X.T @ (p - y) / n + lam * w
    def hess(w): p = 1 / (1 + np.exp(-X @ w)); return (X.T * (p * (1 - p))) @ X / n + lam * np.eye(d)
    w = np.zeros(d)
    for _ in range(50): w = w - np.linalg.solve(hess(w), grad(w))
    ws = w; Jstar = -np.linalg.solve(hess(ws), ws)
    L = np.linalg.eigvalsh(X.T @ X / n).max() / 4 + lam; eta = 1 / L
    mu = np.linalg.eigvalsh(hess(ws))[0]
    w = np.zeros(d); J = np.zeros(d); rows = []
    for t in range(301):
        it = np.linalg.norm(w - ws); ei = np.linalg.norm(-np.linalg.solve(hess(w), w) - Jstar); eu = np.linalg.norm(J - Jstar)
        rows.append((t, it, ei, eu))
        g = grad(w); J, w = J - eta * (hess(w) @ J + w), w - eta * g
    rows = np.array(rows); m = (rows[:, 1] > 1e-9) & (rows[:, 0] >= 1)
    print("logistic lam", lam, "kappa~", L / mu, "final iter err %.2e" % rows[-1, 1], "slope impl", np.polyfit(np.log(rows[m, 1]), np.log(rows[m, 2]), 1)[0], "unroll", np.polyfit(np.log(rows[m, 1]), np.log(rows[m, 3]), 1)[0], "ratio@end", rows[m][-1, 3] / rows[m][-1, 2])
