"""Cross-check of the Rust ridge Jacobian (E1): dw*/dlambda = -A^{-1} w* on diabetes (X and y
X by population sd, y by sample sd as common::stats::mean_sd), lambda = 1, by NumPy's closed form. jaxopt's custom_root on the same
problem (examples/implicit_diff/ridge_reg_implicit_diff.py) computes the same quantity; jax is not
installed here, so the closed form stands in for it. The printed vector is pasted into the Rust
test `ridge_jacobian_matches_numpy` (tolerance 1e-10)."""
import gzip, numpy as np
with gzip.open("../../../data/diabetes.csv.gz", "rt") as f:
    a = np.genfromtxt(f, delimiter=",", skip_header=1)
X, y = a[:, :-1], a[:, -1]
X = (X - X.mean(0)) / X.std(0); y = (y - y.mean()) / y.std(ddof=1)  # common::stats::mean_sd: sample sd
n, d = X.shape; lam = 1.0
A = X.T @ X / n + lam * np.eye(d); w = np.linalg.solve(A, X.T @ y / n)
J = -np.linalg.solve(A, w)
print("w* =", np.array2string(w, precision=15, separator=", "))
print("J* =", np.array2string(J, precision=15, separator=", "))
