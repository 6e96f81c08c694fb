"""NumPy reference of the BO-REP toy (closed-form hyper-gradient). Run: python3 toy.py [seeds]
Lower g = ½‖y − Ax‖² + (µ/2)‖y‖², upper f = ½‖By − c‖² + κ Σ cosh(x_j)."""
import sys, numpy as np
DX, DY, M, MU, KAPPA = 5, 20, 10, 1.0, 0.1

def problem(rng):
    A = rng.standard_normal((DY, DX)) / np.sqrt(DY)
    B = rng.standard_normal((M, DY)) / np.sqrt(DY)
    c = rng.standard_normal(M)
    return A, B, c

def grad_phi(P, x):
    A, B, c = P
    return KAPPA * np.sinh(x) + A.T @ B.T @ (B @ A @ x / (1 + MU) - c) / (1 + MU)

def phi(P, x):
    A, B, c = P
    return 0.5 * np.sum((B @ A @ x / (1 + MU) - c) ** 2) + KAPPA * np.sum(np.cosh(x))

def run(P, method, eta, x0, sigma, rng, iters=20000, eps=0.1, beta=0.9, eta_y=0.1, nu=0.2, I=3, N=3, refine=200, gamma=1.0):
    A, B, c = P
    x = np.full(DX, x0); y = np.zeros(DY); z = np.zeros(DY); m = np.zeros(DX)
    for _ in range(refine):
        y -= eta_y * ((1 + MU) * y - A @ x + sigma * rng.standard_normal(DY))
    hit, track = None, 0.0
    for t in range(iters):
        gn = np.linalg.norm(grad_phi(P, x))
        if not np.isfinite(gn) or gn > 1e12:
            return dict(hit=None, diverged=True, track=track)
        if hit is None and gn <= eps:
            hit = t; break
        if t % I == 0 and t > 0:
            for _ in range(N):
                y -= eta_y * ((1 + MU) * y - A @ x + sigma * rng.standard_normal(DY))
        track = max(track, np.linalg.norm(y - A @ x / (1 + MU)))
        fy = B.T @ (B @ y - c) + sigma * rng.standard_normal(DY)
        z -= nu * ((1 + MU) * z + sigma * rng.standard_normal(DY) - fy)
        h = KAPPA * np.sinh(x) + sigma * rng.standard_normal(DX) + A.T @ z  # ∇x f − ∇²xy g z
        if method == "borep":
            m = beta * m + (1 - beta) * h
            x = x - eta * m / max(np.linalg.norm(m), 1e-300)
        elif method == "sgd":
            x = x - eta * h
        elif method == "clip":
            x = x - eta * min(1.0, gamma / np.linalg.norm(h)) * h
    return dict(hit=hit, diverged=False, track=track)

# Medians of iterations to ε from the Rust study over 40 draws (test `cross_check_medians`,
# root seed 4242). Different RNG streams and problem draws: distributions are compared.
RUST = {
    (0.0, "borep", 0.05, 10.0): 448.5, (0.0, "sgd", 0.05, 2.0): 211.5, (0.0, "clip", 0.05, 10.0): 570,
    (0.0, "sgd", 0.01, 10.0): 882.5, (0.0, "sgd", 0.001, 10.0): 12627,
    (0.5, "borep", 0.05, 10.0): 566, (0.5, "sgd", 0.05, 2.0): 239.5, (0.5, "clip", 0.05, 10.0): 684,
    (0.5, "sgd", 0.01, 10.0): 901.5, (0.5, "sgd", 0.001, 10.0): 12760.5,
}
RUST_SCALING = {0.4: 266, 0.3: 485, 0.2: 1108, 0.15: 2002}

def median_hits(res):
    return float(np.median([r["hit"] if r["hit"] is not None else np.inf for r in res]))

if __name__ == "__main__":
    draws = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    worst = 0.0
    with np.errstate(all="ignore"):
        for (sigma, meth, eta, x0), rust in RUST.items():
            res = [run(problem(np.random.default_rng(1000 + s)), meth, eta, x0, sigma, np.random.default_rng(s)) for s in range(draws)]
            med = median_hits(res)
            worst = max(worst, abs(med / rust - 1))
            print(f"σ={sigma} {meth:5s} η={eta} x0={x0}: numpy median {med:8.1f}  rust {rust:8.1f}  rel {med / rust - 1:+.3f}")
        for s_ in [0, 1]:
            P = problem(np.random.default_rng(1000 + s_))
            r = run(P, "sgd", 0.05, 10.0, 0.0, np.random.default_rng(s_))
            assert r["diverged"], "baseline from x0 = 10 must diverge"
        for eps, rust in RUST_SCALING.items():
            res = [run(problem(np.random.default_rng(1000 + s)), "borep", 0.5 * eps * eps, 10.0, 0.5, np.random.default_rng(s),
                       eps=eps, beta=1 - eps * eps) for s in range(draws)]
            med = median_hits(res)
            worst = max(worst, abs(med / rust - 1))
            print(f"scaling ε={eps}: numpy median {med:8.1f}  rust {rust:8.1f}  rel {med / rust - 1:+.3f}")
    print(f"worst relative difference of medians: {worst:.3f} (tolerance 0.15)")
    assert worst <= 0.15
