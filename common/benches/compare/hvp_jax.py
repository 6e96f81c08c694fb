"""Time one gradient and one exact HVP (forward-over-reverse, jit) in JAX on CPU, float64, for the
same MLP 64-256-256-10 + softmax cross-entropy on the 1797 shipped digits as
`cargo bench --bench hvp -p common`, at the same deterministic point (see `point` in
common/benches/hvp.rs), and print ms per call plus check values (loss, |grad|, v.Hv) to compare
with the Rust summary line number for number."""
import gzip
import os
import sys
import time

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platform_name", "cpu")
import jax.numpy as jnp  # noqa: E402

SIZES = [64, 256, 256, 10]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def data():
    with gzip.open(os.path.join(ROOT, "data", "digits.csv.gz"), "rt") as f:
        a = np.loadtxt(f, delimiter=",", skiprows=1)
    x, y = a[:, :-1], a[:, -1].astype(np.int64)
    m = x.mean(axis=0)
    sd = np.sqrt(((x - m) ** 2).mean(axis=0))  # population sd, as Dataset::standardize
    x = np.where(sd > 0, (x - m) / np.where(sd > 0, sd, 1.0), 0.0)
    return jnp.asarray(x), jnp.asarray(y)


def point(act):
    """Layer l: w_k = sqrt(c/fan_in) sin(1 + 0.7k) over the layer's weights then biases (x0.1)."""
    c = 2.0 if act == "relu" else 1.0
    params, vs, off = [], [], 0
    for l in range(len(SIZES) - 1):
        din, dout = SIZES[l], SIZES[l + 1]
        std = np.sqrt(c / din)
        k = np.arange(din * dout + dout, dtype=np.float64)
        vals = std * np.sin(1.0 + 0.7 * k)
        W = vals[: din * dout].reshape(dout, din)
        b = 0.1 * vals[din * dout:]
        params.append((jnp.asarray(W), jnp.asarray(b)))
        kk = off + np.arange(din * dout + dout, dtype=np.float64)
        cv = np.cos(0.3 * kk)
        vs.append((cv[: din * dout].reshape(dout, din), cv[din * dout:]))
        off += din * dout + dout
    nv = np.sqrt(sum((a ** 2).sum() + (b ** 2).sum() for a, b in vs))
    vs = [(jnp.asarray(a / nv), jnp.asarray(b / nv)) for a, b in vs]
    return params, vs


def make_loss(act, x, y):
    sig = jnp.tanh if act == "tanh" else jax.nn.relu

    def loss(params):
        h = x
        for i, (W, b) in enumerate(params):
            h = h @ W.T + b
            if i + 1 < len(params):
                h = sig(h)
        lse = jax.nn.logsumexp(h, axis=1)
        return jnp.mean(lse - jnp.take_along_axis(h, y[:, None], axis=1)[:, 0])

    return loss


def timings(f, g, reps=31):
    """(median, min) ms of f and of g, alternating the two so background load falls on both alike
    (the min is the robust figure on a shared machine)."""
    jax.block_until_ready(f())
    jax.block_until_ready(g())
    tf, tg = [], []
    for _ in range(reps):
        for h, ts in ((f, tf), (g, tg)):
            s = time.perf_counter()
            jax.block_until_ready(h())
            ts.append((time.perf_counter() - s) * 1e3)
    return (float(np.median(tf)), min(tf)), (float(np.median(tg)), min(tg))


def main():
    x, y = data()
    print(f"jax {jax.__version__} devices {jax.devices()} x64={jax.config.jax_enable_x64}", file=sys.stderr)
    for act in ["tanh", "relu"]:
        loss = make_loss(act, x, y)
        params, v = point(act)
        vg = jax.jit(jax.value_and_grad(loss))
        hvp = jax.jit(lambda p, t: jax.jvp(jax.grad(loss), (p,), (t,))[1])
        l, g = vg(params)
        hv = hvp(params, v)
        gn = float(np.sqrt(sum(float((a ** 2).sum() + (b ** 2).sum()) for a, b in g)))
        vhv = float(sum(float((a * c).sum() + (b * d).sum()) for (a, b), (c, d) in zip(v, hv)))
        (tg, tg_min), (th, th_min) = timings(lambda: vg(params), lambda: hvp(params, v))
        print(
            f"jax  mlp 64-256-256-10 {act} softmax-ce n=1797 f64: median grad {tg:.2f} ms, hvp {th:.2f} ms, "
            f"hvp/grad {th / tg:.2f}; min grad {tg_min:.2f} ms, hvp {th_min:.2f} ms, hvp/grad {th_min / tg_min:.2f} "
            f"| loss {float(l):.12f} |grad| {gn:.12e} v.Hv {vhv:.12e}"
        )


if __name__ == "__main__":
    main()
