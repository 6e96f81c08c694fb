//! AdaSketch-Newton (Hong, Na, Mahoney & Kolar 2023, Alg. 1; the repo's
//! `CUTEst/AdaSketchNewtonRK/AdaSketchNewtonRK.jl`): Newton–SQP steps on the exact augmented
//! Lagrangian merit `L_η(x, λ) = f + cᵀλ + (η₁/2)‖c‖² + (η₂/2)‖∇ₓL‖²`, with the KKT system solved
//! inexactly by randomized Kaczmarz (or a Gaussian sketch, or exactly by LU for the baseline)
//! up to the adaptive accuracy `‖A‖_F·ψ·‖r‖ ≤ θ_k·δ·‖b‖`, penalty updates when the sketched step
//! is not a sufficient descent direction, and an Armijo backtracking line search on `L_η`.
use crate::problems::{Eval, Problem};
use common::linalg::{eigh, eigvalsh, solve};
use common::solve::sketch::{Sampling, SketchOpts, gaussian_sketch, kaczmarz};
use ndarray::{Array1, Array2, s};
use serde::{Deserialize, Serialize};

/// How the KKT system is solved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Solver {
    /// Randomized Kaczmarz (the paper's RK variant).
    Kaczmarz(Sampling),
    /// The Gaussian-sketch iteration (the paper's GV variant).
    Gaussian,
    /// A dense LU solve (the exact-Newton baseline with the same merit and adaptivity).
    Exact,
}

/// The accuracy schedule θ_k.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Theta {
    /// θ_k ≡ 1 (the repo; local linear rate).
    One,
    /// θ_k = 1/(k + 1) → 0 (the superlinear variant).
    Harmonic,
}

/// Which Hessian the merit gradient's first block uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeritHessian {
    /// ∇²ₓL: the exact gradient of L_η (the paper's formula).
    Lagrangian,
    /// ∇²f: as the repo codes it (exact only when the constraints are linear).
    Objective,
    /// Test hook (a planted bug): the η₂ term of the first block dropped.
    DropEta2,
}

/// The method's parameters (the repo's `Param.jl` defaults in [`Params::repo`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Initial η₁ (weight of ‖c‖²).
    pub eta1: f64,
    /// Initial η₂ (weight of ‖∇ₓL‖²).
    pub eta2: f64,
    /// Initial δ (accuracy constant).
    pub delta: f64,
    /// ξ_B: the Hessian modification's shift and ψ's lower constant.
    pub xi_b: f64,
    /// Armijo constant β.
    pub beta: f64,
    /// Penalty growth factor ν.
    pub nu: f64,
    /// Stop at ‖∇L‖ ≤ this KKT residual.
    pub kkt_tol: f64,
    /// Outer iteration cap.
    pub max_iter: usize,
    /// Once KKT ≤ `paper_tol`, at most this many further iterations towards `kkt_tol` (status
    /// `TightStall` if they do not reach it: below ~1e-8 the merit decrease nears rounding).
    pub tight_extra: usize,
    /// The paper's tolerance (1e-4), the start of the tight phase.
    pub paper_tol: f64,
    /// Sketch-step cap per solve.
    pub max_sketch: usize,
    /// Sketch-step budget of the whole run (status `SketchBudget` when spent): a run that stalls
    /// with capped solves must not take minutes.
    pub max_total_sketch: u64,
    /// Residual check period of the sketch solver (0: every N = n + m steps).
    pub check_every: usize,
    /// θ_k.
    pub theta: Theta,
    /// The KKT solver.
    pub solver: Solver,
    /// The merit gradient's Hessian.
    pub merit_hessian: MeritHessian,
    /// `Some(c)`: the plain relative test `‖r‖ ≤ θ_k·c·‖b‖` in place of the paper's
    /// `‖A‖_F·ψ·‖r‖ ≤ θ_k·δ·‖b‖` (a binding accuracy condition, where θ_k matters).
    pub loose: Option<f64>,
}

impl Params {
    /// The repo's parameters (`CUTEst/Parameter/Param.jl`): η₁ = 1, η₂ = 0.1, δ = 0.1, ξ_B = 0.1,
    /// β = 0.1, ν = 1.5, KKT tolerance 1e-4, 10⁴ iterations, 10⁵ sketch steps.
    pub fn repo(solver: Solver, theta: Theta) -> Params {
        Params {
            eta1: 1.0,
            eta2: 0.1,
            delta: 0.1,
            xi_b: 0.1,
            beta: 0.1,
            nu: 1.5,
            kkt_tol: 1e-4,
            max_iter: 10_000,
            tight_extra: 50,
            paper_tol: 1e-4,
            max_sketch: 100_000,
            max_total_sketch: 5_000_000,
            check_every: 0,
            theta,
            solver,
            merit_hessian: MeritHessian::Lagrangian,
            loose: None,
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// KKT residual ≤ tolerance.
    Converged,
    /// The outer iteration cap.
    IterationCap,
    /// Reached the paper's tolerance but not the tight one within `tight_extra` iterations.
    TightStall,
    /// The run's sketch-step budget was spent.
    SketchBudget,
    /// σ_min(GGᵀ) < 1e-2 (the repo's singularity flag).
    Singular,
    /// No Armijo step in 60 halvings.
    LineSearch,
    /// A NaN or infinity, or a solver error.
    Failed,
}

/// The record of one run, per outer iteration k (`kkt` has one more entry than the others).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trace {
    /// ‖(∇ₓL, c)‖ at every iterate, k = 0..=K.
    pub kkt: Vec<f64>,
    /// The step size α_k.
    pub alpha: Vec<f64>,
    /// Sketch steps of the accepted solve (0 for LU).
    pub sketch_iters: Vec<u64>,
    /// Sketch steps of all solves at iteration k, re-solves after penalty updates included.
    pub sketch_iters_all: Vec<u64>,
    /// Flops of the sketch steps (all solves at iteration k).
    pub sketch_flops: Vec<u64>,
    /// Flops of the sketch solver's residual checks (all solves at iteration k).
    pub check_flops: Vec<u64>,
    /// Flops of one dense LU solve of the same KKT system: (2/3)N³ + 2N².
    pub lu_flops: Vec<u64>,
    /// Sketch solves that stopped at the cap.
    pub sketch_cap_hits: usize,
    /// ∇L_ηᵀd + (η₂/2)‖b‖² of the accepted direction (≤ 0 when the descent test passed).
    pub descent_margin: Vec<f64>,
    /// Whether the accepted direction was taken because η₁ > 1e8 or η₂ < 1e-8 (the repo's escape).
    pub forced: Vec<bool>,
    /// Penalty (η₁, η₂) updates.
    pub penalty_updates: usize,
    /// Final η₁.
    pub eta1: f64,
    /// Iterations with a Hessian modification (t_k > 0).
    pub modified: usize,
    /// Whether iteration k used a Hessian modification.
    pub modified_at: Vec<bool>,
    /// f(x_k) at every iterate, k = 0..=K.
    pub fvals: Vec<f64>,
    /// Final objective value.
    pub f: f64,
    /// Final x.
    pub x: Vec<f64>,
    /// How it ended.
    pub status: Status,
}

fn norm(v: &Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}

fn fro(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// The augmented Lagrangian merit at (x, λ) from first-order quantities.
pub fn merit(
    f: f64,
    g: &Array1<f64>,
    c: &Array1<f64>,
    jac: &Array2<f64>,
    lam: &Array1<f64>,
    eta1: f64,
    eta2: f64,
) -> f64 {
    let gl = g + &jac.t().dot(lam);
    f + c.dot(lam) + 0.5 * eta1 * c.dot(c) + 0.5 * eta2 * gl.dot(&gl)
}

/// ∇L_η = [∇ₓL + η₂ H ∇ₓL + η₁ Gᵀc ; c + η₂ G ∇ₓL] with H = ∇²ₓL (exact), ∇²f (the repo), or the
/// planted bug without the η₂ term.
pub fn merit_grad(e: &Eval, lam: &Array1<f64>, eta1: f64, eta2: f64, which: MeritHessian) -> Array1<f64> {
    let gl = &e.g + &e.jac.t().dot(lam);
    let hterm = match which {
        MeritHessian::Lagrangian => e.hl.dot(&gl) * eta2,
        MeritHessian::Objective => e.hf.dot(&gl) * eta2,
        MeritHessian::DropEta2 => Array1::zeros(gl.len()),
    };
    let top = &gl + &hterm + &(e.jac.t().dot(&e.c) * eta1);
    let bot = &e.c + &(e.jac.dot(&gl) * eta2);
    ndarray::concatenate![ndarray::Axis(0), top, bot]
}

/// The KKT residual ‖(∇ₓL, c)‖.
pub fn kkt_residual(e: &Eval, lam: &Array1<f64>) -> f64 {
    let gl = &e.g + &e.jac.t().dot(lam);
    (gl.dot(&gl) + e.c.dot(&e.c)).sqrt()
}

/// Runs the method from the problem's start; `rng` drives the sketches.
pub fn run(p: &Problem, prm: &Params, rng: &mut common::rng::StudyRng) -> Trace {
    let (n, m) = p.dims();
    let nn = n + m;
    let (mut x, mut lam) = p.start();
    let (mut eta1, mut eta2, mut delta) = (prm.eta1, prm.eta2, prm.delta);
    let mut e = p.eval(&x, &lam);
    let mut tr = Trace {
        kkt: vec![kkt_residual(&e, &lam)],
        alpha: vec![],
        sketch_iters: vec![],
        sketch_iters_all: vec![],
        sketch_flops: vec![],
        check_flops: vec![],
        lu_flops: vec![],
        sketch_cap_hits: 0,
        descent_margin: vec![],
        forced: vec![],
        penalty_updates: 0,
        eta1,
        modified: 0,
        modified_at: vec![],
        fvals: vec![e.f],
        f: e.f,
        x: x.to_vec(),
        status: Status::IterationCap,
    };
    let nnu = nn as u64;
    let check_every = if prm.check_every == 0 { nn } else { prm.check_every };
    let mut k = 0;
    let mut k_paper: Option<usize> = None;
    loop {
        let kkt = *tr.kkt.last().expect("kkt");
        if !kkt.is_finite() {
            tr.status = Status::Failed;
            break;
        }
        if kkt <= prm.kkt_tol {
            tr.status = Status::Converged;
            break;
        }
        if k >= prm.max_iter {
            tr.status = Status::IterationCap;
            break;
        }
        if kkt <= prm.paper_tol && k_paper.is_none() {
            k_paper = Some(k);
        }
        if tr.sketch_iters_all.iter().sum::<u64>() >= prm.max_total_sketch {
            tr.status = Status::SketchBudget;
            break;
        }
        if k_paper.is_some_and(|kp| k >= kp + prm.tight_extra) {
            tr.status = Status::TightStall;
            break;
        }
        // Singularity flag and Hessian modification (on the reduced Hessian ZᵀHZ).
        let ggt = e.jac.dot(&e.jac.t());
        let xi_g = eigvalsh(&ggt)[0];
        if xi_g.is_nan() || xi_g < 1e-2 {
            tr.status = Status::Singular;
            break;
        }
        let mut t = 0.0;
        if m < n {
            let (_, v) = eigh(&e.jac.t().dot(&e.jac));
            let z = v.slice(s![.., ..n - m]).to_owned();
            let red = z.t().dot(&e.hl).dot(&z);
            if eigvalsh(&red)[0] < 1e-6 {
                t = prm.xi_b + fro(&e.hl);
                tr.modified += 1;
            }
        }
        let mut bmat = e.hl.clone();
        bmat.diag_mut().mapv_inplace(|v| v + t);
        let psi = 20.0 * fro(&bmat).powi(2).max(1.0) / (xi_g.min(1.0) * prm.xi_b.min(1.0));
        let ups = fro(&e.jac).max(fro(&e.hl)).max(1.0);
        let trial = |eta1: f64, eta2: f64| (0.5 - prm.beta) * eta2 / ((1.0 + eta1 + eta2) * ups * ups * psi * psi);
        delta = delta.min(trial(eta1, eta2)).max(1e-6);
        // The KKT system A d = b.
        let mut a = Array2::zeros((nn, nn));
        a.slice_mut(s![..n, ..n]).assign(&bmat);
        a.slice_mut(s![n.., ..n]).assign(&e.jac);
        a.slice_mut(s![..n, n..]).assign(&e.jac.t());
        let gl = &e.g + &e.jac.t().dot(&lam);
        let b = -ndarray::concatenate![ndarray::Axis(0), gl, e.c];
        let bn = norm(&b);
        let an = fro(&a);
        let theta = match prm.theta {
            Theta::One => 1.0,
            Theta::Harmonic => 1.0 / (k as f64 + 1.0),
        };
        let (mut iters_all, mut sflops, mut cflops) = (0u64, 0u64, 0u64);
        let mut d;
        let mut forced = false;
        let mut iters_acc;
        let exact = match prm.solver {
            Solver::Exact => match solve(a.view(), b.view()) {
                Ok(v) => Some(v),
                Err(_) => {
                    tr.status = Status::Failed;
                    break;
                }
            },
            _ => None,
        };
        loop {
            let tol = match prm.loose {
                Some(c) => theta * c * bn,
                None => theta * delta * bn / (an * psi),
            };
            let opts = SketchOpts { tol, max_iters: prm.max_sketch, check_every };
            (d, iters_acc) = match (&exact, prm.solver) {
                (Some(v), _) => (v.clone(), 0),
                (None, solver) => {
                    let r = match solver {
                        Solver::Kaczmarz(smp) => kaczmarz(&a, &b, None, smp, &opts, rng),
                        _ => gaussian_sketch(&a, &b, None, &opts, rng),
                    };
                    match r {
                        Ok(r) => {
                            iters_all += r.iters as u64;
                            sflops += r.sketch_flops;
                            cflops += r.check_flops;
                            if !r.converged {
                                tr.sketch_cap_hits += 1;
                            }
                            (r.x, r.iters as u64)
                        }
                        Err(_) => (Array1::from_elem(nn, f64::NAN), 0),
                    }
                }
            };
            if !d.iter().all(|v| v.is_finite()) {
                break;
            }
            let gm = merit_grad(&e, &lam, eta1, eta2, prm.merit_hessian);
            let q1 = gm.dot(&d);
            if eta1 > 1e8 || eta2 < 1e-8 {
                forced = true;
                break;
            } else if q1 > -(eta2 / 2.0) * bn * bn {
                eta1 *= prm.nu * prm.nu;
                eta2 /= prm.nu;
                delta = (delta / prm.nu.powi(4)).min(trial(eta1, eta2)).max(1e-6);
                tr.penalty_updates += 1;
            } else {
                break;
            }
        }
        if !d.iter().all(|v| v.is_finite()) {
            tr.status = Status::Failed;
            break;
        }
        let gm = merit_grad(&e, &lam, eta1, eta2, prm.merit_hessian);
        let q1 = gm.dot(&d);
        let l0 = merit(e.f, &e.g, &e.c, &e.jac, &lam, eta1, eta2);
        let (dx, dl) = (d.slice(s![..n]).to_owned(), d.slice(s![n..]).to_owned());
        let mut alpha = 1.0;
        let mut ok = false;
        for _ in 0..60 {
            let (xt, lt) = (&x + &(&dx * alpha), &lam + &(&dl * alpha));
            let (f, g, c, j) = p.first_order(&xt);
            let lt_val = merit(f, &g, &c, &j, &lt, eta1, eta2);
            // Armijo, with a rounding allowance of 10 ulp of |L_η| (near a solution the
            // decrease ~KKT² falls below rounding; the repo's loop would halve forever).
            if lt_val <= l0 + alpha * prm.beta * q1 + 10.0 * f64::EPSILON * l0.abs() {
                ok = true;
                break;
            }
            alpha *= 0.5;
        }
        if !ok {
            tr.status = Status::LineSearch;
            break;
        }
        x = &x + &(&dx * alpha);
        lam = &lam + &(&dl * alpha);
        e = p.eval(&x, &lam);
        k += 1;
        tr.alpha.push(alpha);
        tr.sketch_iters.push(iters_acc);
        tr.sketch_iters_all.push(iters_all);
        tr.sketch_flops.push(sflops);
        tr.check_flops.push(cflops);
        tr.lu_flops.push(2 * nnu * nnu * nnu / 3 + 2 * nnu * nnu);
        tr.descent_margin.push(q1 + 0.5 * eta2 * bn * bn);
        tr.forced.push(forced);
        tr.modified_at.push(t > 0.0);
        tr.kkt.push(kkt_residual(&e, &lam));
        tr.fvals.push(e.f);
    }
    tr.eta1 = eta1;
    tr.f = e.f;
    tr.x = x.to_vec();
    tr
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::Problem;

    /// The merit gradient (Lagrangian Hessian) against central differences of the merit, on a
    /// nonlinear problem (HS77) where ∇²f ≠ ∇²ₓL; the repo's ∇²f version differs there.
    #[test]
    fn merit_gradient_matches_finite_differences() {
        let p = Problem::new("HS77", common::Seed(0)).unwrap();
        let x = Array1::from(vec![1.1, 1.3, 1.2, 1.4, 0.7]);
        let lam = Array1::from(vec![0.4, -0.7]);
        let (eta1, eta2) = (1.3, 0.2);
        let e = p.eval(&x, &lam);
        let g = merit_grad(&e, &lam, eta1, eta2, MeritHessian::Lagrangian);
        let gr = merit_grad(&e, &lam, eta1, eta2, MeritHessian::Objective);
        let mer = |x: &Array1<f64>, l: &Array1<f64>| {
            let (f, gg, c, j) = p.first_order(x);
            merit(f, &gg, &c, &j, l, eta1, eta2)
        };
        let h = 1e-6;
        let mut worst_repo: f64 = 0.0;
        for i in 0..7 {
            let (mut xp, mut xm, mut lp, mut lm) = (x.clone(), x.clone(), lam.clone(), lam.clone());
            if i < 5 {
                xp[i] += h;
                xm[i] -= h;
            } else {
                lp[i - 5] += h;
                lm[i - 5] -= h;
            }
            let fd = (mer(&xp, &lp) - mer(&xm, &lm)) / (2.0 * h);
            assert!((g[i] - fd).abs() < 1e-5 * (1.0 + fd.abs()), "{i}: {} vs {fd}", g[i]);
            worst_repo = worst_repo.max((gr[i] - fd).abs());
        }
        assert!(worst_repo > 1e-3, "the ∇²f gradient should be off on HS77: {worst_repo}");
    }

    #[test]
    fn exact_newton_solves_hs28_in_one_step() {
        let p = Problem::new("HS28", common::Seed(0)).unwrap();
        let prm = Params { kkt_tol: 1e-10, ..Params::repo(Solver::Exact, Theta::One) };
        let tr = run(&p, &prm, &mut common::Seed(1).rng());
        assert_eq!(tr.status, Status::Converged);
        assert_eq!(tr.kkt.len(), 2, "{:?}", tr.kkt);
        assert!(tr.f.abs() < 1e-12 && (tr.x[0] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn same_seed_same_trace() {
        let p = Problem::new("HS7", common::Seed(0)).unwrap();
        let prm = Params::repo(Solver::Kaczmarz(Sampling::Uniform), Theta::One);
        let a = run(&p, &prm, &mut common::Seed(5).rng());
        let b = run(&p, &prm, &mut common::Seed(5).rng());
        assert_eq!(a.kkt, b.kkt);
        assert_eq!(a.sketch_iters, b.sketch_iters);
    }
}
