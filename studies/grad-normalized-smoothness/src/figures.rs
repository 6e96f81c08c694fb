//! Tables, figures (mirroring the repo notebook's plots) and notes.

use crate::runs::{GM_B, GM_EUCLID, GNS_EXACT, GNS_WGN, Run};
use crate::{Config, Results, factorization_bound, window_rate};
use common::report::fmt_num as fmt;
use common::{Figure, Outcome, Series, Table};
use serde::Serialize;

/// One row of `iters_to_tol`.
#[derive(Serialize)]
struct ItersRow {
    problem: String,
    mu: f64,
    seed: usize,
    method: String,
    /// Iterations to the target; −1 when not reached within the cap.
    iterations: i64,
    iterations_run: usize,
    factorizations: u64,
    factorization_bound: f64,
    /// Modelled flops (deterministic stand-in for wall time).
    gflops: f64,
    final_gap: f64,
}

/// One row of `rates`.
#[derive(Serialize)]
struct RateRow {
    problem: String,
    mu: f64,
    seed: usize,
    method: String,
    contraction: f64,
    r2: f64,
    points: usize,
    /// The same fit over the whole run (every iterate with f − f* ≥ 1e-8).
    contraction_run: f64,
    r2_run: f64,
}

fn rows_of(problem: &str, mu: f64, seed: usize, runs: &[Run], cfg: &Config) -> Vec<ItersRow> {
    runs.iter()
        .map(|x| ItersRow {
            problem: problem.into(),
            mu,
            seed,
            method: x.method.clone(),
            iterations: x.reached().map_or(-1, |k| k as i64),
            iterations_run: x.iters_run(),
            factorizations: x.factorizations(),
            factorization_bound: if x.gns.is_some() { factorization_bound(cfg, x.iters_run()) } else { 0.0 },
            gflops: x.flops() / 1e9,
            final_gap: x.final_gap(),
        })
        .collect()
}

/// `iters_to_tol` and `rates`.
pub fn tables(cfg: &Config, r: &Results, out: &mut Outcome) {
    let mut rows = vec![];
    for (c, runs) in r.logsumexp.iter() {
        rows.extend(rows_of("logsumexp", c.f64("mu"), c.rep(), runs, cfg));
    }
    rows.extend(rows_of("logistic", 0.0, 0, &r.logistic, cfg));
    rows.extend(rows_of("rosenbrock", 0.0, 0, &r.rosenbrock, cfg));
    for (c, runs) in r.power.iter() {
        rows.extend(rows_of(c.str("problem"), 0.0, c.rep(), runs, cfg));
    }
    out.table(Table::from_rows(
        "iters_to_tol",
        "Iterations to the target (f − f* < tol; logistic: ‖∇f‖ < tol; −1: not reached), factorizations, the K3 \
         bound and modelled GFLOP of every run (mu = 0 for the problems without μ)",
        &rows,
    ));
    let mut rates = vec![];
    for (c, runs) in r.logsumexp.iter() {
        for x in runs {
            let (rate, r2, points) = window_rate(x, 1e-8, 1e-1);
            let (contraction_run, r2_run, _) = window_rate(x, 1e-8, f64::INFINITY);
            rates.push(RateRow {
                problem: "logsumexp".into(),
                mu: c.f64("mu"),
                seed: c.rep(),
                method: x.method.clone(),
                contraction: rate,
                r2,
                points,
                contraction_run,
                r2_run,
            });
        }
    }
    out.table(Table::from_rows(
        "rates",
        "Per-iteration contraction of f − f* fitted over f − f* ∈ [1e-8, 1e-1] and its R² (NaN: fewer than 3 points in the window)",
        &rates,
    ));
}

/// Median and min–max band over seeds of per-seed step curves (x ascending) on a grid; a seed that
/// stopped (reached the target) keeps its last value, up to the longest seed's end.
fn band(curves: &[Vec<(f64, f64)>], grid: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut xs, mut med, mut lo, mut hi) = (vec![], vec![], vec![], vec![]);
    let end = curves.iter().filter_map(|c| c.last().map(|p| p.0)).fold(f64::NEG_INFINITY, f64::max);
    for &g in grid.iter().filter(|&&g| g <= end) {
        let vals: Vec<f64> = curves
            .iter()
            .filter_map(|c| c.iter().rev().find(|p| p.0 <= g).map(|p| p.1))
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        if vals.is_empty() {
            continue;
        }
        xs.push(g);
        med.push(common::stats::median(&vals));
        lo.push(common::stats::min(&vals));
        hi.push(common::stats::max(&vals));
    }
    (xs, med, lo, hi)
}

fn grid_int(max: f64) -> Vec<f64> {
    let n = max.max(1.0) as usize;
    if n <= 300 {
        return (0..=n).map(|k| k as f64).collect();
    }
    common::stats::linspace(0.0, n as f64, 301).into_iter().map(f64::round).collect()
}

fn series_of(label: &str, curves: &[Vec<(f64, f64)>], grid: &[f64]) -> Option<Series> {
    let (x, y, lo, hi) = band(curves, grid);
    if x.is_empty() {
        return None;
    }
    let s = if curves.len() > 1 { Series::line(label, x, y).with_band(lo, hi) } else { Series::line(label, x, y) };
    Some(s)
}

/// A "f − f* vs iteration" figure from groups of runs (one series per method).
fn gap_figure(name: &str, title: &str, groups: &[&[Run]], methods: &[&str], x_flops: bool) -> Figure {
    let xl = if x_flops { "modelled GFLOP (deterministic stand-in for wall time)" } else { "iteration k" };
    let mut fig = Figure::xy(name, title, xl, "f(x_k) − f*").log_y();
    if x_flops {
        fig = fig.log_x();
    }
    for m in methods {
        let curves: Vec<Vec<(f64, f64)>> = groups
            .iter()
            .filter_map(|g| g.iter().find(|r| r.method == *m))
            .map(|r| {
                r.curve()
                    .into_iter()
                    .map(|(k, gap, w)| (if x_flops { w / 1e9 } else { k }, gap.max(1e-16)))
                    .collect::<Vec<_>>()
            })
            .collect();
        let xmax = curves.iter().filter_map(|c| c.last().map(|p| p.0)).fold(0.0, f64::max);
        let grid = if x_flops {
            let xmin = curves.iter().filter_map(|c| c.first().map(|p| p.0)).fold(f64::INFINITY, f64::min).max(1e-9);
            common::stats::logspace(xmin, xmax.max(xmin * 1.01), 200)
        } else {
            grid_int(xmax)
        };
        if let Some(s) = series_of(m, &curves, &grid) {
            fig = fig.series(s);
        }
    }
    fig
}

/// The figures.
pub fn figures(cfg: &Config, r: &Results, out: &mut Outcome) {
    let methods = [GNS_EXACT, GNS_WGN, GM_B, GM_EUCLID];
    for &mu in &cfg.mus {
        let groups: Vec<&[Run]> =
            r.logsumexp.filter(|c| (c.f64("mu") - mu).abs() < 1e-12).map(|(_, v)| v.as_slice()).collect();
        let title = format!(
            "Random Data (A ∈ R^{{{}×{}}}, μ = {}): median and range over {} seeds",
            cfg.m,
            cfg.n,
            fmt(mu),
            groups.len()
        );
        out.figure(gap_figure(&format!("logsumexp_mu{}", fmt(mu)), &title, &groups, &methods, false));
        if (mu - 1.0).abs() < 1e-12 {
            out.figure(gap_figure("logsumexp_mu1_flops", &title, &groups, &methods, true));
            let t = format!("γ_k of Algorithm 1 (A ∈ R^{{{}×{}}}, μ = 1), {} seeds", cfg.m, cfg.n, groups.len());
            let mut fig = Figure::xy("gamma_mu1", &t, "iteration k", "γ_k").log_y();
            for m in [GNS_EXACT, GNS_WGN] {
                let curves: Vec<Vec<(f64, f64)>> = groups
                    .iter()
                    .filter_map(|g| g.iter().find(|x| x.method == m).and_then(|x| x.gns.as_ref()))
                    .map(|t| t.gamma.iter().enumerate().map(|(k, &g)| (k as f64, g)).collect())
                    .collect();
                let xmax = curves.iter().filter_map(|c| c.last().map(|p| p.0)).fold(0.0, f64::max);
                if let Some(s) = series_of(m, &curves, &grid_int(xmax)) {
                    fig = fig.series(s);
                }
            }
            out.figure(fig);
        }
    }
    let all: Vec<&str> = r.logistic.iter().map(|x| x.method.as_str()).collect();
    out.figure(gap_figure(
        "logistic",
        &format!("Logistic regression, breast cancer (ℓ2 = {})", fmt(cfg.logistic_l2)),
        &[r.logistic.as_slice()],
        &all,
        false,
    ));
    let all: Vec<&str> = r.rosenbrock.iter().map(|x| x.method.as_str()).collect();
    out.figure(gap_figure(
        "rosenbrock",
        &format!("Rosenbrock equations, f = ‖u‖^p/p, p = {}, x0 = (−2, 2)", fmt(cfg.rosen_p)),
        &[r.rosenbrock.as_slice()],
        &all,
        false,
    ));
    for (prob, title) in [
        ("chebyshev", format!("Chebyshev system, d = {}, p = 4, x0 ~ U(0, 1)^d", cfg.cheb_d)),
        ("equations", format!("Linear equations, A ∈ R^{{{}×{}}}, p = 4", cfg.eq_m, cfg.eq_n)),
    ] {
        let groups: Vec<&[Run]> = r.power.filter(|c| c.str("problem") == prob).map(|(_, v)| v.as_slice()).collect();
        let all: Vec<&str> = groups.first().map(|g| g.iter().map(|x| x.method.as_str()).collect()).unwrap_or_default();
        out.figure(gap_figure(
            prob,
            &format!("{title}: median and range over {} seeds", groups.len()),
            &groups,
            &all,
            false,
        ));
    }
}

/// The setup notes.
pub fn notes(cfg: &Config, r: &Results, out: &mut Outcome) {
    out.note(format!(
        "P1: f(x) = μ·lse((Mx − b)/μ), M ∈ R^{{{m}×{n}}} and b with U(−1, 1) entries, rows shifted by ∇f(0) so \
         x* = 0 exactly (the repo's `create_log_sum_exp_zero_oracle`), x0 = 1, B = MᵀM of the unshifted rows (the \
         notebook's `B = A.dot(A.T)`); μ ∈ {{{mus}}}, {s} seeds, tol {tol}, caps {gi} (GNS) and {gd} (gradient \
         method). γ₀ = {g0}, γ_min = {gm}, eps = 1e-8, 40 search tries as in the repo.",
        m = cfg.m,
        n = cfg.n,
        mus = cfg.mus.iter().map(|&x| fmt(x)).collect::<Vec<_>>().join(", "),
        s = cfg.seeds,
        tol = fmt(cfg.tol),
        gi = cfg.gns_max_iters,
        gd = cfg.gd_max_iters,
        g0 = fmt(cfg.gamma0),
        gm = fmt(cfg.gamma_min),
    ));
    let fstar = r.logistic.first().map_or(f64::NAN, |x| x.f_star);
    out.note(format!(
        "P2: logistic regression on the shipped breast-cancer set (569 × 30, standardized, intercept column), \
         ℓ2 = {}, B = I, x0 = 0, stop at ‖∇f‖ < {}; f* = {} from {} Newton steps (only for the plot). P3: \
         (1/p)‖u‖^p with B = I and f* = 0: Rosenbrock u = (1 − x₁, 10(x₂ − x₁²)), p = {}, x0 = (−2, 2); Chebyshev \
         d = {}, p = 4, x0 ~ U(0, 1)^d; linear equations u = Ax − b, A ∈ R^{{{}×{}}} and b N(0, 1), p = 4, x0 = 0. \
         A failed Cholesky (indefinite H + λB with the exact Hessian of a non-convex problem) counts as a rejected \
         try (γ halves); the repo instead ends the search.",
        fmt(cfg.logistic_l2),
        fmt(cfg.tol),
        fmt(fstar),
        cfg.newton_steps,
        fmt(cfg.rosen_p),
        cfg.cheb_d,
        cfg.eq_m,
        cfg.eq_n
    ));
    out.note(
        "Wall time is replaced by a flop model of each oracle, factorization and solve (the f − f* vs GFLOP figure) \
         so that the results are the same bytes on any machine; the repo notebook's wall times at n = m = 1000 were \
         29.0 s (exact), 83.9 s (weighted GN), 3.9 s (B-metric gradient), 2.0 s (Euclidean gradient)."
            .to_string(),
    );
}
