"""NumPy port of the official diffGrad_analytical.ipynb (shivram1987/diffGrad), cells 1-6, verbatim
update rules and gradients, plus the buggy diffGrad.py variant (xi = 1/2 after step 1) and the
study's LR sweep. Prints the final x (x[299], after 299 updates, as the notebook's `solve`) with
17 significant digits; the Rust study must match them to 1e-12 (tests.rs: notebook_values).

Run: python3 studies/diffgrad/reference/notebook.py
"""
import math as mt

import numpy as np

nb_iters = 300
beta1 = 0.95
beta2 = 0.999
eps = 0.00000001


class Adam(object):  # cell 2, verbatim (note: eps inside the square root)
    def __init__(self, lrn_rate, beta1, beta2, eps):
        self.lrn_rate = lrn_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.idx = 0
        self.m = 0.0
        self.v = 0.0

    def update(self, x, g):
        self.idx += 1
        self.m = self.beta1 * self.m + (1.0 - self.beta1) * g
        self.v = self.beta2 * self.v + (1.0 - self.beta2) * g ** 2
        m_adj = self.m / (1.0 - np.power(self.beta1, self.idx))
        v_adj = self.v / (1.0 - np.power(self.beta2, self.idx))
        x_new = x - self.lrn_rate * m_adj / np.sqrt(v_adj + self.eps)
        return x_new


class diffGrad(object):  # cell 3, verbatim; buggy=True is diffGrad.py's alias (xi = 1/2 after step 1)
    def __init__(self, lrn_rate, beta1, beta2, eps, buggy=False):
        self.lrn_rate = lrn_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.idx = 0
        self.m = 0.0
        self.v = 0.0
        self.g_prev = 0.0
        self.buggy = buggy

    def update(self, x, g):
        self.idx += 1
        self.m = self.beta1 * self.m + (1.0 - self.beta1) * g
        self.v = self.beta2 * self.v + (1.0 - self.beta2) * g ** 2
        m_adj = self.m / (1.0 - np.power(self.beta1, self.idx))
        v_adj = self.v / (1.0 - np.power(self.beta2, self.idx))
        g_prev = g if (self.buggy and self.idx > 1) else self.g_prev
        dfc = 1.0 / (1.0 + np.exp(-np.abs(g_prev - g)))
        x_new = x - self.lrn_rate * m_adj * dfc / (np.sqrt(v_adj) + self.eps)
        self.g_prev = g
        return x_new


def grad_f1(x):  # cell 4
    if x <= 0:
        return 2 * x + 0.6
    else:
        return 2 * x - 0.4


def grad_f2(x):  # cell 5
    if x <= -0.9:
        return -40
    else:
        return x * mt.cos(8 * x) + mt.sin(8 * x) + 3 * x * x


def grad_f3(x):  # cell 6
    if x <= -0.5:
        return 2 * x
    elif x <= -0.4:
        return 1.0
    elif x <= 0.0:
        return -7 / 8
    elif x <= 0.4:
        return 7 / 8
    elif x <= 0.5:
        return -1.0
    else:
        return 2 * x


def solve(x0, solver, calc_grad):
    x = np.zeros(nb_iters)
    x[0] = x0
    for idx_iter in range(1, nb_iters):
        g = calc_grad(x[idx_iter - 1])
        x[idx_iter] = solver.update(x[idx_iter - 1], g)
    return x


if __name__ == "__main__":
    fs = {"F1": grad_f1, "F2": grad_f2, "F3": grad_f3}
    makers = {
        "adam": lambda lr: Adam(lr, beta1, beta2, eps),
        "diffgrad": lambda lr: diffGrad(lr, beta1, beta2, eps),
        "diffgrad_buggy": lambda lr: diffGrad(lr, beta1, beta2, eps, buggy=True),
    }
    for f, gf in fs.items():
        for opt, mk in makers.items():
            for lr in [0.02, 0.05, 0.1, 0.2]:
                x = solve(-1.0, mk(lr), gf)
                print(f"{f} {opt:15s} lr {lr:<5} final x {x[-1]:.17g}  last-10 std {np.std(x[-10:]):.3g}")
