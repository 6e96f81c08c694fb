//! The measurements behind the claims: the structured-NTK check, the closed form against Monte
//! Carlo, the spectra of the limiting kernels, the kernel at initialisation over widths, and the
//! training sweep with its linear kernel dynamics and per-eigenmode decay. Every seed derivation
//! (names, grid names, cell structs) is the one the study has always used.
use crate::kernel::{self, Activation, GaussHermite, circle, circle_angles, dual, dual_mc, limit_kernels};
use crate::net::{Net, Param};
use crate::{Config, InitRun, McCheck, Mode, OutputCurve, Quantity, Spectrum, Structured, TrainRun};
use anyhow::Result;
use common::linalg::{eigh, eigvalsh};
use common::{Ctx, Estimate, Seed};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// Eigenmodes of the training kernel drawn in the `residual_modes` figure.
pub const SHOWN_MODES: usize = 6;

/// Points of a curve kept in `results.json` for a figure (the quick profile keeps all 201).
pub const CURVE_POINTS: usize = 400;

/// Relative eigenvalue threshold that separates a positive-definite Gram matrix from a singular one
/// (round-off in the eigenvalues is ~1e-16·λ_max at these sizes).
pub const PD_TOL: f64 = 1e-10;

pub fn fro(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

pub fn rel_dev(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    fro(&(a - b)) / fro(b)
}

fn row_dev(a: &Array2<f64>, b: &Array2<f64>, i: usize) -> f64 {
    let d = &a.row(i) - &b.row(i);
    d.dot(&d).sqrt() / b.row(i).dot(&b.row(i)).sqrt()
}

/// Eigenvalues (ascending), all NaN when the matrix holds a non-finite entry (faer refuses it; a
/// σ(z) = z² kernel overflows at large depth).
fn eigvalsh_or_nan(a: &Array2<f64>) -> Array1<f64> {
    if a.iter().all(|v| v.is_finite()) { eigvalsh(a) } else { Array1::from_elem(a.nrows(), f64::NAN) }
}

/// Eigen-decomposition (ascending), NaN when the matrix holds a non-finite entry.
fn eigh_or_nan(a: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    if a.iter().all(|v| v.is_finite()) {
        eigh(a)
    } else {
        (Array1::from_elem(a.nrows(), f64::NAN), Array2::from_elem(a.dim(), f64::NAN))
    }
}

/// `p` training angles drawn uniformly on the circle (sorted; distinct with probability one).
fn train_angles(p: usize, seed: Seed) -> Vec<f64> {
    use rand::Rng;
    let mut rng = seed.rng();
    let mut g: Vec<f64> = (0..p).map(|_| rng.random_range(-std::f64::consts::PI..std::f64::consts::PI)).collect();
    g.sort_by(f64::total_cmp);
    g
}

/// The evaluation points x(γ) on the unit circle, x0 = x(0), and the closed-form kernels on them.
pub struct Circle {
    pub gammas: Vec<f64>,
    pub x: Array2<f64>,
    /// Index of γ = 0.
    pub i0: usize,
    pub limit: kernel::LimitKernels,
}

impl Circle {
    pub fn new(cfg: &Config) -> Circle {
        let gammas = circle_angles(cfg.circle_points);
        let x = circle(&gammas);
        let i0 = gammas.iter().position(|g| *g == 0.0).expect("γ = 0 is a circle point (validated: even count)");
        let limit = limit_kernels(Activation::Relu, cfg.depth, cfg.beta, &x);
        Circle { gammas, x, i0, limit }
    }
    pub fn theta_inf(&self) -> &Array2<f64> {
        self.limit.ntk()
    }
}

/// C0: the structured (per-layer Gram) NTK against the contraction J Jᵀ of the materialised Jacobian.
pub fn structured_check(cfg: &Config, ctx: &Ctx) -> Structured {
    let net = Net::init(2, cfg.jacobian_width, cfg.depth, Activation::Relu, cfg.beta, ctx.seed.child("jacobian-net"));
    let x = circle(&circle_angles(8));
    let (_, theta) = net.ntk(&x);
    let j = net.jacobian(&x);
    let jjt = j.dot(&j.t());
    Structured { rel_err: fro(&(&theta - &jjt)) / fro(&jjt), n_params: net.n_params() }
}

/// C1 (recursion): the closed-form Gaussian expectations of each layer against Monte Carlo, on the
/// pairs (x0, x(γ)) at four angles; every layer l = 1 … L-1 feeds its Σ^l into the next one.
pub fn closed_form_check(cfg: &Config, ctx: &Ctx, circ: &Circle) -> Result<Vec<McCheck>> {
    let (limit, gammas, i0) = (&circ.limit, &circ.gammas, circ.i0);
    let m = gammas.len();
    let partners = [i0, i0 + m / 6, i0 + m / 3, (i0 + m / 2 - 1) % m];
    #[derive(Serialize)]
    struct McCell {
        layer: usize,
        partner: usize,
    }
    let cells: Vec<McCell> =
        (1..cfg.depth).flat_map(|l| partners.iter().map(move |&j| McCell { layer: l, partner: j })).collect();
    let quad = GaussHermite::new(1);
    let res = ctx.grid("mc-check", &cells, |c, seed: Seed| {
        let s = &limit.sigma[c.layer - 1];
        let (q1, q2, cc) = (s[[i0, i0]], s[[c.partner, c.partner]], s[[i0, c.partner]]);
        let closed = dual(Activation::Relu, q1, q2, cc, &quad);
        let mc = dual_mc(Activation::Relu, q1, q2, cc, cfg.mc_samples, &mut seed.rng());
        Ok((closed, mc))
    })?;
    let mut out = vec![];
    for (c, ((k1, k0), ((m1, s1), (m0, s0)))) in cells.iter().zip(res) {
        for (quantity, closed_form, monte_carlo, mc_std_err) in
            [(Quantity::SigmaSigma, k1, m1, s1), (Quantity::DsigmaDsigma, k0, m0, s0)]
        {
            let (layer_l, gamma) = (c.layer + 1, gammas[c.partner]);
            out.push(McCheck { layer_l, gamma, quantity, closed_form, monte_carlo, mc_std_err });
        }
    }
    Ok(out)
}

/// Numerical rank: eigenvalues above `tol · λ_max`.
fn numerical_rank(ev: &Array1<f64>, tol: f64) -> usize {
    let top = ev.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    ev.iter().filter(|v| v.abs() > tol * top).count()
}

/// Prop. 2: the spectrum of Θ_∞ on `pd_points` and on `circle_points` distinct circle points, for
/// ReLU, tanh (non-polynomial) and the identity and z² (polynomial).
pub fn spectra(cfg: &Config) -> Vec<Spectrum> {
    let mut rows = vec![];
    for points in [cfg.pd_points, cfg.circle_points] {
        let xc = circle(&circle_angles(points));
        for activation in [Activation::Relu, Activation::Tanh, Activation::Identity, Activation::Square] {
            let ev = eigvalsh_or_nan(limit_kernels(activation, cfg.depth, cfg.beta, &xc).ntk());
            let lambda_max = ev[points - 1];
            rows.push(Spectrum {
                activation,
                points,
                lambda_min_over_max: ev[0] / lambda_max,
                lambda_max,
                numerical_rank: numerical_rank(&ev, PD_TOL),
            });
        }
    }
    rows
}

/// The (width, replicate) cell of the two width sweeps (its JSON seeds the network).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct WidthCell {
    width: usize,
    rep: usize,
}

fn width_cells(widths: &[usize], seeds: &[usize]) -> Vec<WidthCell> {
    widths.iter().zip(seeds).flat_map(|(&w, &n)| (0..n).map(move |rep| WidthCell { width: w, rep })).collect()
}

/// C1: the empirical NTK of random networks at initialisation against Θ_∞ on the circle.
pub fn init_sweep(cfg: &Config, ctx: &Ctx, circ: &Circle) -> Result<Vec<InitRun>> {
    let (xc, theta_inf, i0) = (&circ.x, circ.theta_inf(), circ.i0);
    let cells = width_cells(&cfg.init_widths, &cfg.init_seeds);
    ctx.grid("init-kernel", &cells, |c, seed: Seed| {
        let net = Net::init(2, c.width, cfg.depth, Activation::Relu, cfg.beta, seed.child("init"));
        let pass = net.forward(xc);
        let g = net.backward(&pass);
        common::counters::add_grads(1);
        let theta = net.ntk_from(&pass, &g, Param::Ntk);
        let standard = net.ntk_from(&pass, &g, Param::Standard);
        Ok(InitRun {
            width: c.width,
            rep: c.rep,
            dev_fro: rel_dev(&theta, theta_inf),
            dev_row: row_dev(&theta, theta_inf, i0),
            dev_fro_standard: rel_dev(&standard, theta_inf),
        })
    })
}

/// The regression task: P circle points, f*(x) = x1·x2, and the closed-form Θ_∞ on them.
pub struct TrainTask {
    x: Array2<f64>,
    y: Array1<f64>,
    theta_inf: Array2<f64>,
}

impl TrainTask {
    pub fn new(cfg: &Config, seed: Seed) -> TrainTask {
        let x = circle(&train_angles(cfg.train_points, seed));
        let y: Array1<f64> = x.rows().into_iter().map(|r| r[0] * r[1]).collect();
        let theta_inf = limit_kernels(Activation::Relu, cfg.depth, cfg.beta, &x).ntk().clone();
        TrainTask { x, y, theta_inf }
    }
}

/// Linearised GD: r_{t+1} = (I - ηΘ/P) r_t for t < `steps`, from r_0.
fn linear(theta: &Array2<f64>, r0: &Array1<f64>, eta_p: f64, steps: usize) -> Vec<Array1<f64>> {
    let mut r = r0.clone();
    let mut v = vec![r.clone()];
    for _ in 0..steps {
        r = &r - &(theta.dot(&r) * eta_p);
        v.push(r.clone());
    }
    v
}

/// A trained network's outputs f_t on the training points (t = 0 … steps) and its Θ_0 there; kept
/// only at the largest width, for the eigenmode analysis.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Trajectory {
    #[serde(with = "common::report::json_f64::vec")]
    f: Vec<f64>,
    #[serde(with = "common::report::json_f64::vec")]
    theta0: Vec<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct TrainCell {
    run: TrainRun,
    traj: Option<Trajectory>,
}

/// What the training sweep hands to `Results`.
pub struct Training {
    pub runs: Vec<TrainRun>,
    pub shown_steps: Vec<usize>,
    pub outputs: Vec<OutputCurve>,
    pub modes: Vec<Mode>,
}

/// First crossing of e^-1, log-linear interpolation between steps; NaN if never.
fn e_fold(curve: &[f64]) -> f64 {
    (1..curve.len())
        .find(|&t| curve[t] <= (-1f64).exp())
        .map(|t| {
            let (a, b) = (curve[t - 1].ln(), curve[t].ln());
            (t - 1) as f64 + (-1.0 - a) / (b - a)
        })
        .unwrap_or(f64::NAN)
}

/// C2 and C4: full-batch gradient descent at several widths, against the kernel dynamics.
pub fn training(cfg: &Config, ctx: &Ctx, task: &TrainTask, circ: &Circle) -> Result<Training> {
    let (xtr, ytr, theta_inf) = (&task.x, &task.y, &task.theta_inf);
    let (xc, i0) = (&circ.x, circ.i0);
    let p = cfg.train_points;
    let t_max = cfg.steps;
    let eta_p = cfg.lr / p as f64;
    let w_last = *cfg.train_widths.last().expect("validated: at least two widths");
    let cells = width_cells(&cfg.train_widths, &cfg.train_seeds);
    let ftraj = |f: &[f64], t: usize| Array1::from(f[t * p..(t + 1) * p].to_vec());
    let res = ctx.grid("train", &cells, |c, seed: Seed| {
        let mut net = Net::init(2, c.width, cfg.depth, Activation::Relu, cfg.beta, seed.child("init"));
        let (_, theta_c0) = net.ntk(xc);
        let mut f = Vec::with_capacity((t_max + 1) * p);
        let mut drift = Vec::with_capacity(t_max + 1);
        let mut theta0: Option<Array2<f64>> = None;
        for t in 0..=t_max {
            let pass = net.forward(xtr);
            let g = net.backward(&pass);
            common::counters::add_grads(1);
            let ft = pass.output();
            let th = net.ntk_from(&pass, &g, Param::Ntk);
            let th0 = theta0.get_or_insert_with(|| th.clone());
            drift.push(rel_dev(&th, th0));
            f.extend(ft.iter());
            if t < t_max {
                let r = &ft - ytr;
                net.gd_step(&pass, &g, &r, cfg.lr);
            }
        }
        let (_, theta_ct) = net.ntk(xc);
        let theta0 = theta0.expect("t = 0 ran");
        // The largest deviation over t of f_t from the linear dynamics, relative to ‖f_0 - f*‖.
        let r0 = &ftraj(&f, 0) - ytr;
        let n0 = r0.dot(&r0).sqrt();
        let lin_err = |theta: &Array2<f64>| {
            let lin = linear(theta, &r0, eta_p, t_max);
            (0..=t_max)
                .map(|t| {
                    let d = &(&ftraj(&f, t) - ytr) - &lin[t];
                    d.dot(&d).sqrt() / n0
                })
                .fold(0.0f64, f64::max)
        };
        let r_t = &ftraj(&f, t_max) - ytr;
        let run = TrainRun {
            width: c.width,
            rep: c.rep,
            drift_circle: rel_dev(&theta_ct, &theta_c0),
            drift_train: drift[t_max],
            lin_err_theta0: lin_err(&theta0),
            lin_err_theta_inf: lin_err(theta_inf),
            residual_ratio: (r_t.dot(&r_t) / r0.dot(&r0)).sqrt(),
            row0: theta_c0.row(i0).to_vec(),
            row_t: theta_ct.row(i0).to_vec(),
        };
        let traj = (c.width == w_last).then(|| Trajectory { f, theta0: theta0.iter().copied().collect() });
        Ok(TrainCell { run, traj })
    })?;

    let last: Vec<&Trajectory> = res.iter().filter_map(|c| c.traj.as_ref()).collect();
    let shown_steps = common::stats::thin_indices(t_max + 1, CURVE_POINTS, false);

    // Outputs vs time at the largest width (first seed): the network against the closed-form
    // linear dynamics f* + (I - ηΘ_∞/P)^t (f_0 - f*).
    let first = last[0];
    let lin_inf = linear(theta_inf, &(&ftraj(&first.f, 0) - ytr), eta_p, t_max);
    let outputs = (0..p.min(4))
        .map(|i| OutputCurve {
            network: shown_steps.iter().map(|&t| first.f[t * p + i]).collect(),
            theory: shown_steps.iter().map(|&t| ytr[i] + lin_inf[t][i]).collect(),
        })
        .collect();

    // Eigenmodes of each network's Θ_0 (Q5): the residual's projection on eigenvector k decays as
    // (1 - ηλ_k/P)^t. Seeds are pooled in quadrature, weighted by their initial projections:
    // measured m_k(t)² = Σ_s p_sk(t)² / Σ_s p_sk(0)², theory Σ_s p_sk(0)² ρ_sk^(2t) / Σ_s p_sk(0)².
    let eig0: Vec<(Array1<f64>, Array2<f64>)> =
        last.iter().map(|tr| eigh_or_nan(&Array2::from_shape_vec((p, p), tr.theta0.clone()).expect("P × P"))).collect();
    let mut modes = vec![];
    for rank in 1..=p {
        let k = p - rank; // eigh sorts ascending
        let (mut num, mut th, mut den) = (vec![0.0; t_max + 1], vec![0.0; t_max + 1], 0.0);
        for (tr, (lam_s, v_s)) in last.iter().zip(&eig0) {
            let rho = 1.0 - eta_p * lam_s[k];
            let p0 = v_s.column(k).dot(&(&ftraj(&tr.f, 0) - ytr));
            den += p0 * p0;
            for t in 0..=t_max {
                num[t] += v_s.column(k).dot(&(&ftraj(&tr.f, t) - ytr)).powi(2);
                th[t] += (p0 * rho.powi(t as i32)).powi(2);
            }
        }
        let measured: Vec<f64> = num.iter().map(|v| (v / den).sqrt()).collect();
        let theory: Vec<f64> = th.iter().map(|v| (v / den).sqrt()).collect();
        let shown = |v: &[f64]| if rank <= SHOWN_MODES { shown_steps.iter().map(|&t| v[t]).collect() } else { vec![] };
        modes.push(Mode {
            rank,
            lambda_mean: eig0.iter().map(|(l, _)| l[k]).sum::<f64>() / eig0.len() as f64,
            tau_theory: e_fold(&theory),
            tau_network: e_fold(&measured),
            measured: shown(&measured),
            theory: shown(&theory),
        });
    }
    Ok(Training { runs: res.into_iter().map(|c| c.run).collect(), shown_steps, outputs, modes })
}

/// Peak memory of the largest live arrays (and a rough time on 2 cores) of a run of `cfg`.
pub fn estimate(cfg: &Config) -> Estimate {
    let (l, c, p, s) = (cfg.depth as f64, cfg.circle_points as f64, cfg.train_points as f64, cfg.steps as f64);
    // A network of width w: (L-2) w² hidden weights plus the first/last layers and biases; a
    // forward + backward pass over n points keeps ~3 n L w values.
    let net = |w: f64| (l - 2.0) * w * w + (l + 2.0) * w + 1.0;
    let pass = |n: f64, w: f64| 3.0 * n * l * w + 3.0 * n * n;
    let w_init = *cfg.init_widths.iter().max().unwrap_or(&1) as f64;
    let w_train = *cfg.train_widths.iter().max().unwrap_or(&1) as f64;
    let cells = (cfg.init_seeds.iter().sum::<usize>() + cfg.train_seeds.iter().sum::<usize>()) as f64;
    let jobs = std::thread::available_parallelism().map_or(2.0, |n| n.get() as f64).min(cells.max(1.0));
    // Running cells: init nets, or training nets (weights + the GD step's gradients) with their
    // trajectories and the linear dynamics (3 (T+1) P).
    let init_cell = net(w_init) + pass(c, w_init);
    let train_cell = 2.0 * net(w_train) + pass(p.max(c), w_train) + 3.0 * (s + 1.0) * p + p * p;
    let running = jobs * init_cell.max(train_cell);
    // Kept: every training run's circle rows, the largest width's trajectories and Θ_0, the
    // eigenvectors, the mode curves; the limit kernels and the Jacobian check.
    let seeds_last = *cfg.train_seeds.last().unwrap_or(&1) as f64;
    let kept = cells * 2.0 * c + seeds_last * ((s + 1.0) * p + 2.0 * p * p) + 4.0 * (s + 1.0) * p;
    let q = c.max(cfg.pd_points as f64);
    let kernels = 4.0 * l * q * q;
    let jacobian = 8.0 * net(cfg.jacobian_width as f64) * 2.0;
    // Time: GEMM work at ~1e10 flop/s (small batches), Gaussian draws at ~1e8/s, Monte Carlo.
    let flops = |widths: &[usize], seeds: &[usize], per: &dyn Fn(f64) -> f64| -> f64 {
        widths.iter().zip(seeds).map(|(&w, &n)| n as f64 * per(w as f64)).sum()
    };
    let init_flops = flops(&cfg.init_widths, &cfg.init_seeds, &|w| 6.0 * c * (l - 2.0) * w * w);
    let train_flops = flops(&cfg.train_widths, &cfg.train_seeds, &|w| {
        (s + 1.0) * (6.0 * p * (l - 2.0) * w * w + 2.0 * p * p * l * w) + 6.0 * c * (l - 2.0) * w * w
    });
    let draws =
        flops(&cfg.init_widths, &cfg.init_seeds, &|w| net(w)) + flops(&cfg.train_widths, &cfg.train_seeds, &|w| net(w));
    let mc = 4.0 * (l - 1.0) * cfg.mc_samples as f64 * 3e-8;
    let seconds = (init_flops + train_flops) / 1e10 / 2.0 + draws / 1e8 / 2.0 + mc / 2.0;
    Estimate::f64s(running + kept + kernels + jacobian).seconds(seconds)
}
