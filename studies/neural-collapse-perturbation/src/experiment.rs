//! The cells of the experiment: one H0 draw per (λ_W, seed) with its flows and minimisers; one
//! collapsed H* and perturbation E per (λ_H, λ_W, draw) with the near-collapse analysis.
use crate::Config;
use crate::model::{Flow, Nc1, Ufm, WMode, flow, minimise, nc1_pinv, nc1_tilde, relax, stationarity, unvec, vec_of};
use common::linalg::{cholesky, haar_orthogonal, singular_values};
use common::rng::gaussian_mat;
use common::{Seed, Swept};
use ndarray::{Array2, s};
use serde::{Deserialize, Serialize};

/// Test-only switches that plant the spec's wrong implementations.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hooks {
    /// Use `F = I` instead of Theorem 4.1's map.
    pub identity_map: bool,
    /// Invert `Σ_B` without rank handling (numpy-style pinv with a negligible rcond).
    pub naive_pinv: bool,
}

/// One β of a grid cell.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BetaRun {
    /// β.
    pub beta: f64,
    /// The flow with the β term.
    pub flow: Flow,
    /// NC numbers of the minimiser `H_{1/β}`.
    pub nc_min: Nc1,
    /// `(1/K) Tr(Σ_W Σ_B⁺)` of the minimiser.
    pub nc1_min: f64,
    /// Stationarity residual of the minimiser (Frobenius, times Kn).
    pub residual: f64,
}

/// One (λ_W, seed) cell.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowCell {
    /// NC numbers of H0.
    pub nc_h0: Nc1,
    /// `(1/K) Tr(Σ_W Σ_B⁺)` of H0.
    pub nc1_h0: f64,
    /// The numerical rank of `Σ_B(H0)` and its gap.
    pub sb_rank: usize,
    /// The gap ratio at that rank.
    pub sb_gap: f64,
    /// The central-path flow (Eq. 4).
    pub central: Flow,
    /// Per β, ascending.
    pub per_beta: Vec<BetaRun>,
}

impl FlowCell {
    /// `NC̃1(H_T) / NC̃1(H0)` of the central-path flow.
    pub fn central_ratio(&self) -> f64 {
        let p = &self.central.points;
        p.last().map_or(f64::NAN, |e| e.nc.tilde / p[0].nc.tilde)
    }
    /// `NC̃1(H_{1/β}) / NC̃1(H0)` per β.
    pub fn ratios(&self) -> Vec<f64> {
        self.per_beta.iter().map(|b| b.nc_min.tilde / self.nc_h0.tilde).collect()
    }
    /// Corollary 3.2 and the β order: every minimiser converged (stationarity residual below
    /// 1e-6), every ratio below 1, strictly increasing in β.
    pub fn beta_order_ok(&self) -> bool {
        let r = self.ratios();
        self.per_beta.iter().all(|b| b.residual < 1e-6)
            && r.iter().all(|&x| x < 1.0)
            && r.windows(2).all(|w| w[0] < w[1])
    }
}

/// H0: Gaussian class means plus within-class noise.
pub fn features(cfg: &Config, seed: Seed) -> Array2<f64> {
    let means = gaussian_mat(&mut seed.child("means").rng(), cfg.d, cfg.k, 1.0);
    let noise = gaussian_mat(&mut seed.child("noise").rng(), cfg.d, cfg.k * cfg.n, cfg.noise);
    Array2::from_shape_fn((cfg.d, cfg.k * cfg.n), |(i, c)| means[[i, c / cfg.n]] + noise[[i, c]])
}

/// The flows and minimisers of one H0 draw.
pub fn flow_cell(cfg: &Config, lw: f64, seed: Seed) -> FlowCell {
    flow_cell_with(cfg, lw, seed, WMode::Optimal)
}

/// [`flow_cell`] with the W of the flow chosen (the planted lagged-W bug).
pub fn flow_cell_with(cfg: &Config, lw: f64, seed: Seed, mode: WMode) -> FlowCell {
    let p = Ufm { k: cfg.k, n: cfg.n, d: cfg.d, lw, lh: cfg.lambda_h };
    let h0 = features(cfg, seed);
    let record = 100;
    let mut central = flow(&p, &h0, 0.0, cfg.dt, cfg.steps, record, mode);
    central.h_end = None;
    let mut betas = cfg.betas.clone();
    betas.sort_by(f64::total_cmp);
    let per_beta = betas
        .iter()
        .map(|&beta| {
            let mut fl = flow(&p, &h0, beta, cfg.dt / beta.max(1.0), cfg.steps, record, WMode::Optimal);
            let start = fl.h_end.take().expect("the flow returns its end");
            let dtb = cfg.dt / beta.max(1.0);
            let (mut hm, mut residual) = minimise(&p, &h0, beta, &start, 1e-10);
            // A Newton run that stalled (non-convex region, small β): more flow, then Newton again.
            for _ in 0..4 {
                if residual <= 1e-9 {
                    break;
                }
                let more = relax(&p, &h0, beta, &hm, dtb, 2 * cfg.steps);
                (hm, residual) = minimise(&p, &h0, beta, &more, 1e-10);
            }
            let nc1_min = nc1_pinv(hm.view(), p.k, p.n).map_or(f64::NAN, |x| x.0);
            BetaRun { beta, flow: fl, nc_min: nc1_tilde(hm.view(), p.k, p.n), nc1_min, residual }
        })
        .collect();
    let (nc1_h0, sb_rank, sb_gap) = match nc1_pinv(h0.view(), p.k, p.n) {
        Ok((x, nr)) => (x, nr.rank, nr.gap),
        Err(_) => (f64::NAN, 0, f64::NAN),
    };
    FlowCell { nc_h0: nc1_tilde(h0.view(), p.k, p.n), nc1_h0, sb_rank, sb_gap, central, per_beta }
}

/// One (λ_H, λ_W, draw) near-collapse cell.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NearCell {
    /// λ_H.
    pub lambda_h: f64,
    /// λ_W.
    pub lambda_w: f64,
    /// β of the ε sweep.
    pub beta: f64,
    /// Stationarity residual of Theorem 2.1's H* for Eq. 2 with H0 = H* (Corollary 2.2: 0).
    pub collapse_residual: f64,
    /// ε values.
    pub eps: Vec<f64>,
    /// ‖H̃* − (H* + F εE)‖_F / ‖H*‖_F.
    pub error: Vec<f64>,
    /// NC1(H̃*)/NC1(H̃0), NC1 = (1/K)Tr(Σ_W Σ_B⁺).
    pub ratio_nc1: Vec<f64>,
    /// NC̃1(H̃*)/NC̃1(H̃0).
    pub ratio_tilde: Vec<f64>,
    /// Newton residual of the exact minimisers (largest).
    pub newton_residual: f64,
    /// The closed form `(β/(β + √(λ_H/λ_W)))²`.
    pub limit_theory: f64,
    /// Theorem 4.2's β.
    pub thm42_beta: f64,
    /// Largest σ_max(F_kk) over k.
    pub sigma_kk_max: f64,
    /// Smallest σ_min(F_kk) over k.
    pub sigma_kk_min: f64,
    /// Largest σ_max(F_kk̃) over k ≠ k̃.
    pub sigma_off_max: f64,
}

impl NearCell {
    /// Log-log slope of the error over ε.
    pub fn error_slope(&self) -> f64 {
        common::stats::loglog_fit(&self.eps, &self.error).slope
    }
    /// Relative error of the NC1 ratio at the smallest ε against the closed form.
    pub fn limit_error(&self) -> f64 {
        let i = (0..self.eps.len()).min_by(|&a, &b| self.eps[a].total_cmp(&self.eps[b])).unwrap_or(0);
        self.ratio_nc1.get(i).map_or(f64::NAN, |r| (r / self.limit_theory - 1.0).abs())
    }
    /// Theorem 4.2's predictions at `thm42_beta`: (σ_max(F_kk), σ_min(F_kk), σ_max(F_kk̃)).
    pub fn thm42_theory(&self) -> (f64, f64, f64) {
        let b = self.thm42_beta;
        let (lh, lw) = (self.lambda_h, self.lambda_w);
        (1.0, 1.0 - (lh / lw).sqrt() / b, 2.0 * lh * (1.0 - (lh * lw).sqrt()) / b)
    }
    /// Largest relative error of Theorem 4.2's β⁻¹ coefficients (and β |σ_max(F_kk) − 1|).
    pub fn thm42_error(&self) -> f64 {
        let b = self.thm42_beta;
        let (_, smin, soff) = self.thm42_theory();
        let e_max = (self.sigma_kk_max - 1.0).abs() * b;
        let e_min = ((1.0 - self.sigma_kk_min) / (1.0 - smin) - 1.0).abs();
        let e_off = (self.sigma_off_max / soff - 1.0).abs();
        e_max.max(e_min).max(e_off)
    }
}

fn fro(a: &Array2<f64>) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn nc1_of(h: &Array2<f64>, k: usize, n: usize, hooks: Hooks) -> f64 {
    if hooks.naive_pinv {
        let (sw, sb) = crate::model::covariances(h.view(), k, n);
        let p = common::linalg::pinv(sb.view(), Some(1e-300));
        (&sw * &p).sum() / k as f64
    } else {
        nc1_pinv(h.view(), k, n).map_or(f64::NAN, |x| x.0)
    }
}

/// The near-collapse analysis of one (λ_H, λ_W, draw).
pub fn near_cell(cfg: &Config, lh: f64, lw: f64, seed: Seed, hooks: Hooks) -> NearCell {
    let p = Ufm { k: cfg.nc_k, n: cfg.nc_n, d: cfg.nc_d, lw, lh };
    let y = p.labels();
    let q = haar_orthogonal(&mut seed.child("R").rng(), p.d);
    let r = q.slice(s![.., ..p.k]).to_owned();
    let e = gaussian_mat(&mut seed.child("E").rng(), p.d, p.k * p.n, 1.0);
    let hstar = p.collapsed(&r);
    let beta = cfg.nc_beta;
    let collapse_residual = fro(&stationarity(&p, &hstar, &hstar, beta, &y));
    // DG(H*): the Hessian of Kn·L at the collapsed point; F = β (DG + βI)⁻¹ (Theorem 4.1).
    let jac = p.field_jacobian(&hstar, &y);
    let shifted = |b: f64| {
        let mut m = jac.clone();
        m.diag_mut().mapv_inplace(|x| x + b);
        cholesky(m.view()).expect("DG(H*) + βI is positive definite")
    };
    let chol = shifted(beta);
    let f = if hooks.identity_map { Array2::eye(jac.nrows()) } else { chol.inverse() * beta };
    let (mut error, mut ratio_nc1, mut ratio_tilde, mut newton_residual) = (vec![], vec![], vec![], 0.0f64);
    let mut eps_sorted = cfg.epsilons.clone();
    eps_sorted.sort_by(f64::total_cmp);
    for &eps in &eps_sorted {
        let h0 = &hstar + &(&e * eps);
        let pred = &hstar + &unvec(&f.dot(&vec_of(&(&e * eps))), p.d);
        // Chord Newton with the Hessian at H* (the iteration contracts at rate O(ε)).
        let mut h = pred.clone();
        let mut res = f64::INFINITY;
        for _ in 0..200 {
            let g = stationarity(&p, &h, &h0, beta, &y);
            res = fro(&g);
            if res < 1e-13 {
                break;
            }
            h = &h - &unvec(&chol.solve(vec_of(&g).view()), p.d);
        }
        newton_residual = newton_residual.max(res);
        error.push(fro(&(&h - &pred)) / fro(&hstar));
        ratio_nc1.push(nc1_of(&h, p.k, p.n, hooks) / nc1_of(&h0, p.k, p.n, hooks));
        ratio_tilde.push(nc1_tilde(h.view(), p.k, p.n).tilde / nc1_tilde(h0.view(), p.k, p.n).tilde);
    }
    let limit_theory = (beta / (beta + (lh / lw).sqrt())).powi(2);
    // Theorem 4.2: the blocks of F at a large β.
    let big = cfg.thm42_beta;
    let fb = shifted(big).inverse() * big;
    let m = p.d * p.n;
    let block = |a: usize, b: usize| fb.slice(s![a * m..(a + 1) * m, b * m..(b + 1) * m]).to_owned();
    let (mut smax, mut smin, mut soff) = (f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for a in 0..p.k {
        for b in 0..p.k {
            let sv = singular_values(&block(a, b));
            if a == b {
                smax = smax.max(sv[0]);
                smin = smin.min(sv[sv.len() - 1]);
            } else {
                soff = soff.max(sv[0]);
            }
        }
    }
    NearCell {
        lambda_h: lh,
        lambda_w: lw,
        beta,
        collapse_residual,
        eps: eps_sorted,
        error,
        ratio_nc1,
        ratio_tilde,
        newton_residual,
        limit_theory,
        thm42_beta: big,
        sigma_kk_max: smax,
        sigma_kk_min: smin,
        sigma_off_max: soff,
    }
}

/// The pairs of C8: (label, in the paper's order) for every pair of near cells of the same draw
/// index that differ in one λ only (the ε → 0 limit is draw-independent, so draws pair freely).
pub fn regularisation_pairs(cells: &[&NearCell]) -> Vec<(String, bool)> {
    let mut out = vec![];
    let lim = |n: &NearCell| n.ratio_nc1[0];
    let mut hs: Vec<f64> = cells.iter().map(|n| n.lambda_h).collect();
    hs.sort_by(f64::total_cmp);
    hs.dedup();
    let mut ws: Vec<f64> = cells.iter().map(|n| n.lambda_w).collect();
    ws.sort_by(f64::total_cmp);
    ws.dedup();
    let median = |h: f64, w: f64| {
        let v: Vec<f64> = cells.iter().filter(|n| n.lambda_h == h && n.lambda_w == w).map(|n| lim(n)).collect();
        common::stats::quantile(&v, 0.5)
    };
    for &w in &ws {
        for p in hs.windows(2) {
            out.push((
                format!("λ_W = {}: λ_H {} → {}", fmt(w), fmt(p[0]), fmt(p[1])),
                median(p[1], w) < median(p[0], w),
            ));
        }
    }
    for &h in &hs {
        for p in ws.windows(2) {
            out.push((
                format!("λ_H = {}: λ_W {} → {}", fmt(h), fmt(p[0]), fmt(p[1])),
                median(h, p[1]) > median(h, p[0]),
            ));
        }
    }
    out
}

fn fmt(x: f64) -> String {
    common::report::fmt_num(x)
}

/// One row of the grid table.
#[derive(Clone, Debug, Serialize)]
pub struct GridRow {
    /// β.
    pub beta: f64,
    /// λ_W.
    pub lambda_w: f64,
    /// Median NC̃1(H_{1/β})/NC̃1(H0).
    pub ratio_tilde_median: f64,
    /// Min over seeds.
    pub ratio_tilde_min: f64,
    /// Max over seeds.
    pub ratio_tilde_max: f64,
    /// Median NC1(H_{1/β})/NC1(H0), NC1 = (1/K)Tr(Σ_W Σ_B⁺).
    pub ratio_nc1_median: f64,
    /// Largest relative one-step rise of NC̃1 along the flow with the β term.
    pub flow_max_rise: f64,
    /// Largest stationarity residual of the minimisers.
    pub residual_max: f64,
}

/// The grid table (β ascending within λ_W ascending).
pub fn grid_rows(cfg: &Config, flows: &Swept<FlowCell>) -> Vec<GridRow> {
    let mut ws = cfg.lambda_ws.clone();
    ws.sort_by(f64::total_cmp);
    let mut bs = cfg.betas.clone();
    bs.sort_by(f64::total_cmp);
    let mut rows = vec![];
    for &w in &ws {
        for (i, &b) in bs.iter().enumerate() {
            let cells: Vec<&FlowCell> = flows.iter().filter(|(c, _)| c.f64("lambda_w") == w).map(|(_, f)| f).collect();
            let rt: Vec<f64> = cells.iter().map(|f| f.ratios()[i]).collect();
            let rn: Vec<f64> = cells.iter().map(|f| f.per_beta[i].nc1_min / f.nc1_h0).collect();
            rows.push(GridRow {
                beta: b,
                lambda_w: w,
                ratio_tilde_median: common::stats::quantile(&rt, 0.5),
                ratio_tilde_min: rt.iter().copied().fold(f64::INFINITY, f64::min),
                ratio_tilde_max: rt.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                ratio_nc1_median: common::stats::quantile(&rn, 0.5),
                flow_max_rise: cells
                    .iter()
                    .map(|f| f.per_beta[i].flow.max_rise_tilde)
                    .fold(f64::NEG_INFINITY, f64::max),
                residual_max: cells.iter().map(|f| f.per_beta[i].residual).fold(0.0, f64::max),
            });
        }
    }
    rows
}

/// One row of the near-collapse table.
#[derive(Clone, Debug, Serialize)]
pub struct NearRow {
    /// The cell.
    pub cell: String,
    /// Error slope over ε.
    pub slope: f64,
    /// NC1 ratio at the smallest ε.
    pub ratio_nc1_small_eps: f64,
    /// The closed form (β/(β + √(λ_H/λ_W)))².
    pub limit_theory: f64,
    /// NC̃1 ratio at the smallest ε.
    pub ratio_tilde_small_eps: f64,
    /// σ_max(F_kk) (Theorem 4.2: 1).
    pub sigma_kk_max: f64,
    /// σ_min(F_kk).
    pub sigma_kk_min: f64,
    /// Theorem 4.2's σ_min(F_kk).
    pub sigma_kk_min_theory: f64,
    /// σ_max(F_kk̃).
    pub sigma_off_max: f64,
    /// Theorem 4.2's σ_max(F_kk̃).
    pub sigma_off_theory: f64,
    /// Stationarity residual of H* (Theorem 2.1, Corollary 2.2).
    pub collapse_residual: f64,
}

/// The near-collapse table.
pub fn near_rows(near: &Swept<NearCell>) -> Vec<NearRow> {
    near.iter()
        .map(|(c, n)| {
            let (_, smin, soff) = n.thm42_theory();
            NearRow {
                cell: c.to_string(),
                slope: n.error_slope(),
                ratio_nc1_small_eps: n.ratio_nc1[0],
                limit_theory: n.limit_theory,
                ratio_tilde_small_eps: n.ratio_tilde[0],
                sigma_kk_max: n.sigma_kk_max,
                sigma_kk_min: n.sigma_kk_min,
                sigma_kk_min_theory: smin,
                sigma_off_max: n.sigma_off_max,
                sigma_off_theory: soff,
                collapse_residual: n.collapse_residual,
            }
        })
        .collect()
}
