"""NumPy reference for grokking-stablemax (Prieto et al. 2025): bias-free ReLU MLP on (a+b) mod p,
full batch, AdamW (lr 0.01, betas (0.9, 0.99), eps 1e-25, wd 0), float32, with and without
perpendicular gradients (per parameter tensor, rescaled to the gradient's norm), and the
softmax-collapse margins of the loss.  Usage: python3 grok.py [p] [hidden] [epochs] [seeds...]"""
import sys, time
import numpy as np

def margins():
    # Zero-loss margin for 113 classes, correct logit 0, 112 competitors at -m, summed
    # competitors-first (the Rust order) vs from the max.
    for dt in (np.float16, np.float32, np.float64):
        u = float(np.finfo(dt).eps) / 2
        def zero(m, from_max):
            e = dt(np.exp(dt(-m)))
            s = dt(1) if from_max else dt(0)
            for _ in range(112):
                s = dt(s + e)
            if not from_max:
                s = dt(s + dt(1))
            return np.log(s) == 0
        out = []
        for fm in (False, True):
            lo, hi = 0.0, 200.0
            for _ in range(60):
                mid = (lo + hi) / 2
                lo, hi = (lo, mid) if zero(mid, fm) else (mid, hi)
            out.append(hi)
        print(f"{dt.__name__}: competitors-first {out[0]:.3f} (ln(112/u) {np.log(112/u):.3f}), "
              f"from-max {out[1]:.3f} (ln(1/u) {np.log(1/u):.3f})")

def run(p, h, epochs, seed, ortho, frac=0.4, lr=0.01, dt=np.float32):
    rng = np.random.default_rng(seed)
    pairs = np.array([(a, b) for a in range(p) for b in range(p)])
    perm = rng.permutation(len(pairs)); ntr = round(frac * len(pairs))
    tr, te = pairs[perm[:ntr]], pairs[perm[ntr:]]
    W = [rng.uniform(-1, 1, (2 * p, h)) / np.sqrt(2 * p), rng.uniform(-1, 1, (h, h)) / np.sqrt(h),
         rng.uniform(-1, 1, (h, p)) / np.sqrt(h)]
    W = [w.astype(dt) for w in W]
    m = [np.zeros_like(w) for w in W]; v = [np.zeros_like(w) for w in W]
    def fwd(X):
        h1 = W[0][X[:, 0]] + W[0][p + X[:, 1]]; a1 = np.maximum(h1, 0)
        h2 = a1 @ W[1]; a2 = np.maximum(h2, 0)
        return a1, a2, a2 @ W[2]
    ytr, yte = (tr.sum(1) % p), (te.sum(1) % p)
    log = {}
    for t in range(1, epochs + 1):
        a1, a2, z = fwd(tr)
        zs = z - z.max(1, keepdims=True); e = np.exp(zs); P = e / e.sum(1, keepdims=True)
        G = P; G[np.arange(ntr), ytr] -= 1; G /= ntr
        g2 = a2.T @ G; d2 = (G @ W[2].T) * (a2 > 0); g1 = a1.T @ d2; d1 = (d2 @ W[1].T) * (a1 > 0)
        g0 = np.zeros_like(W[0]); np.add.at(g0, tr[:, 0], d1); np.add.at(g0, p + tr[:, 1], d1)
        g = [g0, g1, g2]
        flat_g = np.concatenate([x.ravel() for x in g]).astype(np.float64)
        flat_w = np.concatenate([x.ravel() for x in W]).astype(np.float64)
        cos = -flat_g @ flat_w / np.linalg.norm(flat_g) / np.linalg.norm(flat_w)
        if ortho:
            for i in range(3):
                w, gi = W[i], g[i]
                gp = gi - (w * gi).sum() / ((w * w).sum() + 1e-30) * w
                g[i] = (gp * (np.linalg.norm(gi) / np.linalg.norm(gp))).astype(dt)
        for i in range(3):
            m[i] = 0.9 * m[i] + 0.1 * g[i]; v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i]
            mh = m[i] / (1 - 0.9 ** t); vh = v[i] / (1 - 0.99 ** t)
            W[i] = (W[i] - lr * mh / (np.sqrt(vh) + dt(1e-25))).astype(dt)
        if t in (50, 100, 150, 200, 300, 400, 600):
            tra = (z.argmax(1) == ytr).mean(); tea = (fwd(te)[2].argmax(1) == yte).mean()
            log[t] = (tra, tea, cos)
    return log

if __name__ == "__main__":
    if len(sys.argv) == 1:
        margins(); sys.exit()
    p, h, ep = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    seeds = [int(s) for s in sys.argv[4:]] or [0]
    for s in seeds:
        for ortho in (False, True):
            t0 = time.time(); log = run(p, h, ep, s, ortho)
            print(f"p={p} h={h} seed={s} ortho={ortho} ({time.time()-t0:.1f}s): " +
                  " ".join(f"{k}:{a:.3f}/{b:.3f}/{c:.2f}" for k, (a, b, c) in log.items()), flush=True)
