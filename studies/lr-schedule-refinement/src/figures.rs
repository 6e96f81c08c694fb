//! Tables, figures and notes of the report (pure functions of the results).

use crate::schedules::{Kind, Profile};
use crate::{Config, Results};
use common::report::fmt_num as fmt;
use common::{Figure, Outcome, Series, Table};
use serde::Serialize;

/// Per problem: for each schedule the best base LR (by the mean final loss over repetitions) and
/// the per-repetition losses there.
#[derive(Clone, Debug)]
pub struct ProblemBest {
    /// Problem name.
    pub name: String,
    /// min f.
    pub f_star: f64,
    /// Per schedule ([`Kind::ALL`] order): (best LR index, mean loss there, per-rep losses there).
    pub per_kind: Vec<(usize, f64, Vec<f64>)>,
}

impl ProblemBest {
    /// Best mean final loss of schedule `k`.
    pub fn loss(&self, k: Kind) -> f64 {
        self.per_kind[Kind::ALL.iter().position(|&x| x == k).expect("kind")].1
    }
}

/// The best base LR per (problem, schedule).
pub fn best_per_problem(cfg: &Config, r: &Results) -> Vec<ProblemBest> {
    r.problems
        .iter()
        .zip(&r.f_star)
        .map(|(name, &f_star)| {
            let cells: Vec<_> = r.sgd.filter(|c| c.str("problem") == name).map(|(_, v)| v).collect();
            let per_kind = (0..Kind::ALL.len())
                .map(|k| {
                    let nl = cfg.log2_lrs.len();
                    let mean = |j: usize| {
                        cells.iter().map(|c| c.loss[k].get(j).copied().unwrap_or(f64::NAN)).sum::<f64>()
                            / cells.len() as f64
                    };
                    let (mut bj, mut bm) = (0usize, f64::NAN);
                    for j in 0..nl {
                        let m = mean(j);
                        if bm.is_nan() || m < bm {
                            bj = j;
                            bm = m;
                        }
                    }
                    let per: Vec<f64> = cells.iter().map(|c| c.loss[k].get(bj).copied().unwrap_or(f64::NAN)).collect();
                    (bj, bm, per)
                })
                .collect();
            ProblemBest { name: name.clone(), f_star, per_kind }
        })
        .collect()
}

#[derive(Serialize)]
struct BoundRow {
    t: usize,
    schedule: String,
    sqrt_t_bound: f64,
}

#[derive(Serialize)]
struct RefineRow {
    profile: String,
    schedule: String,
    bound: f64,
    ratio_to_optimum: f64,
    argmax: i64,
}

#[derive(Serialize)]
struct LogregRow {
    problem: String,
    schedule: String,
    best_lr: f64,
    seed: usize,
    final_loss: f64,
    excess_loss: f64,
}

#[derive(Serialize)]
struct SummaryRow {
    problem: String,
    f_star: f64,
    constant: f64,
    inv_sqrt: f64,
    step: f64,
    cosine: f64,
    linear: f64,
    refined: f64,
}

#[derive(Serialize)]
struct SolverRow {
    experiment: String,
    iters: usize,
    evals: usize,
    grad_inf: f64,
    converged: bool,
}

/// The spec's tables: bound.csv, refine_bound.csv, logreg.csv; plus a summary and the solver log.
pub fn tables(cfg: &Config, r: &Results, best: &[ProblemBest], out: &mut Outcome) {
    let mut rows = vec![];
    for h in &r.horizons {
        for (k, v) in Kind::FIXED.iter().zip(&h.sqrt_t_bound) {
            rows.push(BoundRow { t: h.t, schedule: k.name().into(), sqrt_t_bound: *v });
        }
        rows.push(BoundRow { t: h.t, schedule: "optimum".into(), sqrt_t_bound: h.sqrt_t_optimum });
    }
    out.table(Table::from_rows("bound", "√T·bound per schedule (each scaled optimally; G ≡ 1, D = 1)", &rows));

    let mut rows = vec![];
    for p in &r.profiles {
        for (name, b, am) in [
            ("linear", p.linear, 0i64),
            ("cosine", p.cosine, 0),
            ("refined", p.refined, p.argmax_refined as i64),
            ("optimum", p.optimum, p.argmax_optimum as i64),
        ] {
            rows.push(RefineRow {
                profile: p.profile.name().into(),
                schedule: name.into(),
                bound: b,
                ratio_to_optimum: b / p.optimum,
                argmax: am,
            });
        }
    }
    out.table(Table::from_rows(
        "refine_bound",
        &format!("Bound per gradient-norm profile at T = {} (argmax: of the schedule)", cfg.refine_t),
        &rows,
    ));

    let lrs = cfg.lrs();
    let mut rows = vec![];
    for p in best {
        for (k, (j, _, per)) in Kind::ALL.iter().zip(&p.per_kind) {
            for (s, &l) in per.iter().enumerate() {
                rows.push(LogregRow {
                    problem: p.name.clone(),
                    schedule: k.name().into(),
                    best_lr: lrs.get(*j).copied().unwrap_or(f64::NAN),
                    seed: s,
                    final_loss: l,
                    excess_loss: l - p.f_star,
                });
            }
        }
    }
    out.table(Table::from_rows(
        "logreg",
        "SGD on logistic regression: final training loss (last iterate) per repetition at each schedule's best base LR",
        &rows,
    ));
    let rows: Vec<SummaryRow> = best
        .iter()
        .map(|p| SummaryRow {
            problem: p.name.clone(),
            f_star: p.f_star,
            constant: p.loss(Kind::Constant),
            inv_sqrt: p.loss(Kind::InvSqrt),
            step: p.loss(Kind::Step),
            cosine: p.loss(Kind::Cosine),
            linear: p.loss(Kind::Linear),
            refined: p.loss(Kind::Refined),
        })
        .collect();
    out.table(Table::from_rows(
        "logreg_summary",
        "Best mean final training loss per problem and schedule (f_star: the optimum, Newton)",
        &rows,
    ));
    let mut rows: Vec<SolverRow> = r
        .horizons
        .iter()
        .map(|h| SolverRow {
            experiment: format!("G=1, T={}", h.t),
            iters: h.solver.iters,
            evals: h.solver.evals,
            grad_inf: h.solver.grad_inf,
            converged: h.solver.converged,
        })
        .collect();
    rows.extend(r.profiles.iter().map(|p| SolverRow {
        experiment: format!("{}, T={}", p.profile.name(), cfg.refine_t),
        iters: p.solver.iters,
        evals: p.solver.evals,
        grad_inf: p.solver.grad_inf,
        converged: p.solver.converged,
    }));
    out.table(Table::from_rows("solver", "L-BFGS on log λ for the numerical optimum", &rows));
}

/// The figures: schedule shapes per profile, √T·bound vs T, final loss per problem, norms.
pub fn figures(cfg: &Config, r: &Results, best: &[ProblemBest], out: &mut Outcome) {
    let n = cfg.refine_t;
    for p in &r.profiles {
        let lin: Vec<f64> = p.frac.iter().map(|&f| 1.0 - f).collect();
        let cos: Vec<f64> = p.frac.iter().map(|&f| Kind::Cosine.at((f * n as f64).round() as usize, n)).collect();
        let gmax = p.norms.iter().fold(0.0f64, |a, &b| a.max(b));
        let fig = Figure::xy(
            &format!("shapes_{}", p.profile.name()),
            &format!("Schedules for the {} gradient-norm profile (T = {n})", p.profile.name()),
            "t/T",
            "λ_t / max λ",
        )
        .series(Series::line("refined (closed form)", p.frac.clone(), p.refined_shape.clone()))
        .series(Series::dashed("numerical optimum", p.frac.clone(), p.optimum_shape.clone()))
        .series(Series::line("linear", p.frac.clone(), lin))
        .series(Series::line("cosine", p.frac.clone(), cos))
        .series(Series::dashed(
            &format!("G_t / {}", fmt(gmax)),
            p.frac.clone(),
            p.norms.iter().map(|g| g / gmax).collect(),
        ));
        out.figure(fig);
    }

    let ts: Vec<f64> = r.horizons.iter().map(|h| h.t as f64).collect();
    let mut fig =
        Figure::xy("bound_vs_t", "√T·bound vs T (G ≡ 1, D = 1, each schedule scaled optimally)", "T", "√T·bound")
            .log_x();
    for (i, k) in Kind::FIXED.iter().enumerate() {
        fig = fig.series(Series::line_markers(
            k.name(),
            ts.clone(),
            r.horizons.iter().map(|h| h.sqrt_t_bound[i]).collect(),
        ));
    }
    fig = fig.series(Series::dashed(
        "numerical optimum",
        ts.clone(),
        r.horizons.iter().map(|h| h.sqrt_t_optimum).collect(),
    ));
    out.figure(fig);

    // Final loss relative to linear decay per problem (x: problem index), one marker series per schedule.
    let xs: Vec<f64> = (1..=best.len()).map(|i| i as f64).collect();
    let mut fig = Figure::xy(
        "final_loss",
        "Best final training loss / linear decay's, per problem",
        "problem (row of logreg_summary)",
        "loss / linear's loss",
    );
    let mut hi = 1.0f64;
    for k in Kind::ALL {
        let ys: Vec<f64> = best.iter().map(|p| p.loss(k) / p.loss(Kind::Linear)).collect();
        hi = ys.iter().filter(|v| v.is_finite()).fold(hi, |a, &b| a.max(b));
        fig = fig.series(if k == Kind::Linear {
            Series::line(k.name(), xs.clone(), ys)
        } else {
            Series::line_markers(k.name(), xs.clone(), ys)
        });
    }
    out.figure(fig);

    // Excess loss (final − f*) per problem, log scale.
    let mut fig = Figure::xy(
        "excess_loss",
        "Best final excess training loss f(x_T) − f* per problem",
        "problem (row of logreg_summary)",
        "f(x_T) − f*",
    )
    .log_y();
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for k in Kind::ALL {
        let ys: Vec<f64> = best.iter().map(|p| (p.loss(k) - p.f_star).max(1e-12)).collect();
        for &y in &ys {
            lo = lo.min(y);
            hi = hi.max(y);
        }
        fig = fig.series(Series::line_markers(k.name(), xs.clone(), ys));
    }
    out.figure(fig);

    // Gradient norms before/after the median filter and the refined schedule, rep 0 of each problem.
    for (c, cell) in r.sgd.filter(|c| c.rep() == 0).take(2) {
        let name = c.str("problem");
        let m = cell.norms_raw.iter().fold(0.0f64, |a, &b| a.max(b));
        let fig = Figure::xy(
            &format!("norms_{name}"),
            &format!("{name}: minibatch gradient norms of the best linear run, refined schedule"),
            "t/T",
            "‖g_t‖ / max ‖g_t‖, λ_t / max λ",
        )
        .series(Series::line("‖g_t‖ (raw)", cell.frac.clone(), cell.norms_raw.iter().map(|v| v / m).collect()))
        .series(Series::line(
            &format!("median filtered (σ = {})", fmt(cfg.median_sigma)),
            cell.frac.clone(),
            cell.norms_filtered.iter().map(|v| v / m).collect(),
        ))
        .series(Series::dashed("refined schedule", cell.frac.clone(), cell.refined.clone()))
        .series(Series::dashed("linear", cell.frac.clone(), cell.frac.iter().map(|f| 1.0 - f).collect()));
        out.figure(fig);
    }
}

/// Setup notes.
pub fn notes(cfg: &Config, r: &Results, out: &mut Outcome) {
    out.note(format!(
        "Bound: the repo's last-iterate bound (spec, Method) with D = {}, each shape scaled by its optimal multiple \
         (bound(cλ) = A/c + Bc, min 2√(AB)); the numerical optimum is common's L-BFGS (memory 20, strong-Wolfe line \
         search, ‖∇‖_∞ ≤ {}) on log λ from λ_t = D/√T, at most {} iterations. Horizons T = {}.",
        fmt(cfg.distance),
        fmt(crate::SOLVER_GTOL),
        cfg.opt_iters,
        r.horizons.iter().map(|h| h.t.to_string()).collect::<Vec<_>>().join(", ")
    ));
    out.note(format!(
        "Profiles at T = {}: {}. The refined schedule is the closed form on T + 1 norms (the last repeated).",
        cfg.refine_t,
        Profile::ALL
            .iter()
            .map(|p| match p {
                Profile::Decreasing => "decreasing G_t = 1 + 9e^{−10t/T} (10 → 1)",
                Profile::Increasing => "increasing G_t = 1 + 2.5t/(T − 1) (1 → 3.5)",
                Profile::Spike => "spike G_t = 5 for t < 20, then 1",
                Profile::Constant => "constant G_t = 1",
            })
            .collect::<Vec<_>>()
            .join("; ")
    ));
    out.note(format!(
        "SGD: problems {}; ℓ2 = {}, batch {}, T = {} steps from w = 0, minibatches drawn with replacement, one stream per \
         (problem, repetition) shared by every schedule and base LR; base LR 2^k for k in {}; {} repetitions; the best \
         base LR per (problem, schedule) minimizes the mean final training loss (last iterate) over repetitions. The \
         refined schedule of a repetition comes from the minibatch-gradient norms of its best linear-decay run, median \
         filtered (window {}, SciPy's reflect edges), closed form on T + 1 norms, normalized to max 1.",
        r.problems.join(", "),
        fmt(cfg.l2),
        cfg.batch,
        cfg.steps,
        cfg.log2_lrs.iter().map(|v| fmt(*v)).collect::<Vec<_>>().join(", "),
        cfg.seeds,
        crate::schedules::recipe_width(cfg.median_sigma, cfg.steps)
    ));
}
