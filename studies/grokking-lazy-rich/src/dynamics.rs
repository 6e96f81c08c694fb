//! The model and its two integrators: the full network (W, N × D) and the exact reduced dynamics
//! of its sufficient statistics (m, M) (spec C1), the closed-form population test loss, a
//! Monte-Carlo test loss and the NTK alignment.
//!
//! f(x) = α·mean_i φ(w_i·x), φ(z) = z + εz²/2, so f(x) = α[m·x + (ε/2) xᵀMx] with m = mean_i w_i and
//! M = (1/N) Σ_i w_i w_iᵀ. With the centred loss L = mean_μ (f_μ − f0_μ − y_μ)² and η = N/α², one
//! GD step is W ← W − (1/α)(1gᵀ + εWC), g = (2/P)Xe, C = (2/P)X diag(e)Xᵀ; so with A = I − (ε/α)C:
//! m ← Am − g/α and M ← AMAᵀ − (Am gᵀ + g (Am)ᵀ)/α + ggᵀ/α², exactly, for any N.

use common::Seed;
use common::rng::gaussian_mat;
use ndarray::{Array1, Array2, Axis};

/// Deliberate mistakes, for the planted-bug tests (all `false` in the study).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bugs {
    /// Fit y instead of y with the initial output f0 subtracted (uncentred loss).
    pub uncentred: bool,
    /// Step size η = N instead of N/α² (not scaled with the laziness α).
    pub eta_not_scaled: bool,
    /// φ′(z) = 1 instead of 1 + εz in the backward pass (no feature learning through M).
    pub no_eps_in_phi_prime: bool,
}

/// One problem instance: training data, the teacher, the initial weights and test points.
pub struct Problem {
    /// Training inputs, D × P, entries N(0, 1/D).
    pub x: Array2<f64>,
    /// Targets y = (β·x)²/2.
    pub y: Array1<f64>,
    /// Teacher β ~ N(0, I_D).
    pub beta: Array1<f64>,
    /// Initial first-layer weights, N × D, entries N(0, 1).
    pub w0: Array2<f64>,
    /// Monte-Carlo test inputs, D × n_mc.
    pub x_mc: Array2<f64>,
    /// Their targets.
    pub y_mc: Array1<f64>,
    /// The NTK test inputs (the first n_ntk of the Monte-Carlo points).
    pub n_ntk: usize,
}

impl Problem {
    /// Draw a problem from `seed` (the data, the teacher, the weights and the test points each from
    /// their own child seed, so changing N or the test size never changes the data).
    pub fn draw(seed: Seed, d: usize, p: usize, n: usize, n_mc: usize, n_ntk: usize) -> Problem {
        let s = 1.0 / (d as f64).sqrt();
        let x = gaussian_mat(&mut seed.child("x").rng(), d, p, s);
        let beta = common::rng::gaussian_vec(&mut seed.child("beta").rng(), d, 1.0);
        let w0 = gaussian_mat(&mut seed.child("w").rng(), n, d, 1.0);
        let x_mc = gaussian_mat(&mut seed.child("test").rng(), d, n_mc, s);
        let target = |x: &Array2<f64>| beta.dot(x).mapv(|z| 0.5 * z * z);
        let (y, y_mc) = (target(&x), target(&x_mc));
        Problem { x, y, beta, w0, x_mc, y_mc, n_ntk: n_ntk.min(n_mc) }
    }
    /// D.
    pub fn d(&self) -> usize {
        self.x.nrows()
    }
}

/// The sufficient statistics (m, M).
#[derive(Clone, Debug)]
pub struct Stats {
    /// m = mean_i w_i.
    pub m: Array1<f64>,
    /// M = (1/N) Σ_i w_i w_iᵀ.
    pub mm: Array2<f64>,
}

impl Stats {
    /// The statistics of a weight matrix.
    pub fn of(w: &Array2<f64>) -> Stats {
        let n = w.nrows() as f64;
        Stats { m: w.mean_axis(Axis(0)).expect("N > 0"), mm: w.t().dot(w) / n }
    }
}

/// f(x) = α[m·x + (ε/2) xᵀMx] at the columns of `x`.
pub fn predict(s: &Stats, x: &Array2<f64>, alpha: f64, eps: f64) -> Array1<f64> {
    let mx = s.mm.dot(x);
    let quad = (&mx * x).sum_axis(Axis(0));
    (s.m.dot(x) + quad * (0.5 * eps)) * alpha
}

/// The population test loss E_x (f − f0 − y)² for x ~ N(0, I/D), in closed form:
/// ‖v‖²/D + (Tr Q)²/D² + 2 Tr(Q²)/D², v = α(m − m0), Q = (αε/2)(M − M0) − ββᵀ/2.
pub fn test_loss(s: &Stats, s0: &Stats, beta: &Array1<f64>, alpha: f64, eps: f64) -> f64 {
    let d = beta.len() as f64;
    let v = (&s.m - &s0.m) * alpha;
    let c = 0.5 * alpha * eps;
    let (mut tr, mut fro) = (0.0, 0.0);
    for (((i, j), &a), &b) in s.mm.indexed_iter().zip(s0.mm.iter()) {
        let q = c * (a - b) - 0.5 * beta[i] * beta[j];
        fro += q * q;
        if i == j {
            tr += q;
        }
    }
    v.dot(&v) / d + tr * tr / (d * d) + 2.0 * fro / (d * d)
}

/// The Monte-Carlo test loss and its standard error over the test points.
pub fn mc_test_loss(pb: &Problem, s: &Stats, s0: &Stats, alpha: f64, eps: f64, bugs: Bugs) -> (f64, f64) {
    let f = predict(s, &pb.x_mc, alpha, eps);
    let f0 = if bugs.uncentred { Array1::zeros(f.len()) } else { predict(s0, &pb.x_mc, alpha, eps) };
    let sq: Vec<f64> = f.iter().zip(&f0).zip(&pb.y_mc).map(|((a, b), y)| (a - b - y).powi(2)).collect();
    common::stats::mean_se(&sq)
}

/// Centred kernel alignment of the NTK on the first `n_ntk` test points with yyᵀ.
/// Θ(x, x') = (α²/N²) Σ_i φ′(w_i·x) φ′(w_i·x') x·x' = (α²/N)[1 + ε m·(x + x') + ε² xᵀMx'] x·x'
/// (the prefactor drops out of the alignment).
pub fn ntk_alignment(pb: &Problem, s: &Stats, eps: f64) -> f64 {
    let x = pb.x_mc.slice(ndarray::s![.., ..pb.n_ntk]).to_owned();
    let y = pb.y_mc.slice(ndarray::s![..pb.n_ntk]).to_owned();
    let a = s.m.dot(&x);
    let gram = x.t().dot(&x);
    let xmx = x.t().dot(&s.mm.dot(&x));
    let n = pb.n_ntk;
    let k =
        Array2::from_shape_fn((n, n), |(i, j)| (1.0 + eps * (a[i] + a[j]) + eps * eps * xmx[[i, j]]) * gram[[i, j]]);
    let yy = Array2::from_shape_fn((n, n), |(i, j)| y[i] * y[j]);
    common::stats::cka(k.view(), yy.view())
}

/// The full network's train loss over `epochs` GD steps (index t = loss before step t+1).
pub fn full_network_train(pb: &Problem, alpha: f64, eps: f64, epochs: usize, bugs: Bugs) -> Vec<f64> {
    let p = pb.x.ncols() as f64;
    let n = pb.w0.nrows() as f64;
    let eta = if bugs.eta_not_scaled { n } else { n / (alpha * alpha) };
    let mut w = pb.w0.clone();
    let out = |h: &Array2<f64>| h.mapv(|z| z + 0.5 * eps * z * z).mean_axis(Axis(0)).expect("N > 0") * alpha;
    let f0 = if bugs.uncentred { Array1::zeros(pb.y.len()) } else { out(&pb.w0.dot(&pb.x)) };
    let mut losses = Vec::with_capacity(epochs + 1);
    for t in 0..=epochs {
        let h = w.dot(&pb.x);
        let e = out(&h) - &f0 - &pb.y;
        losses.push(e.dot(&e) / p);
        if t == epochs {
            break;
        }
        // dL/dW = (α/N) [φ′(H) ∘ 1 (2e/P)ᵀ] Xᵀ.
        let de = e * (2.0 / p);
        let mut dh = if bugs.no_eps_in_phi_prime { Array2::ones(h.dim()) } else { h.mapv(|z| 1.0 + eps * z) };
        dh *= &de.insert_axis(Axis(0));
        let grad = dh.dot(&pb.x.t()) * (alpha / n);
        w.scaled_add(-eta, &grad);
    }
    losses
}

/// What one reduced run records.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Epochs of the recorded points.
    pub epochs: Vec<usize>,
    /// Train loss at them.
    pub train: Vec<f64>,
    /// Closed-form test loss at them.
    pub test: Vec<f64>,
    /// First epoch with train loss ≤ frac·initial (None if never).
    pub t_train: Option<usize>,
    /// First epoch with test loss ≤ frac·initial.
    pub t_test: Option<usize>,
    /// The maximum test loss and its epoch, and the train loss there.
    pub peak: (f64, usize, f64),
    /// Epochs actually run.
    pub epochs_run: usize,
    /// (epoch, closed form, Monte Carlo, SE) at the Monte-Carlo checkpoints reached.
    pub mc: Vec<(usize, f64, f64, f64)>,
    /// (epoch, CKA of the test NTK with yyᵀ).
    pub ntk: Vec<(usize, f64)>,
}

/// What to record.
pub struct Plan<'a> {
    /// Maximum epochs.
    pub epochs: usize,
    /// Threshold fraction of the initial loss (0.2).
    pub frac: f64,
    /// Stop once both losses reached the threshold (and every checkpoint passed).
    pub stop: bool,
    /// Epochs to record (sorted).
    pub record: &'a [usize],
    /// Epochs of the Monte-Carlo checkpoints (sorted).
    pub mc: &'a [usize],
    /// Compute the NTK alignment at every `ntk_every`-th recorded epoch (0: never).
    pub ntk_every: usize,
}

/// The reduced (m, M) dynamics from the problem's initial weights.
pub fn reduced_run(pb: &Problem, alpha: f64, eps: f64, plan: &Plan, bugs: Bugs) -> Trace {
    let d = pb.d();
    let p = pb.x.ncols() as f64;
    let s0 = Stats::of(&pb.w0);
    let mut s = s0.clone();
    let f0 = if bugs.uncentred { Array1::zeros(pb.y.len()) } else { predict(&s0, &pb.x, alpha, eps) };
    // η = N/α² gives the 1/α below; η = N gives α instead.
    let inv_a = if bugs.eta_not_scaled { alpha } else { 1.0 / alpha };
    let eps_back = if bugs.no_eps_in_phi_prime { 0.0 } else { eps };
    let mut tr = Trace { peak: (f64::NEG_INFINITY, 0, f64::NAN), ..Default::default() };
    let (mut ri, mut mi) = (0, 0);
    let (mut train0, mut test0) = (f64::NAN, f64::NAN);
    let last_mc = plan.mc.last().copied().unwrap_or(0);
    for t in 0..=plan.epochs {
        let e = predict(&s, &pb.x, alpha, eps) - &f0 - &pb.y;
        let train = e.dot(&e) / p;
        let test = test_loss(&s, &s0, &pb.beta, alpha, eps);
        if t == 0 {
            (train0, test0) = (train, test);
        }
        if test > tr.peak.0 {
            tr.peak = (test, t, train);
        }
        if tr.t_train.is_none() && train <= plan.frac * train0 {
            tr.t_train = Some(t);
        }
        if tr.t_test.is_none() && test <= plan.frac * test0 {
            tr.t_test = Some(t);
        }
        if ri < plan.record.len() && plan.record[ri] == t {
            tr.epochs.push(t);
            tr.train.push(train);
            tr.test.push(test);
            if plan.ntk_every > 0 && ri % plan.ntk_every == 0 {
                tr.ntk.push((t, ntk_alignment(pb, &s, eps)));
            }
            ri += 1;
        }
        if mi < plan.mc.len() && plan.mc[mi] == t {
            let (mc, se) = mc_test_loss(pb, &s, &s0, alpha, eps, bugs);
            tr.mc.push((t, test, mc, se));
            mi += 1;
        }
        tr.epochs_run = t;
        let done = tr.t_train.is_some() && tr.t_test.is_some() && t >= last_mc;
        if t == plan.epochs || (plan.stop && done) || !train.is_finite() {
            if tr.epochs.last() != Some(&t) {
                tr.epochs.push(t);
                tr.train.push(train);
                tr.test.push(test);
            }
            break;
        }
        // One GD step on the statistics.
        let g = pb.x.dot(&e) * (2.0 / p);
        let xe = &pb.x * &e.view().insert_axis(Axis(0));
        let c = xe.dot(&pb.x.t()) * (2.0 / p);
        let mut a = c * (-eps_back * inv_a);
        for i in 0..d {
            a[[i, i]] += 1.0;
        }
        let am = a.dot(&s.m);
        let mut mm = a.dot(&s.mm).dot(&a.t());
        for i in 0..d {
            for j in 0..d {
                mm[[i, j]] += -(am[i] * g[j] + g[i] * am[j]) * inv_a + g[i] * g[j] * inv_a * inv_a;
            }
        }
        s.m = am - &g * inv_a;
        s.mm = mm;
    }
    tr
}

/// Epochs 0..=n with about `k` points, log-spaced above 10 (every epoch up to 10).
pub fn record_epochs(n: usize, k: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..=n.min(10)).collect();
    if n > 10 {
        let (lo, hi) = (10f64.ln(), (n as f64).ln());
        for i in 1..=k {
            let t = (lo + (hi - lo) * i as f64 / k as f64).exp().round() as usize;
            if t > *v.last().expect("nonempty") && t <= n {
                v.push(t);
            }
        }
    }
    v
}
