//! Model tests: exact HVPs against an independent hyper-dual reference and against finite
//! differences, Hessian symmetry, per-sample gradients, Gauss-Newton products, JVP/VJP adjointness.
use super::*;
use crate::linalg::tests::{assert_same_bits_in_pools, bits};
use crate::rng::{Seed, gaussian_mat, gaussian_vec};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, s};
use proptest::prelude::*;
use rand::Rng;

// ---------- helpers ----------

fn norm(a: &Array1<f64>) -> f64 {
    a.dot(a).sqrt()
}

/// Relative error `||a - b|| / max(||a||, ||b||, 1e-4)` (absolute, scaled by 1e4, when both are
/// tiny: finite differences of an exactly-zero quantity leave rounding noise).
fn rel(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    norm(&(a - b)) / norm(a).max(norm(b)).max(1e-4)
}

fn rel2(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let a1: Array1<f64> = a.iter().copied().collect();
    let b1: Array1<f64> = b.iter().copied().collect();
    rel(&a1, &b1)
}

fn scalar_rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-4)
}

/// Central difference of `f` along `v` with one Richardson step: error O(h^4).
fn fd_dir<T>(f: impl Fn(ArrayView1<f64>) -> T, w: ArrayView1<f64>, v: ArrayView1<f64>, h: f64) -> T
where
    T: std::ops::Sub<Output = T> + std::ops::Mul<f64, Output = T> + Clone,
{
    let d = |h: f64| {
        let wp = &w + &(&v * h);
        let wm = &w - &(&v * h);
        (f(wp.view()) - f(wm.view())) * (0.5 / h)
    };
    let d1 = d(h);
    let d2 = d(h / 2.0);
    (d2 * 4.0 - d1) * (1.0 / 3.0)
}

fn unit(rng: &mut impl Rng, p: usize) -> Array1<f64> {
    let v = gaussian_vec(rng, p, 1.0);
    let nv = norm(&v);
    v / nv
}

fn classes(rng: &mut impl Rng, n: usize, k: usize) -> Vec<usize> {
    (0..n).map(|_| rng.random_range(0..k)).collect()
}

fn targets_for(rng: &mut impl Rng, loss: Loss, n: usize, out: usize, soft: bool) -> Targets {
    match (loss, soft) {
        (Loss::Mse, false) => Targets::Regression(gaussian_mat(rng, n, out, 1.0)),
        (Loss::Mse, true) => Targets::Classes(classes(rng, n, out)),
        (_, false) => Targets::Classes(classes(rng, n, out)),
        // Soft labels: non-negative weights (not normalised, to exercise Q != 1).
        (_, true) => Targets::Regression(gaussian_mat(rng, n, out, 1.0).mapv(f64::abs)),
    }
}

/// Explicit Jacobian (`n*out x p`) from `p` JVP columns.
fn jacobian<M: Model>(m: &M, w: ArrayView1<f64>, x: ArrayView2<f64>) -> Array2<f64> {
    let p = m.num_params();
    let n = x.nrows();
    let k = m.num_outputs();
    let mut j = Array2::zeros((n * k, p));
    for c in 0..p {
        let mut e = Array1::zeros(p);
        e[c] = 1.0;
        let jv = m.jvp(w, x, e.view());
        j.column_mut(c).assign(&Array1::from_iter(jv.iter().copied()));
    }
    j
}

/// The checks every model must pass at one point (`w`, `x`, `y`), with FD step `h`.
/// `fd_ok` = the finite differences of the gradient along the test directions are valid (no kink
/// crossed). Panics on the first failure.
fn check_model<M: Model>(m: &M, w: &Array1<f64>, x: &Array2<f64>, y: &Targets, seed: u64, fd_ok: bool) {
    let mut rng = Seed(seed).child("dirs").rng();
    let p = m.num_params();
    let n = x.nrows();
    let k = m.num_outputs();
    let (w, xv) = (w.view(), x.view());
    let u = unit(&mut rng, p);
    let v = unit(&mut rng, p);
    let h = 1e-3;

    // Loss and loss_grad agree; gradient vs finite differences of the loss.
    let (l, g) = m.loss_grad(w, xv, y);
    assert!(scalar_rel(l, m.loss(w, xv, y)) < 1e-12, "loss_grad loss {l} vs loss {}", m.loss(w, xv, y));
    if fd_ok {
        let dl = fd_dir(|w| m.loss(w, xv, y), w, v.view(), h);
        // Scale: |g| (v is a unit vector; g.v may cancel to far below it).
        assert!((dl - g.dot(&v)).abs() < 1e-6 * norm(&g).max(1e-4), "grad.v {} vs FD {dl}", g.dot(&v));
    }

    // Default (vjp-based) gradient equals the model's.
    let f = m.forward(w, xv);
    let (_, mut gl) = m.loss_fn().value_grad(f.view(), y);
    gl /= n as f64;
    assert!(rel(&m.vjp(w, xv, gl.view()), &g) < 1e-10, "vjp-based gradient");

    // HVP vs finite differences of the gradient.
    let hv = m.hvp(w, xv, y, v.view());
    if fd_ok {
        let fd = fd_dir(|w| m.loss_grad(w, xv, y).1, w, v.view(), h);
        assert!(rel(&hv, &fd) < 1e-6, "HVP vs FD of gradient: rel {:e}\nhvp {hv}\nfd {fd}", rel(&hv, &fd));
    }

    // Symmetry u.(Hv) = v.(Hu).
    let hu = m.hvp(w, xv, y, u.view());
    assert!(scalar_rel(u.dot(&hv), v.dot(&hu)) < 1e-10, "symmetry {} vs {}", u.dot(&hv), v.dot(&hu));

    // Linearity of the HVP.
    let uv = &u * 2.0 - &v;
    let huv = m.hvp(w, xv, y, uv.view());
    assert!(rel(&huv, &(&hu * 2.0 - &hv)) < 1e-10, "HVP linearity");

    // JVP vs finite differences of the forward pass.
    let jv = m.jvp(w, xv, v.view());
    if fd_ok {
        let fd = fd_dir(|w| m.forward(w, xv), w, v.view(), h);
        assert!(rel2(&jv, &fd) < 1e-6, "JVP vs FD: rel {:e}", rel2(&jv, &fd));
    }

    // Adjointness: c.(J v) = (J^T c).v.
    let c = gaussian_mat(&mut rng, n, k, 1.0);
    let jtc = m.vjp(w, xv, c.view());
    let lhs = (&c * &jv).sum();
    assert!(scalar_rel(lhs, jtc.dot(&v)) < 1e-10, "adjointness {lhs} vs {}", jtc.dot(&v));

    // Per-sample gradients average to the full gradient; each row is the gradient of one sample.
    let ps = m.per_sample_grads(w, xv, y);
    assert_eq!(ps.dim(), (n, p));
    let mean = ps.mean_axis(ndarray::Axis(0)).unwrap();
    assert!(rel(&mean, &g) < 1e-10, "per-sample mean vs gradient: {:e}", rel(&mean, &g));
    let i = n / 2;
    let gi = m.loss_grad(w, x.slice(s![i..i + 1, ..]), &y.slice(i..i + 1)).1;
    assert!(rel(&ps.row(i).to_owned(), &gi) < 1e-10, "per-sample row");

    // GGN = J^T H_loss J / n from explicit Jacobian columns; the default gnvp agrees.
    let jm = jacobian(m, w, xv);
    let mut hl = Array2::zeros((n * k, n * k));
    for s in 0..n {
        let hs = m.loss_fn().hessian_row(f.row(s), y.row(s));
        hl.slice_mut(s![s * k..(s + 1) * k, s * k..(s + 1) * k]).assign(&hs);
    }
    let ggn = jm.t().dot(&hl).dot(&jm) / n as f64;
    let gv = m.gnvp(w, xv, y, v.view());
    assert!(rel(&gv, &ggn.dot(&v)) < 1e-10, "GGN vs explicit J^T H J: {:e}", rel(&gv, &ggn.dot(&v)));
    let fv = m.forward(w, xv);
    let jvv = m.jvp(w, xv, v.view());
    let mut hj = m.loss_fn().hess_vec(fv.view(), y, jvv.view());
    hj /= n as f64;
    assert!(rel(&gv, &m.vjp(w, xv, hj.view())) < 1e-10, "gnvp vs vjp(H jvp)");
}

// ---------- hyper-dual reference for the MLP ----------

/// Hyper-dual number `a + b e1 + c e2 + d e1 e2` (`e1^2 = e2^2 = 0`): `f(w + e1 u + e2 v)` carries
/// the exact second directional derivative `u^T ∇²f v` in `d`, independent of any backprop code.
#[derive(Clone, Copy, Debug)]
struct Hd {
    a: f64,
    b: f64,
    c: f64,
    d: f64,
}

impl Hd {
    fn cst(a: f64) -> Hd {
        Hd { a, b: 0.0, c: 0.0, d: 0.0 }
    }
    /// Apply a scalar function with value f0, first derivative f1, second derivative f2 at `a`.
    fn chain(self, f0: f64, f1: f64, f2: f64) -> Hd {
        Hd { a: f0, b: f1 * self.b, c: f1 * self.c, d: f1 * self.d + f2 * self.b * self.c }
    }
    fn tanh(self) -> Hd {
        let t = self.a.tanh();
        self.chain(t, 1.0 - t * t, -2.0 * t * (1.0 - t * t))
    }
    fn exp(self) -> Hd {
        let e = self.a.exp();
        self.chain(e, e, e)
    }
    fn ln(self) -> Hd {
        self.chain(self.a.ln(), 1.0 / self.a, -1.0 / (self.a * self.a))
    }
    fn recip(self) -> Hd {
        let r = 1.0 / self.a;
        self.chain(r, -r * r, 2.0 * r * r * r)
    }
}

impl std::ops::Add for Hd {
    type Output = Hd;
    fn add(self, o: Hd) -> Hd {
        Hd { a: self.a + o.a, b: self.b + o.b, c: self.c + o.c, d: self.d + o.d }
    }
}
impl std::ops::Sub for Hd {
    type Output = Hd;
    fn sub(self, o: Hd) -> Hd {
        Hd { a: self.a - o.a, b: self.b - o.b, c: self.c - o.c, d: self.d - o.d }
    }
}
impl std::ops::Mul for Hd {
    type Output = Hd;
    fn mul(self, o: Hd) -> Hd {
        Hd {
            a: self.a * o.a,
            b: self.a * o.b + self.b * o.a,
            c: self.a * o.c + self.c * o.a,
            d: self.a * o.d + self.b * o.c + self.c * o.b + self.d * o.a,
        }
    }
}
impl std::ops::Mul<f64> for Hd {
    type Output = Hd;
    fn mul(self, s: f64) -> Hd {
        Hd { a: self.a * s, b: self.b * s, c: self.c * s, d: self.d * s }
    }
}

fn hd_act(act: Activation, z: Hd) -> Hd {
    match act {
        Activation::Relu => {
            if z.a > 0.0 {
                z
            } else {
                Hd::cst(0.0)
            }
        }
        Activation::Tanh => z.tanh(),
        Activation::Gelu => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            let inner = (z + z * z * z * 0.044715) * c;
            z * (Hd::cst(1.0) + inner.tanh()) * 0.5
        }
        Activation::Linear => z,
    }
}

/// Mean loss of an MLP, written naively (loops, no shared code with `Mlp`), in hyper-dual numbers.
fn hd_mlp_loss(m: &Mlp, w: &[Hd], x: ArrayView2<f64>, y: &Targets) -> Hd {
    let n = x.nrows();
    let big_l = m.sizes.len() - 1;
    let mut total = Hd::cst(0.0);
    for i in 0..n {
        let mut a: Vec<Hd> = x.row(i).iter().map(|&v| Hd::cst(v)).collect();
        let mut off = 0;
        for l in 0..big_l {
            let (din, dout) = (m.sizes[l], m.sizes[l + 1]);
            let mut z = vec![Hd::cst(0.0); dout];
            for (j, zj) in z.iter_mut().enumerate() {
                for (q, aq) in a.iter().enumerate() {
                    *zj = *zj + w[off + j * din + q] * *aq;
                }
            }
            off += din * dout;
            if m.bias {
                for (j, zj) in z.iter_mut().enumerate() {
                    *zj = *zj + w[off + j];
                }
                off += dout;
            }
            a = if l + 1 < big_l { z.into_iter().map(|v| hd_act(m.act, v)).collect() } else { z };
        }
        let t = y.row(i);
        let li = match m.loss {
            Loss::Mse => {
                let mut s = Hd::cst(0.0);
                for (k, f) in a.iter().enumerate() {
                    let d = *f - Hd::cst(t.weight(k));
                    s = s + d * d;
                }
                s * 0.5
            }
            Loss::SoftmaxCe => {
                let mx = a.iter().fold(f64::NEG_INFINITY, |m, v| m.max(v.a));
                let mut z = Hd::cst(0.0);
                for f in &a {
                    z = z + (*f - Hd::cst(mx)).exp();
                }
                let lse = Hd::cst(mx) + z.ln();
                let mut s = lse * t.total();
                for (k, f) in a.iter().enumerate() {
                    s = s - *f * t.weight(k);
                }
                s
            }
            Loss::StableMaxCe => {
                let sm = |x: Hd| if x.a >= 0.0 { x + Hd::cst(1.0) } else { (Hd::cst(1.0) - x).recip() };
                let mut tot = Hd::cst(0.0);
                for f in &a {
                    tot = tot + sm(*f);
                }
                let mut s = tot.ln() * t.total();
                for (k, f) in a.iter().enumerate() {
                    s = s - sm(*f).ln() * t.weight(k);
                }
                s
            }
        };
        total = total + li;
    }
    total * (1.0 / n as f64)
}

/// `u^T ∇² L v` (and `∇L . u` in `b`) via one hyper-dual pass.
fn hd_second(m: &Mlp, w: &Array1<f64>, x: ArrayView2<f64>, y: &Targets, u: &Array1<f64>, v: &Array1<f64>) -> Hd {
    let wh: Vec<Hd> = (0..w.len()).map(|j| Hd { a: w[j], b: u[j], c: v[j], d: 0.0 }).collect();
    hd_mlp_loss(m, &wh, x, y)
}

/// Exact Hessian and gradient of an MLP's loss by hyper-dual numbers (`p^2` passes).
fn hd_hessian(m: &Mlp, w: &Array1<f64>, x: ArrayView2<f64>, y: &Targets) -> (Array1<f64>, Array2<f64>) {
    let p = w.len();
    let e = |j: usize| {
        let mut e = Array1::zeros(p);
        e[j] = 1.0;
        e
    };
    let mut h = Array2::zeros((p, p));
    let mut g = Array1::zeros(p);
    for j in 0..p {
        for k in 0..=j {
            let r = hd_second(m, w, x, y, &e(j), &e(k));
            h[[j, k]] = r.d;
            h[[k, j]] = r.d;
            if k == 0 {
                g[j] = r.b;
            }
        }
    }
    (g, h)
}

// ---------- strategies ----------

fn act_strategy() -> impl Strategy<Value = Activation> {
    prop_oneof![Just(Activation::Relu), Just(Activation::Tanh), Just(Activation::Gelu), Just(Activation::Linear)]
}
fn loss_strategy() -> impl Strategy<Value = Loss> {
    prop_oneof![Just(Loss::Mse), Just(Loss::SoftmaxCe), Just(Loss::StableMaxCe)]
}

struct MlpCase {
    m: Mlp,
    w: Array1<f64>,
    x: Array2<f64>,
    y: Targets,
}

fn mlp_case(sizes: &[usize], act: Activation, bias: bool, loss: Loss, n: usize, soft: bool, seed: u64) -> MlpCase {
    let m = Mlp::new(sizes, act, bias, loss);
    let s = Seed(seed);
    let mut w = m.init(&mut s.child("w").rng());
    // Non-zero biases so that they matter.
    if bias {
        let mut r = s.child("b").rng();
        for l in 0..m.num_layers() {
            if let (_, Some(mut b)) = m.layer_mut(w.view_mut(), l) {
                let len = b.len();
                b.assign(&gaussian_vec(&mut r, len, 0.3));
            }
        }
    }
    let x = gaussian_mat(&mut s.child("x").rng(), n, sizes[0], 1.0);
    let y = targets_for(&mut s.child("y").rng(), loss, n, *sizes.last().unwrap(), soft);
    MlpCase { m, w, x, y }
}

/// Whether a finite-difference step of length up to `h` along `v` stays clear of every kink
/// (ReLU pre-activations at 0, StableMax logits at 0). Pre-activations of layer `l` are the
/// outputs of the prefix network `sizes[..=l+1]`, whose parameters are a prefix of `w`.
fn fd_clear_of_kinks(c: &MlpCase, v: &Array1<f64>, h: f64) -> bool {
    let m = &c.m;
    let clear = |big_l: usize| {
        let sub = Mlp::new(&m.sizes[..=big_l], m.act, m.bias, Loss::Mse);
        let p = sub.num_params();
        let (w, vv) = (c.w.slice(s![..p]), v.slice(s![..p]));
        let z = sub.forward(w, c.x.view());
        let rz = sub.jvp(w, c.x.view(), vv);
        // Second-order drift is tiny for h = 1e-3; demand a wide margin.
        z.iter().zip(rz.iter()).all(|(&z, &r)| z.abs() > 4.0 * h * r.abs() + 1e-6)
    };
    let hidden_ok = m.act != Activation::Relu || (1..m.num_layers()).all(clear);
    let out_ok = m.loss != Loss::StableMaxCe || clear(m.num_layers());
    hidden_ok && out_ok
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The exact HVP equals an independent hyper-dual evaluation of `H v` to rounding, for every
    /// activation, loss, bias setting and depth; the gradient likewise.
    #[test]
    fn mlp_hvp_and_grad_match_hyperdual(
        act in act_strategy(), loss in loss_strategy(), bias in any::<bool>(), soft in any::<bool>(),
        d_in in 1usize..4, hidden in proptest::collection::vec(1usize..5, 0..3), d_out in 1usize..4,
        n in 1usize..5, seed in any::<u64>(),
    ) {
        let mut sizes = vec![d_in];
        sizes.extend(hidden);
        sizes.push(d_out);
        let c = mlp_case(&sizes, act, bias, loss, n, soft, seed);
        let p = c.m.num_params();
        let v = unit(&mut Seed(seed).child("v").rng(), p);
        let hv = c.m.hvp(c.w.view(), c.x.view(), &c.y, v.view());
        let g = c.m.loss_grad(c.w.view(), c.x.view(), &c.y).1;
        let mut hv_ref = Array1::zeros(p);
        let mut g_ref = Array1::zeros(p);
        for k in 0..p {
            let mut e = Array1::zeros(p);
            e[k] = 1.0;
            let r = hd_second(&c.m, &c.w, c.x.view(), &c.y, &e, &v);
            hv_ref[k] = r.d;
            g_ref[k] = r.b;
        }
        prop_assert!(rel(&hv, &hv_ref) < 1e-10, "hvp {} vs hyper-dual {}", hv, hv_ref);
        prop_assert!(rel(&g, &g_ref) < 1e-11, "grad {} vs hyper-dual {}", g, g_ref);
        let l_ref = hd_second(&c.m, &c.w, c.x.view(), &c.y, &v, &v).a;
        prop_assert!(scalar_rel(c.m.loss(c.w.view(), c.x.view(), &c.y), l_ref) < 1e-11);
    }

    /// The model-independent checks (FD of gradient and forward, symmetry, adjointness,
    /// per-sample gradients, explicit GGN) on random MLPs.
    #[test]
    fn mlp_generic_checks(
        act in act_strategy(), loss in loss_strategy(), bias in any::<bool>(), soft in any::<bool>(),
        d_in in 1usize..5, hidden in proptest::collection::vec(1usize..6, 0..3), d_out in 1usize..4,
        n in 1usize..6, seed in any::<u64>(),
    ) {
        let mut sizes = vec![d_in];
        sizes.extend(hidden);
        sizes.push(d_out);
        let c = mlp_case(&sizes, act, bias, loss, n, soft, seed);
        let p = c.m.num_params();
        // The directions check_model uses (same seed path).
        let mut rng = Seed(seed).child("dirs").rng();
        let u = unit(&mut rng, p);
        let v = unit(&mut rng, p);
        let fd_ok = fd_clear_of_kinks(&c, &v, 1e-3) && fd_clear_of_kinks(&c, &u, 1e-3);
        check_model(&c.m, &c.w, &c.x, &c.y, seed, fd_ok);
    }

    /// Loss gradients and Hessian-vector products with respect to the logits vs finite differences.
    #[test]
    fn loss_derivatives_match_fd(
        loss in loss_strategy(), soft in any::<bool>(), k in 1usize..6, n in 1usize..4, scale in 0.1f64..5.0,
        seed in any::<u64>(),
    ) {
        let s = Seed(seed);
        let f = gaussian_mat(&mut s.child("f").rng(), n, k, scale);
        let y = targets_for(&mut s.child("y").rng(), loss, n, k, soft);
        let r = gaussian_mat(&mut s.child("r").rng(), n, k, 1.0);
        // Stay clear of the StableMax kink at 0.
        prop_assume!(loss != Loss::StableMaxCe || f.iter().all(|v| v.abs() > 1e-2));
        let h = 1e-4 * scale.min(1.0);
        let flat = |a: &Array2<f64>| Array1::from_iter(a.iter().copied());
        let fv = flat(&f);
        let rv = flat(&r);
        let as_f = |w: ArrayView1<f64>| w.to_owned().into_shape_with_order((n, k)).unwrap();
        let (_, g) = loss.value_grad(f.view(), &y);
        let dl = fd_dir(|w| loss.value(as_f(w).view(), &y) * n as f64, fv.view(), rv.view(), h);
        // Scale: |g| |r| (the directional derivative may cancel to far below it).
        let gr = (&g * &r).sum();
        let scale = (flat(&g).dot(&flat(&g)) * rv.dot(&rv)).sqrt().max(1e-4);
        // (+1e-10: rounding noise of the difference quotient, eps |ℓ| / h.)
        prop_assert!((dl - gr).abs() < 1e-7 * scale + 1e-10, "grad.r {} vs FD {}", gr, dl);
        let hr = loss.hess_vec(f.view(), &y, r.view());
        let fd = fd_dir(|w| flat(&loss.value_grad(as_f(w).view(), &y).1), fv.view(), rv.view(), h);
        prop_assert!(rel(&flat(&hr), &fd) < 1e-6, "Hr {} vs FD {}", hr, fd);
    }
}

/// The explicit Hessian assembled column by column from exact HVPs equals the hyper-dual Hessian
/// (built entry by entry), is symmetric, and `H v` equals the HVP; for every activation and loss.
#[test]
fn explicit_hessian_matches_hyperdual_for_every_activation_and_loss() {
    for (ai, act) in [Activation::Relu, Activation::Tanh, Activation::Gelu, Activation::Linear].into_iter().enumerate()
    {
        for (li, loss) in [Loss::Mse, Loss::SoftmaxCe, Loss::StableMaxCe].into_iter().enumerate() {
            let c = mlp_case(&[3, 4, 3, 3], act, true, loss, 5, false, 100 + 10 * ai as u64 + li as u64);
            let prob = Problem::new(&c.m, c.x.view(), &c.y);
            let h = prob.hessian(c.w.view());
            let (g_ref, h_ref) = hd_hessian(&c.m, &c.w, c.x.view(), &c.y);
            assert!(rel2(&h, &h_ref) < 1e-10, "{act:?}/{loss:?}: Hessian vs hyper-dual {:e}", rel2(&h, &h_ref));
            assert!(rel2(&h, &h.t().to_owned()) < 1e-12, "{act:?}/{loss:?}: Hessian not symmetric");
            assert!(rel(&prob.grad(c.w.view()), &g_ref) < 1e-11);
            let v = unit(&mut Seed(7).rng(), prob.dim());
            assert!(rel(&h.dot(&v), &prob.hvp(c.w.view(), v.view())) < 1e-12);
            // Hessian = GGN + residual; for ReLU/linear nets with MSE the residual lives only in
            // the weight-weight blocks of adjacent layers, so just check the GGN is symmetric PSD
            // for the convex losses.
            let ggn = prob.ggn(c.w.view());
            assert!(rel2(&ggn, &ggn.t().to_owned()) < 1e-12);
            if loss != Loss::StableMaxCe {
                let ev = crate::linalg::eigvalsh(&ggn);
                let top = ev.iter().fold(0.0f64, |m, &e| m.max(e.abs()));
                assert!(ev.iter().all(|&e| e > -1e-10 * top.max(1.0)), "{act:?}/{loss:?}: GGN not PSD {ev}");
            }
        }
    }
}

/// A deep linear network with MSE is quadratic in each factor: its full Hessian at `w` equals the
/// explicit FD Hessian (built column by column from gradients), and its output equals the
/// end-to-end product.
#[test]
fn deep_linear_checks() {
    let m = DeepLinear::new(&[3, 4, 2, 3]);
    let s = Seed(5);
    let w = m.init(&mut s.child("w").rng(), 0.7);
    let x = gaussian_mat(&mut s.child("x").rng(), 6, 3, 1.0);
    let y = Targets::Regression(gaussian_mat(&mut s.child("y").rng(), 6, 3, 1.0));
    check_model(&m, &w, &x, &y, 11, true);
    let prod = m.product(w.view());
    assert!(rel2(&m.forward(w.view(), x.view()), &x.dot(&prod.t())) < 1e-12);
    let prob = Problem::new(&m, x.view(), &y);
    let h = prob.hessian(w.view());
    let p = m.num_params();
    let mut hfd = Array2::zeros((p, p));
    for j in 0..p {
        let mut e = Array1::zeros(p);
        e[j] = 1.0;
        hfd.column_mut(j).assign(&fd_dir(|w| prob.grad(w), w.view(), e.view(), 1e-3));
    }
    assert!(rel2(&h, &hfd) < 1e-7, "deep linear Hessian vs FD columns {:e}", rel2(&h, &hfd));
}

#[test]
fn factorized_checks() {
    for symmetric in [false, true] {
        let (mm, nn, k) = (4, if symmetric { 4 } else { 3 }, 2);
        let m = Factorized::new(mm, nn, k, symmetric);
        let s = Seed(17 + symmetric as u64);
        let w = m.init(&mut s.child("w").rng(), 0.8);
        // Sensing.
        let mats: Vec<Array2<f64>> =
            (0..7u64).map(|i| gaussian_mat(&mut s.child_idx("a", i).rng(), mm, nn, 1.0)).collect();
        let x = m.sensing_input(&mats);
        let ystar: Vec<f64> = gaussian_vec(&mut s.child("y").rng(), 7, 1.0).to_vec();
        let y = Targets::scalar(&ystar);
        check_model(&m, &w, &x, &y, 21, true);
        let wm = m.product(w.view());
        let f = m.forward(w.view(), x.view());
        for (i, a) in mats.iter().enumerate() {
            assert!((f[[i, 0]] - (a * &wm).sum()).abs() < 1e-12);
        }
        // Entries (with a repeated entry).
        let entries = [(0, 1), (2, 2), (3, 0), (1, 1), (0, 1), (3, 2)];
        let x = m.entries_input(&entries);
        let y = Targets::scalar(&ystar[..entries.len()]);
        check_model(&m, &w, &x, &y, 22, true);
        let f = m.forward(w.view(), x.view());
        for (i, &(r, c)) in entries.iter().enumerate() {
            assert!((f[[i, 0]] - wm[[r, c]]).abs() < 1e-12);
        }
        // Explicit Hessian vs FD columns.
        let prob = Problem::new(&m, x.view(), &y);
        let h = prob.hessian(w.view());
        let p = m.num_params();
        for j in 0..p {
            let mut e = Array1::zeros(p);
            e[j] = 1.0;
            let col = fd_dir(|w| prob.grad(w), w.view(), e.view(), 1e-3);
            assert!(rel(&h.column(j).to_owned(), &col) < 1e-7);
        }
    }
}

#[test]
fn lsa_checks() {
    let m = Lsa::new(3, 5);
    let s = Seed(23);
    let w = m.init(&mut s.child("w").rng(), 0.5);
    let prompts = 6;
    let mut x = Array2::zeros((prompts, m.input_width()));
    let mut yq = vec![];
    for p in 0..prompts {
        let mut r = s.child_idx("prompt", p as u64).rng();
        let beta = gaussian_vec(&mut r, 3, 1.0);
        let cx = gaussian_mat(&mut r, 5, 3, 1.0);
        let cy = cx.dot(&beta);
        let q = gaussian_vec(&mut r, 3, 1.0);
        x.row_mut(p).assign(&m.pack_prompt(cx.view(), cy.view(), q.view()));
        yq.push(q.dot(&beta));
    }
    let y = Targets::scalar(&yq);
    check_model(&m, &w, &x, &y, 31, true);
    // One GD step: ŷ = (eta / n) sum_i y_i x_i . x_q.
    let eta = 0.7;
    let f = m.forward(m.gd_params(eta).view(), x.view());
    for p in 0..prompts {
        let (z, q) = m.prompt(x.row(p));
        let mut want = 0.0;
        for i in 0..5 {
            want += z[[i, 3]] * z.row(i).slice(s![..3]).dot(&q);
        }
        want *= eta / 5.0;
        assert!((f[[p, 0]] - want).abs() < 1e-12, "{} vs {want}", f[[p, 0]]);
    }
    // Explicit Hessian against FD columns.
    let prob = Problem::new(&m, x.view(), &y);
    let h = prob.hessian(w.view());
    let pp = m.num_params();
    for j in 0..pp {
        let mut e = Array1::zeros(pp);
        e[j] = 1.0;
        let col = fd_dir(|w| prob.grad(w), w.view(), e.view(), 1e-3);
        assert!(rel(&h.column(j).to_owned(), &col) < 1e-7);
    }
}

/// Softmax CE through a whole network stays finite with logits of order 1e4.
#[test]
fn mlp_softmax_ce_stable_for_huge_logits() {
    let m = Mlp::new(&[2, 3], Activation::Linear, true, Loss::SoftmaxCe);
    let mut w = Array1::zeros(m.num_params());
    w.slice_mut(s![..6]).assign(&Array1::from(vec![1e4, 0.0, 0.0, 1e4, -1e4, -1e4]));
    let x = ndarray::array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
    let y = Targets::Classes(vec![0, 2, 1]);
    let (l, g) = m.loss_grad(w.view(), x.view(), &y);
    assert!(l.is_finite() && g.iter().all(|v| v.is_finite()));
    // Sample 0: logits (1e4, 0, -1e4), class 0 -> 0; sample 1: (0, 1e4, -1e4), class 2 -> 2e4;
    // sample 2: (1e4, 1e4, -2e4), class 1 -> log 2.
    assert!((l - (2e4 + 2f64.ln()) / 3.0).abs() < 1e-9, "{l}");
    let hv = m.hvp(w.view(), x.view(), &y, Array1::ones(m.num_params()).view());
    assert!(hv.iter().all(|v| v.is_finite()));
}

#[test]
fn activation_derivatives_match_fd() {
    for act in [Activation::Tanh, Activation::Gelu, Activation::Relu, Activation::Linear] {
        for &z in &[-3.1, -0.7, -0.05, 0.2, 1.3, 4.0] {
            let h = 1e-5;
            let a = act.apply(z);
            let d1 = (act.apply(z + h) - act.apply(z - h)) / (2.0 * h);
            let (g1, g2) = act.d12(z, a);
            assert!((g1 - d1).abs() < 1e-8, "{act:?} d1 at {z}");
            assert!((act.d1(z, a) - g1).abs() < 1e-15);
            let d2 = (act.d1(z + h, act.apply(z + h)) - act.d1(z - h, act.apply(z - h))) / (2.0 * h);
            assert!((g2 - d2).abs() < 1e-7, "{act:?} d2 at {z}: {g2} vs {d2}");
        }
    }
    // GELU (tanh form) at a few reference values: 0.5 z (1 + tanh(sqrt(2/pi)(z + 0.044715 z^3))).
    assert!((Activation::Gelu.apply(1.0) - 0.841_191_990_607_477_6).abs() < 1e-12);
}

#[test]
fn mlp_layout_and_init_scaling() {
    let m = Mlp::new(&[200, 300, 10], Activation::Relu, true, Loss::SoftmaxCe);
    assert_eq!(m.num_params(), 200 * 300 + 300 + 300 * 10 + 10);
    let w = m.init(&mut Seed(1).rng());
    let (w0, b0) = m.layer(w.view(), 0);
    assert_eq!(w0.dim(), (300, 200));
    assert!(b0.unwrap().iter().all(|&b| b == 0.0));
    let var = w0.mapv(|v| v * v).mean().unwrap();
    assert!((var - 2.0 / 200.0).abs() < 0.05 * 2.0 / 200.0, "He variance {var}");
    let (w1, _) = m.layer(w.view(), 1);
    assert_eq!(w1.dim(), (10, 300));
    let mt = Mlp::new(&[200, 300], Activation::Tanh, false, Loss::Mse);
    let wt = mt.init(&mut Seed(2).rng());
    let var = wt.mapv(|v| v * v).mean().unwrap();
    assert!((var - 1.0 / 200.0).abs() < 0.05 / 200.0, "LeCun variance {var}");
    // Weight row j = incoming weights of unit j: forward of a one-hot input picks a column.
    let x = Array2::from_shape_fn((1, 200), |(_, j)| f64::from(u8::from(j == 7)));
    let f = mt.forward(wt.view(), x.view());
    let (wl, _) = mt.layer(wt.view(), 0);
    assert!(rel(&f.row(0).to_owned(), &wl.column(7).to_owned()) < 1e-15);
}

/// Strided parameter and direction views give the same results as contiguous ones.
#[test]
fn non_contiguous_parameters() {
    let c = mlp_case(&[3, 4, 2], Activation::Tanh, true, Loss::SoftmaxCe, 4, false, 3);
    let p = c.m.num_params();
    let mut big = Array1::zeros(2 * p);
    big.slice_mut(s![..;2]).assign(&c.w);
    let ws = big.slice(s![..;2]);
    let v = unit(&mut Seed(4).rng(), p);
    let a = c.m.hvp(c.w.view(), c.x.view(), &c.y, v.view());
    let b = c.m.hvp(ws, c.x.view(), &c.y, v.view());
    assert_eq!(a, b);
    assert_eq!(c.m.loss_grad(ws, c.x.view(), &c.y).1, c.m.loss_grad(c.w.view(), c.x.view(), &c.y).1);
}

#[test]
fn grad_hvp_matches_separate_calls() {
    let c = mlp_case(&[4, 6, 5, 3], Activation::Gelu, true, Loss::SoftmaxCe, 7, false, 9);
    let v = unit(&mut Seed(10).rng(), c.m.num_params());
    let (l, g, hv) = c.m.grad_hvp(c.w.view(), c.x.view(), &c.y, v.view());
    let (l2, g2) = c.m.loss_grad(c.w.view(), c.x.view(), &c.y);
    assert_eq!(l, l2);
    assert!(rel(&g, &g2) < 1e-15);
    assert!(rel(&hv, &c.m.hvp(c.w.view(), c.x.view(), &c.y, v.view())) < 1e-15);
}

/// `Problem` counts gradients and HVPs; the operators apply the HVP / GGN at their fixed point.
#[test]
fn problem_counts_and_operators() {
    let c = mlp_case(&[3, 5, 2], Activation::Tanh, true, Loss::Mse, 8, false, 12);
    let prob = Problem::new(&c.m, c.x.view(), &c.y);
    let v = unit(&mut Seed(13).rng(), prob.dim());
    let (g0, h0) = crate::counters::snapshot();
    let _ = prob.loss_grad(c.w.view());
    let hv = prob.hvp(c.w.view(), v.view());
    let gv = prob.gnvp(c.w.view(), v.view());
    let (g1, h1) = crate::counters::snapshot();
    // Other tests run in parallel and also count: at least ours.
    assert!(g1 - g0 >= 1 && h1 - h0 >= 2);
    let hop = prob.hessian_op(c.w.view());
    let gop = prob.ggn_op(c.w.view());
    assert_eq!(LinOp::dim(&hop), prob.dim());
    assert_eq!(hop.apply(v.view()), hv);
    assert_eq!(gop.apply(v.view()), gv);
    assert_eq!(prob.n(), 8);
    // Mini-batch targets.
    let idx = [5, 1, 3];
    let sub = c.y.select(&idx);
    let xs = c.x.select(ndarray::Axis(0), &idx);
    let ps = Problem::new(&c.m, xs.view(), &sub);
    let full = prob.per_sample_grads(c.w.view());
    let mean = (&full.row(5) + &full.row(1) + full.row(3)) / 3.0;
    assert!(rel(&ps.grad(c.w.view()), &mean) < 1e-12);
    assert!(prob.accuracy(c.w.view()).is_finite());
    // A type-erased model works the same.
    let dynm: &dyn Model = &c.m;
    let pd = Problem::new(dynm, c.x.view(), &c.y);
    assert_eq!(pd.hessian_op(c.w.view()).apply(v.view()), hv);
    let acts = c.m.activations(c.w.view(), c.x.view());
    assert_eq!(acts.len(), 2);
    assert_eq!(acts[1], c.m.forward(c.w.view(), c.x.view()));
    let (w0, b0) = c.m.layer(c.w.view(), 0);
    let want = (c.x.dot(&w0.t()) + b0.unwrap()).mapv(f64::tanh);
    assert!(rel2(&acts[0], &want) < 1e-14);
}

#[test]
fn accuracy_counts_argmax_hits() {
    let f = ndarray::array![[0.1, 0.9], [2.0, -1.0], [0.3, 0.4]];
    assert_eq!(accuracy(f.view(), &Targets::Classes(vec![1, 0, 0])), 2.0 / 3.0);
}

#[test]
fn fast_tanh_matches_libm() {
    use super::mlp::fast_tanh;
    let mut worst: f64 = 0.0;
    for i in 0..=400_000 {
        for x in [-30.0 + 60.0 * i as f64 / 4e5, (i as f64 - 2e5) * 1e-8] {
            let (a, b) = (fast_tanh(x), x.tanh());
            if b != 0.0 {
                worst = worst.max(((a - b) / b).abs());
            } else {
                assert_eq!(a, 0.0);
            }
        }
    }
    assert!(worst < 1e-15, "fast_tanh max relative error {worst:e}");
    assert_eq!(fast_tanh(f64::INFINITY), 1.0);
    assert_eq!(fast_tanh(-1e300), -1.0);
    assert!(fast_tanh(f64::NAN).is_nan());
}

/// Large batches are split into row chunks (a function of `n` only): the result equals the
/// unsplit pass to rounding and is bitwise identical whatever the thread count.
#[test]
fn chunked_passes_match_unchunked_and_ignore_the_thread_count() {
    let mut rng = Seed(17).rng();
    let n = 2100; // 4 chunks of 525 rows (width 9: at most 1024 rows per chunk)
    let m = Mlp::new(&[6, 9, 4], Activation::Tanh, true, Loss::SoftmaxCe);
    let x = gaussian_mat(&mut rng, n, 6, 1.0);
    let y = Targets::Classes(classes(&mut rng, n, 4));
    let w = m.init(&mut rng);
    let v = unit(&mut rng, m.num_params());
    let whole = |f: &dyn Fn() -> (f64, Array1<f64>, Array1<f64>, Array1<f64>)| crate::linalg::dense::sequential(f);
    let run = || {
        let (l, g) = m.loss_grad(w.view(), x.view(), &y);
        (l, g, m.hvp(w.view(), x.view(), &y, v.view()), m.gnvp(w.view(), x.view(), &y, v.view()))
    };
    let (l0, g0, h0, n0) = whole(&run);
    let (l1, g1, h1, n1) = run();
    assert!(scalar_rel(l1, l0) < 1e-14);
    assert!(rel(&g1, &g0) < 1e-13 && rel(&h1, &h0) < 1e-13 && rel(&n1, &n0) < 1e-13);
    let (lg, gg, hg) = m.grad_hvp(w.view(), x.view(), &y, v.view());
    assert!(scalar_rel(lg, l0) < 1e-14 && rel(&gg, &g0) < 1e-13 && rel(&hg, &h0) < 1e-13);
    assert_same_bits_in_pools(|| {
        let (l, g, h, gn) = run();
        vec![
            ("loss".into(), bits([&l])),
            ("grad".into(), bits(&g)),
            ("hvp".into(), bits(&h)),
            ("gnvp".into(), bits(&gn)),
        ]
    });
}

// ---------- the autodiff tape agrees with the MLP's exact gradient ----------

/// An MLP recorded on `autodiff::Tape` (weights as `out x in` leaves, `Z = A Wᵀ + 1 bᵀ`) gives the
/// loss and gradient of [`Mlp::loss_grad`] for MSE (`0.5 Σ (f − y)² / n`, composed from tape ops)
/// and softmax cross-entropy (the tape's fused loss), with and without biases.
#[test]
fn autodiff_tape_matches_mlp_exact_gradient() {
    use crate::autodiff::{Tape, Var};
    let cases = [
        (Activation::Tanh, true, Loss::SoftmaxCe),
        (Activation::Relu, true, Loss::Mse),
        (Activation::Linear, false, Loss::Mse),
        (Activation::Relu, false, Loss::SoftmaxCe),
    ];
    for (s, &(act, bias, loss)) in cases.iter().enumerate() {
        let m = Mlp::new(&[4, 7, 5, 3], act, bias, loss);
        let mut rng = Seed(700 + s as u64).rng();
        let mut w = m.init(&mut rng);
        if bias {
            w.mapv_inplace(|v| v + 0.1 * rng.random::<f64>()); // non-zero biases
        }
        let n = 9;
        let x = gaussian_mat(&mut rng, n, 4, 1.0);
        let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..3)).collect();
        let y = match loss {
            Loss::Mse => Targets::Regression(gaussian_mat(&mut rng, n, 3, 1.0)),
            _ => Targets::Classes(labels.clone()),
        };
        let (l_ref, g_ref) = m.loss_grad(w.view(), x.view(), &y);

        let t = Tape::new();
        let mut params: Vec<Var> = vec![];
        let mut a = t.constant(x.clone());
        for l in 0..m.num_layers() {
            let (wl, bl) = m.layer(w.view(), l);
            let wv = t.param(wl.to_owned());
            params.push(wv);
            let mut z = t.matmul(a, t.transpose(wv));
            if let Some(bl) = bl {
                let bv = t.param(bl.to_owned());
                params.push(bv);
                z = t.add(z, bv); // a row broadcast
            }
            a = if l + 1 < m.num_layers() {
                match act {
                    Activation::Tanh => t.tanh(z),
                    Activation::Relu => t.relu(z),
                    Activation::Linear => z,
                    Activation::Gelu => unreachable!(),
                }
            } else {
                z
            };
        }
        let lv = match &y {
            Targets::Regression(yr) => {
                let d = t.sub(a, t.constant(yr.clone()));
                t.scale(t.sum(t.square(d)), 0.5 / n as f64)
            }
            Targets::Classes(c) => t.softmax_cross_entropy(a, c),
        };
        let grads = t.grad(lv, &params).unwrap();
        let g_tape: Array1<f64> = grads.iter().flat_map(|g| g.iter().copied()).collect();
        assert!(scalar_rel(t.item(lv), l_ref) < 1e-13, "case {s}: loss {} vs {l_ref}", t.item(lv));
        assert!(rel(&g_tape, &g_ref) < 1e-12, "case {s}: gradient rel error {:e}", rel(&g_tape, &g_ref));
    }
}
