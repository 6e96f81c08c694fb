"""NumPy cross-check of the study `degeneracy-interaction-basis` (independent of the Rust code).

1. Null dimension of the stacked output Jacobian (n*out x p) of a ReLU MLP 6-10-10-3 with biases
   on 400 Gaussian inputs (|x0| >= 0.5), cut at the largest singular-value gap, for the
   constructed cases; compared with the textbook counts and with the structural count
   (firing-set-restricted activation nullities + live-unit rescalings + synchronised groups).
2. The core of rib's `calculate_interaction_rotations` (n_intervals = 0, biases folded) and the
   invariance of the interaction-basis edges under an O(1) move along a free direction.

    python3 reference/null_counts.py
"""
import numpy as np

relu = lambda z: np.maximum(z, 0)


def fwd(Ws, bs, X):
    acts, zs, a = [X], [], X
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W.T + b
        zs.append(z)
        a = relu(z) if l < len(Ws) - 1 else z
        acts.append(a)
    return acts, zs


def sens(Ws, zs, n):  # S[l][i] = d f / d z_l  (out x d_l)
    L, out = len(Ws), Ws[-1].shape[0]
    S = [None] * L
    S[L - 1] = np.broadcast_to(np.eye(out), (n, out, out)).copy()
    for l in range(L - 2, -1, -1):
        S[l] = np.einsum("iok,kj->ioj", S[l + 1], Ws[l + 1]) * (zs[l] > 0)[:, None, :]
    return S


def jacobian(Ws, bs, X):
    acts, zs = fwd(Ws, bs, X)
    n = X.shape[0]
    S = sens(Ws, zs, n)
    blocks = [np.einsum("ioj,ik->iojk", S[l], np.hstack([acts[l], np.ones((n, 1))])).reshape(n * Ws[-1].shape[0], -1)
              for l in range(len(Ws))]
    return np.hstack(blocks)


def null_dim(J, floor=1.49e-8):
    s = np.linalg.svd(J, compute_uv=False)
    s = s[s > floor * s[0]]
    gaps = list(s[:-1] / s[1:]) + [s[-1] / (floor * s[0] / 1.0)]
    return J.shape[1] - (int(np.argmax(gaps)) + 1)


def nullity(A):
    if A.shape[0] == 0:
        return A.shape[1]
    s = np.linalg.svd(A, compute_uv=False)
    return A.shape[1] - int((s > 1e-9 * s[0]).sum())


def structural(Ws, bs, X):
    acts, zs = fwd(Ws, bs, X)
    n, L, tot = X.shape[0], len(Ws), 0
    S = sens(Ws, zs, n)
    for l in range(L):
        at = np.hstack([acts[l], np.ones((n, 1))])
        for m in range(Ws[l].shape[0]):
            F = zs[l][:, m] > 0 if l < L - 1 else np.ones(n, bool)
            tot += nullity(at[F])
    for l in range(L - 1):
        groups = {}
        for j in range(Ws[l].shape[0]):
            F = zs[l][:, j] > 0
            if F.any() and np.abs(S[l][:, :, j]).max() > 0:
                tot += 1
                groups.setdefault(F.tobytes(), []).append(j)
        for g in groups.values():
            F = zs[l][:, g[0]] > 0
            if len(g) > 1 or F.all():
                r = len(g) - nullity(zs[l][F][:, g])
                tot += len(g) * r if F.all() else len(g) * (r - 1)
    return tot


def quantile_biases(W, A, rng):
    z = np.sort(A @ W.T, axis=0)
    k = (rng.uniform(0.3, 0.7, W.shape[0]) * len(A)).astype(int)
    return -0.5 * (z[k, np.arange(W.shape[0])] + z[k + 1, np.arange(W.shape[0])])


def make(sizes, X, rng):
    Ws, bs, a = [], [], X
    for l in range(len(sizes) - 1):
        W = rng.normal(size=(sizes[l + 1], sizes[l])) * np.sqrt(2 / sizes[l])
        b = quantile_biases(W, a, rng) if l < len(sizes) - 2 else 0.1 * rng.normal(size=sizes[l + 1])
        Ws.append(W), bs.append(b)
        a = relu(a @ W.T + b)
    return Ws, bs


def interaction_basis(acts_f, jacs, thr=1e-5):
    """rib's calculate_interaction_rotations, n_intervals=0; acts_f[l]: n x dim (bias folded).
    Returns C_l and C_l^+ for every node layer (the output layer rotated by U only)."""
    n = acts_f[0].shape[0]
    U_out = np.linalg.eigh(acts_f[-1].T @ acts_f[-1] / n)[1][:, ::-1]
    Cs, Cps = [U_out], [U_out.T]
    for l in range(len(jacs) - 1, -1, -1):
        a = acts_f[l]
        D, U = np.linalg.eigh(a.T @ a / n)
        D, U = D[::-1], U[:, ::-1]
        keep = D >= thr                                   # truncate G before D^(-1/2)
        D, U = D[keep], U[:, keep]
        CC = Cs[-1] @ Cs[-1].T
        g = 2 * np.einsum("ioj,ok,ik->ij", jacs[l], CC, acts_f[l + 1])   # grad of |C^T f_{l+1}|^2
        Md, Ld = g.T @ g / n, g.T @ a / n                 # M', Lambda'
        UDs = U * np.sqrt(D)
        V = np.linalg.eigh(UDs.T @ Md @ UDs)[1][:, ::-1]  # M = V diag V^T
        UDiV = (U / np.sqrt(D)) @ V
        Lam = np.abs(np.diag((UDs @ V).T @ Ld @ UDiV))
        idx = [i for i in np.argsort(-Lam) if Lam[i] >= thr]
        Cs.append(UDiV[:, idx] * np.sqrt(Lam[idx]))                  # C = U D^-1/2 V |L|^1/2
        Cps.append(((UDs @ V)[:, idx] / np.sqrt(Lam[idx])).T)       # C+ = |L|^-1/2 V^T D^1/2 U^T
    return Cs[::-1], Cps[::-1]


def nodes(Ws, bs, X):
    acts, zs = fwd(Ws, bs, X)
    n, L = X.shape[0], len(Ws)
    f = [np.hstack([acts[l], np.ones((n, 1))]) for l in range(L)] + [acts[L]]
    jacs = []
    for l in range(L):
        Wt = np.hstack([Ws[l], bs[l][:, None]])
        if l < L - 1:
            J = (zs[l] > 0)[:, :, None] * Wt[None]
            J = np.concatenate([J, np.zeros((n, 1, Wt.shape[1]))], axis=1)
        else:
            J = np.broadcast_to(Wt, (n,) + Wt.shape)
        jacs.append(J)
    return f, jacs


def edges(f, jacs, Cs, Cps):
    """E[j, i] = mean_x (Jhat_ji f^_i)^2, Jhat = C_{l+1}^T J C_l^+T, f^ = C_l^T f (rows: f @ C)."""
    out = []
    for l in range(len(jacs)):
        jhat = np.einsum("ok,iom,jm->ikj", Cs[l + 1], jacs[l], Cps[l])
        out.append(np.mean((jhat * (f[l] @ Cs[l])[:, None, :]) ** 2, axis=0))
    return out


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    sizes, n = [6, 10, 10, 3], 400
    X = rng.normal(size=(n, 6))
    X[:, 0] = np.sign(X[:, 0]) * (0.5 + np.abs(X[:, 0]))
    H = sum(sizes[1:-1])
    cases = {}
    Ws, bs = make(sizes, X, rng)
    cases["baseline"] = (Ws, bs, X, H)
    Xd = X.copy()
    Xd[:, 4] = Xd[:, 1] - Xd[:, 2] + 0.5
    Xd[:, 5] = 2 * Xd[:, 3] - Xd[:, 1] - 0.3
    W2, b2 = make(sizes, Xd, rng)
    cases["input dependencies"] = (W2, b2, Xd, H + 2 * sizes[1])
    W3, b3 = [w.copy() for w in Ws], [b.copy() for b in bs]
    b3[0][0] -= (X @ W3[0][0] + b3[0][0]).max() + 1
    a1 = relu(X @ W3[0].T + b3[0])
    b3[1][0] -= (a1 @ W3[1][0] + b3[1][0]).max() + 1
    cases["dead neurons"] = (W3, b3, X, H + (7 + 10 - 1) + (11 + 3 - 1) - 1)
    W4, b4 = [w.copy() for w in Ws], [b.copy() for b in bs]
    W4[0][1], b4[0][1] = 3 * W4[0][0], 3 * b4[0][0]
    cases["proportional neurons"] = (W4, b4, X, H + sizes[2])
    W5, b5 = [w.copy() for w in Ws], [b.copy() for b in bs]
    for j in (0, 1):
        W5[0][j] = np.r_[1.0, 0.05 * rng.normal(size=5)]
        b5[0][j] = 0.05 * rng.normal()
    cases["synchronised ReLUs"] = (W5, b5, X, H + 2)
    print(f"{'case':24s} textbook structural observed(J)")
    for name, (W, b, Xc, tb) in cases.items():
        print(f"{name:24s} {tb:8d} {structural(W, b, Xc):10d} {null_dim(jacobian(W, b, Xc)):10d}")
    # Interaction-basis invariance under W1 += t u v^T, v in the null space of E[x~ x~^T].
    W, b, Xc, _ = cases["input dependencies"]
    f, jacs = nodes(W, b, Xc)
    Cs, Cps = interaction_basis(f, jacs)
    E0 = edges(f, jacs, Cs, Cps)
    En0 = edges(f, jacs, [np.eye(a.shape[1]) for a in f], [np.eye(a.shape[1]) for a in f])
    v = np.linalg.eigh(f[0].T @ f[0])[1][:, 0]
    Wt = np.hstack([W[0], b[0][:, None]])
    u = rng.normal(size=10)
    Wt2 = Wt + np.linalg.norm(Wt) * np.outer(u / np.linalg.norm(u), v)
    W2m, b2m = [Wt2[:, :-1]] + W[1:], [Wt2[:, -1]] + b[1:]
    f2, jacs2 = nodes(W2m, b2m, Xc)
    Cs2, Cps2 = interaction_basis(f2, jacs2)
    E1 = edges(f2, jacs2, Cs2, Cps2)
    En1 = edges(f2, jacs2, [np.eye(a.shape[1]) for a in f2], [np.eye(a.shape[1]) for a in f2])
    rel = lambda A, B: max(np.abs(x - y).max() for x, y in zip(A, B)) / max(np.abs(x).max() for x in A)
    print("output change", np.abs(f2[-1] - f[-1]).max() / np.abs(f[-1]).max())
    print("interaction-basis edge change", rel(E0, E1), " neuron-basis edge change", rel(En0, En1))
