"""Cross-check of experiment B against scikit-learn's LinearSVC (LIBLINEAR's dual coordinate descent).

The Rust SVM minimises lambda/2 ||w~||^2 + mean hinge with the bias as a regularised constant feature;
LinearSVC(loss="hinge", C=1/(lambda n), intercept_scaling=1) minimises the same objective times 1/lambda.
Inputs come from the Rust test `dump_split_for_the_crosscheck` (the same split, bit for bit):

    CROSSCHECK_DIR=/tmp/bt cargo test --release -p boundary_tilting_adv -- --ignored dump_split --nocapture
    OPENBLAS_NUM_THREADS=1 python3 studies/boundary-tilting-adv/reference/crosscheck.py /tmp/bt

Compares theta(lambda) = angle(w, c+ - c-) and test accuracy; passes when every theta agrees within 0.5 deg.
"""
import sys, warnings
import numpy as np
from sklearn.svm import LinearSVC

d = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
rows = [l.rstrip("\n").split(",") for l in open(f"{d}/split.csv")]
tr = [r for r in rows if r[0] == "train"]
te = [r for r in rows if r[0] == "test"]
Xtr = np.array([[float(v) for v in r[2:]] for r in tr]); ytr = np.array([float(r[1]) for r in tr])
Xte = np.array([[float(v) for v in r[2:]] for r in te]); yte = np.array([float(r[1]) for r in te])
rust = np.genfromtxt(f"{d}/rust_theta.csv", delimiter=",", names=True)

dc = Xtr[ytr > 0].mean(0) - Xtr[ytr < 0].mean(0)
n = len(ytr)
worst = 0.0
print(f"{'lambda':>9} {'theta_rust':>11} {'theta_sk':>9} {'diff':>9} {'acc_rust':>8} {'acc_sk':>7}")
for lam, th_r, acc_r in zip(rust["lambda"], rust["theta_deg"], rust["test_acc"]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LinearSVC(loss="hinge", C=1.0 / (lam * n), intercept_scaling=1.0, tol=1e-12, max_iter=10_000_000)
        clf.fit(Xtr, ytr)
    w, b = clf.coef_[0], clf.intercept_[0]
    u, v = w / np.linalg.norm(w), dc / np.linalg.norm(dc)
    th = np.degrees(np.arctan2(np.linalg.norm(v - (u @ v) * u), u @ v))
    acc = np.mean(np.sign(Xte @ w + b) == yte)
    worst = max(worst, abs(th - th_r))
    print(f"{lam:9.2e} {th_r:11.4f} {th:9.4f} {th - th_r:9.2e} {acc_r:8.4f} {acc:7.4f}")
print(f"largest |theta_rust - theta_sklearn| = {worst:.3g} deg")
sys.exit(0 if worst <= 0.5 else 1)
