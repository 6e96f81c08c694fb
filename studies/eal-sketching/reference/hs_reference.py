"""Independent reference optima of the Hock-Schittkowski problems used by the eal-sketching study.

Solves each problem with SciPy SLSQP and trust-constr from the standard x0 (equality constraints
only, as in the HS collection), prints x*, f* and the KKT residual, and compares f* with the value
the study gates on. Run: OPENBLAS_NUM_THREADS=1 python3 hs_reference.py  (SciPy >= 1.10)
"""
import numpy as np
from math import sqrt, sin, log
from scipy.optimize import minimize

S2 = sqrt(2.0)
P = {
    "HS6": (lambda x: (1 - x[0])**2, lambda x: [10 * (x[1] - x[0]**2)], [-1.2, 1.0]),
    "HS7": (lambda x: log(1 + x[0]**2) - x[1], lambda x: [(1 + x[0]**2)**2 + x[1]**2 - 4], [2.0, 2.0]),
    "HS28": (lambda x: (x[0] + x[1])**2 + (x[1] + x[2])**2, lambda x: [x[0] + 2 * x[1] + 3 * x[2] - 1], [-4.0, 1.0, 1.0]),
    "HS40": (lambda x: -x[0] * x[1] * x[2] * x[3],
             lambda x: [x[0]**3 + x[1]**2 - 1, x[0]**2 * x[3] - x[2], x[3]**2 - x[1]], [0.8] * 4),
    "HS42": (lambda x: sum((x[i] - (i + 1))**2 for i in range(4)),
             lambda x: [x[0] - 2, x[2]**2 + x[3]**2 - 2], [1.0] * 4),
    "HS48": (lambda x: (x[0] - 1)**2 + (x[1] - x[2])**2 + (x[3] - x[4])**2,
             lambda x: [sum(x) - 5, x[2] - 2 * (x[3] + x[4]) + 3], [3.0, 5.0, -3.0, 2.0, -2.0]),
    "HS50": (lambda x: (x[0] - x[1])**2 + (x[1] - x[2])**2 + (x[2] - x[3])**4 + (x[3] - x[4])**2,
             lambda x: [x[0] + 2 * x[1] + 3 * x[2] - 6, x[1] + 2 * x[2] + 3 * x[3] - 6, x[2] + 2 * x[3] + 3 * x[4] - 6],
             [35.0, -31.0, 11.0, 5.0, -5.0]),
    "HS51": (lambda x: (x[0] - x[1])**2 + (x[1] + x[2] - 2)**2 + (x[3] - 1)**2 + (x[4] - 1)**2,
             lambda x: [x[0] + 3 * x[1] - 4, x[2] + x[3] - 2 * x[4], x[1] - x[4]], [2.5, 0.5, 2.0, -1.0, 0.5]),
    "HS52": (lambda x: (4 * x[0] - x[1])**2 + (x[1] + x[2] - 2)**2 + (x[3] - 1)**2 + (x[4] - 1)**2,
             lambda x: [x[0] + 3 * x[1], x[2] + x[3] - 2 * x[4], x[1] - x[4]], [2.0] * 5),
    "HS77": (lambda x: (x[0] - 1)**2 + (x[0] - x[1])**2 + (x[2] - 1)**2 + (x[3] - 1)**4 + (x[4] - 1)**6,
             lambda x: [x[0]**2 * x[3] + sin(x[3] - x[4]) - 2 * S2, x[1] + x[2]**4 * x[3]**2 - 8 - S2], [2.0] * 5),
    "HS78": (lambda x: x[0] * x[1] * x[2] * x[3] * x[4],
             lambda x: [sum(v * v for v in x) - 10, x[1] * x[2] - 5 * x[3] * x[4], x[0]**3 + x[1]**3 + 1],
             [-2.0, 1.5, 2.0, -1.0, -1.0]),
    "HS79": (lambda x: (x[0] - 1)**2 + (x[0] - x[1])**2 + (x[1] - x[2])**2 + (x[2] - x[3])**4 + (x[3] - x[4])**4,
             lambda x: [x[0] + x[1]**2 + x[2]**3 - 2 - 3 * S2, x[1] - x[2]**2 + x[3] + 2 - 2 * S2, x[0] * x[4] - 2],
             [2.0] * 5),
}
SPEC = {"HS6": 0.0, "HS7": -sqrt(3), "HS28": 0.0, "HS40": -0.25, "HS42": 28 - 10 * S2, "HS48": 0.0, "HS50": 0.0,
        "HS51": 0.0, "HS52": 1859 / 349, "HS77": 0.24150513, "HS78": -2.91970041, "HS79": 0.0787768209}


def num_grad(f, x, h=1e-7):
    x = np.asarray(x, float)
    return np.array([(np.atleast_1d(f(x + h * e)) - np.atleast_1d(f(x - h * e))) / (2 * h) for e in np.eye(len(x))]).T


def kkt(f, c, x):
    g = num_grad(f, x).ravel()
    J = np.atleast_2d(num_grad(c, x))
    lam, *_ = np.linalg.lstsq(J.T, -g, rcond=None)
    return np.linalg.norm(np.concatenate([g + J.T @ lam, np.asarray(c(x))]))


print(f"{'problem':8s} {'f* SLSQP':>22s} {'f* trust-constr':>22s} {'spec f*':>16s} {'|diff|':>9s} {'KKT':>9s}  x*")
for name, (f, c, x0) in P.items():
    cons = [{"type": "eq", "fun": lambda x, c=c: np.asarray(c(x))}]
    r1 = minimize(f, x0, method="SLSQP", constraints=cons, options={"ftol": 1e-14, "maxiter": 1000})
    r2 = minimize(f, x0, method="trust-constr", constraints=cons, options={"gtol": 1e-12, "xtol": 1e-14, "maxiter": 5000})
    best = r1 if r1.fun <= r2.fun + 1e-9 else r2
    d = abs(best.fun - SPEC[name])
    print(f"{name:8s} {r1.fun:22.12g} {r2.fun:22.12g} {SPEC[name]:16.10g} {d:9.2e} {kkt(f, c, best.x):9.1e}  "
          + np.array2string(best.x, precision=9, max_line_width=200))
