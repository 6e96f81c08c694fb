//! Experiment 2 (paper, Sec. 3): square chains of D weight matrices with the depth-scaled learning
//! rate η = c/(D s_max^{2-2/D}), from four initialisations: aligned u0 = 1 ("pretrained-like"),
//! aligned small u0 = a0^D, scaled Gaussian, unaligned random orthogonal. Theory for the aligned
//! inits: the ODE by quadrature, its exact discrete map, and the D → ∞ closed form.
use crate::{
    C2_DEPTH_INDEPENDENT, C2_EXACT_DECOUPLING, C2_ODE_VS_GD, C2_SMALL_INIT_SLOWS, C3_GAUSSIAN_SLOWS,
    C3_SQUARE_UNALIGNED, net, theory,
};
use anyhow::Result;
use common::report::{fmt_num, json_f64};
use common::rng::Seed;
use common::stats::{self, linspace};
use common::{Ctx, Figure, Outcome, Series, Table};
use net::{Chain, Stop};
use serde::{Deserialize, Serialize};

/// Experiment 2: square chains, depth sweep, per initialisation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepthCfg {
    pub width: usize,
    /// Target singular values linspace(s_max, s_min, width).
    pub s_max: f64,
    pub s_min: f64,
    /// c in η = c / (D s_max^{2-2/D}).
    pub lr_scale: f64,
    /// Stop when the loss is <= rel_tol · initial loss.
    pub rel_tol: f64,
    pub aligned_depths: Vec<usize>,
    /// Per-layer amplitude of the small aligned init (u0 = a0^D).
    pub small_a0: f64,
    pub small_depths: Vec<usize>,
    pub aligned_cap: usize,
    pub gauss_depths: Vec<usize>,
    pub gauss_seeds: u64,
    pub gauss_cap: usize,
    /// Unaligned random orthogonal init of the square net (reported, not gated).
    pub unaligned_depths: Vec<usize>,
    pub unaligned_seeds: u64,
    pub unaligned_cap: usize,
}

/// The initialisations, as named in the cells and the table.
pub const ALIGNED_U0_1: &str = "aligned_u0_1";
pub const ALIGNED_SMALL: &str = "aligned_small";
pub const GAUSSIAN: &str = "gaussian";
pub const UNALIGNED: &str = "orthogonal_unaligned";

/// A cell of the `square_depth` grid (its JSON is the cell's seed and cache key).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SqCell {
    init: String,
    depth: usize,
    rep: u64,
}

/// One GD run of a square chain.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SqRun {
    pub init: String,
    pub depth: usize,
    pub rep: u64,
    /// GD steps to the tolerance; `None` when capped or diverged.
    pub steps: Option<usize>,
    pub status: String,
    /// Aligned inits: max over steps and modes of |u_sim - u_scalar-map|; NaN for the others.
    #[serde(with = "json_f64")]
    pub map_dev: f64,
    /// Aligned inits: max over steps of the off-diagonal of Uᵀ W V; NaN for the others.
    #[serde(with = "json_f64")]
    pub offdiag: f64,
}

/// Theory for an aligned init at one depth (steps to the tolerance).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlignedTheory {
    pub depth: usize,
    /// Continuous time (quadrature of the ODE); +inf when out of reach.
    #[serde(with = "json_f64")]
    pub ode: f64,
    /// The exact scalar GD map; +inf when not reached within the cap.
    #[serde(with = "json_f64")]
    pub map: f64,
}

/// Experiment 2's numbers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Every run, sorted by (init, depth, rep).
    pub runs: Vec<SqRun>,
    /// Theory for aligned u0 = 1 (per `aligned_depths`) and u0 = a0^D (per `small_depths`).
    pub theory_u1: Vec<AlignedTheory>,
    pub theory_small: Vec<AlignedTheory>,
    /// Steps of the D → ∞ closed form, u0 = 1.
    #[serde(with = "json_f64")]
    pub k_inf: f64,
}

/// η = c / (D s_max^{2-2/D}).
pub fn depth_lr(c: f64, depth: usize, s_max: f64) -> f64 {
    c / (depth as f64 * s_max.powf(2.0 - 2.0 / depth as f64))
}

fn sq_cell(cfg: &DepthCfg, root: Seed, cell: &SqCell, seed: Seed) -> SqRun {
    let n = cfg.width;
    let s = linspace(cfg.s_max, cfg.s_min, n);
    let (target, u, v) = net::random_target(&mut root.child_idx("target", cell.rep).rng(), &s, n);
    let lr = depth_lr(cfg.lr_scale, cell.depth, cfg.s_max);
    let d = cell.depth;
    let mut rng = seed.rng();
    let (mut chain, a0, cap) = match cell.init.as_str() {
        ALIGNED_U0_1 => (net::aligned_chain(&mut rng, &u, &v, &vec![1.0; n], d), Some(1.0), cfg.aligned_cap),
        ALIGNED_SMALL => {
            (net::aligned_chain(&mut rng, &u, &v, &vec![cfg.small_a0; n], d), Some(cfg.small_a0), cfg.aligned_cap)
        }
        GAUSSIAN => (net::gaussian_chain(&mut rng, &vec![n; d + 1]), None, cfg.gauss_cap),
        UNALIGNED => (net::orthogonal_chain(&mut rng, &vec![n; d + 1]), None, cfg.unaligned_cap),
        other => unreachable!("unknown init {other}"),
    };
    let mut amp = vec![a0.unwrap_or(0.0); n];
    let (mut map_dev, mut off) = (0.0f64, 0.0f64);
    let worst = |a: f64, b: f64| stats::max(&[a, b]);
    let stop = chain.train_to_tol(&target, lr, cfg.rel_tol, cap, |k, c: &Chain| {
        if a0.is_some() {
            if k > 0 {
                for (x, &si) in amp.iter_mut().zip(&s) {
                    *x = theory::scalar_gd_step(*x, si, d, lr);
                }
            }
            let (diag, o) = net::mode_strengths(&c.product(), &u, &v);
            for (x, a) in diag.iter().zip(&amp) {
                map_dev = worst(map_dev, (x - a.powi(d as i32)).abs());
            }
            off = worst(off, o);
        }
    });
    SqRun {
        init: cell.init.clone(),
        depth: d,
        rep: cell.rep,
        steps: if let Stop::Converged(k) = stop { Some(k) } else { None },
        status: stop.label().into(),
        map_dev: if a0.is_some() { map_dev } else { f64::NAN },
        offdiag: if a0.is_some() { off } else { f64::NAN },
    }
}

/// The grid of runs and the theory of the aligned inits.
pub fn measure(cfg: &DepthCfg, ctx: &Ctx) -> Result<Results> {
    let mut cells = vec![];
    for &d in &cfg.aligned_depths {
        cells.push(SqCell { init: ALIGNED_U0_1.into(), depth: d, rep: 0 });
    }
    for &d in &cfg.small_depths {
        cells.push(SqCell { init: ALIGNED_SMALL.into(), depth: d, rep: 0 });
    }
    for &d in &cfg.gauss_depths {
        for rep in 0..cfg.gauss_seeds {
            cells.push(SqCell { init: GAUSSIAN.into(), depth: d, rep });
        }
    }
    for &d in &cfg.unaligned_depths {
        for rep in 0..cfg.unaligned_seeds {
            cells.push(SqCell { init: UNALIGNED.into(), depth: d, rep });
        }
    }
    let root = ctx.seed.child("square");
    // Longest cells first so the parallel pool stays busy.
    let cost = |c: &SqCell| -> usize {
        c.depth
            * match c.init.as_str() {
                GAUSSIAN => cfg.gauss_cap,
                UNALIGNED => cfg.unaligned_cap,
                _ => 100,
            }
    };
    cells.sort_by_key(|c| std::cmp::Reverse(cost(c)));
    let mut runs = ctx.grid("square_depth", &cells, |c, seed| Ok(sq_cell(cfg, root, c, seed)))?;
    runs.sort_by(|a, b| (&a.init, a.depth, a.rep).cmp(&(&b.init, b.depth, b.rep)));

    let s = linspace(cfg.s_max, cfg.s_min, cfg.width);
    let theory_for = |a0: f64, depths: &[usize]| -> Vec<AlignedTheory> {
        use rayon::prelude::*;
        depths
            .par_iter()
            .map(|&d| {
                let lr = depth_lr(cfg.lr_scale, d, cfg.s_max);
                let u0 = vec![a0.powi(d as i32); s.len()];
                let ode = theory::steps_to_tol_ode(&s, &u0, d, lr, cfg.rel_tol);
                let map = theory::scalar_gd_steps_to_tol(&s, &vec![a0; s.len()], d, lr, cfg.rel_tol, cfg.aligned_cap)
                    .map_or(f64::INFINITY, |k| k as f64);
                AlignedTheory { depth: d, ode, map }
            })
            .collect()
    };
    Ok(Results {
        runs,
        theory_u1: theory_for(1.0, &cfg.aligned_depths),
        theory_small: theory_for(cfg.small_a0, &cfg.small_depths),
        k_inf: theory::steps_to_tol_infinite_depth(&s, cfg.s_max, cfg.lr_scale, cfg.rel_tol),
    })
}

impl Results {
    /// The runs of `init` at depth `d`, in rep order.
    fn get<'a>(&'a self, init: &'a str, d: usize) -> impl Iterator<Item = &'a SqRun> + 'a {
        self.runs.iter().filter(move |r| r.init == init && r.depth == d)
    }
    /// Steps of the runs of `init` at depth `d`, a run that did not converge counted at `cap` (a
    /// lower bound).
    fn steps(&self, init: &str, d: usize, cap: usize) -> Vec<f64> {
        self.get(init, d).map(|r| r.steps.map_or(cap as f64, |k| k as f64)).collect()
    }
    /// The one run of an aligned init at depth `d` (NaN when absent).
    fn one(&self, init: &str, d: usize, cap: usize) -> f64 {
        self.steps(init, d, cap).first().copied().unwrap_or(f64::NAN)
    }
    /// `D=1: [10, 10, 11]; D=2: [...]`, a run that did not converge shown as `>cap`.
    fn per_seed(&self, init: &str, depths: &[usize], cap: usize) -> String {
        let runs = |d| self.get(init, d).map(|r| r.steps.map_or(format!(">{cap}"), |k| k.to_string()));
        depths
            .iter()
            .map(|&d| format!("D={d}: [{}]", runs(d).collect::<Vec<_>>().join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Claims C2-*, C3-gaussian-slows and C3-square-unaligned; the depth figure and table.
pub fn report(cfg: &DepthCfg, r: &Results, out: &mut Outcome) {
    let at = |th: &[AlignedTheory], d: usize| th.iter().find(|t| t.depth == d).cloned();
    out.claim(
        C2_EXACT_DECOUPLING
            .max_of(
                r.runs
                    .iter()
                    .filter(|x| x.init == ALIGNED_U0_1 || x.init == ALIGNED_SMALL)
                    .map(|x| (format!("{} D={}", x.init, x.depth), stats::max(&[x.map_dev, x.offdiag]))),
            )
            .detail("max of the distance to the scalar map and of the off-diagonal of Uᵀ W V, over steps and modes"),
    );
    let cap = cfg.aligned_cap;
    let dmax = *cfg.aligned_depths.iter().max().expect("validated: non-empty");
    let dq = cfg.aligned_depths.iter().copied().filter(|&d| d * 4 <= dmax).max().unwrap_or(dmax);
    out.claim(
        C2_DEPTH_INDEPENDENT
            .ratio(
                &format!("steps(D={dmax})"),
                r.one(ALIGNED_U0_1, dmax, cap),
                &format!("steps(D={dq})"),
                r.one(ALIGNED_U0_1, dq, cap),
            )
            .detail(format!(
                "η = {}/(D s_max^{{2-2/D}}); steps by depth: {}; continuous-time theory (quadrature) {}; D → ∞ closed \
                 form {}",
                fmt_num(cfg.lr_scale),
                r.per_seed(ALIGNED_U0_1, &cfg.aligned_depths, cap),
                r.theory_u1
                    .iter()
                    .map(|t| format!("{}: {}", t.depth, fmt_num(t.ode.round())))
                    .collect::<Vec<_>>()
                    .join(", "),
                fmt_num(r.k_inf.round())
            )),
    );
    let smax_d = *cfg.small_depths.iter().max().expect("validated: non-empty");
    let sh = cfg.small_depths.iter().copied().filter(|&d| d * 2 <= smax_d).max().unwrap_or(smax_d);
    out.claim(
        C2_SMALL_INIT_SLOWS
            .ratio(
                &format!("steps(D={smax_d})"),
                r.one(ALIGNED_SMALL, smax_d, cap),
                &format!("steps(D={sh})"),
                r.one(ALIGNED_SMALL, sh, cap),
            )
            .detail(format!(
                "u0 = a0^D with a0 = {}; steps by depth: {}",
                fmt_num(cfg.small_a0),
                r.per_seed(ALIGNED_SMALL, &cfg.small_depths, cap)
            )),
    );
    // Gaussian: median over seeds of steps(4)/steps(2) (cap counted as cap: a lower bound).
    let gd = &cfg.gauss_depths;
    let g_med = |d: usize| stats::median(&r.steps(GAUSSIAN, d, cfg.gauss_cap));
    let ga = if gd.contains(&2) { 2 } else { gd[0] };
    let gb = if gd.contains(&4) { 4 } else { gd[gd.len() - 1] };
    out.claim(
        C3_GAUSSIAN_SLOWS
            .ratio(&format!("median steps(D={gb})"), g_med(gb), &format!("median steps(D={ga})"), g_med(ga))
            .detail(format!(
                "η ∝ 1/D as above. Steps per seed (cap = {} counted as cap): {}",
                cfg.gauss_cap,
                r.per_seed(GAUSSIAN, gd, cfg.gauss_cap)
            )),
    );
    let ud = &cfg.unaligned_depths;
    let u_meds: Vec<f64> = ud.iter().map(|&d| stats::median(&r.steps(UNALIGNED, d, cfg.unaligned_cap))).collect();
    out.claim(
        C3_SQUARE_UNALIGNED
            .ratio(
                &format!("median steps(D={})", ud[ud.len() - 1]),
                u_meds[u_meds.len() - 1],
                &format!("median steps(D={})", ud[0]),
                u_meds[0],
            )
            .detail(format!("steps per seed: {}", r.per_seed(UNALIGNED, ud, cfg.unaligned_cap))),
    );
    let th_max = at(&r.theory_u1, dmax).expect("theory at every aligned depth");
    let c = cfg.lr_scale;
    out.claim(C2_ODE_VS_GD.ratio("ODE steps", th_max.ode, "GD steps", r.one(ALIGNED_U0_1, dmax, cap)).detail(format!(
        "D = {dmax}; the exact discrete map gives {} steps (equal to the simulation); with c = η D s_max^{{2-2/D}} = {} \
         the Euler steps are not small: near convergence a mode's error shrinks by 1 - c per step instead of e^{{-c}}, \
         so in that final phase the ODE needs ln(1/(1-c))/c = {} times as many steps",
        fmt_num(th_max.map),
        fmt_num(c),
        fmt_num((1.0 / (1.0 - c)).ln() / c)
    )));

    // Figure and table.
    let xs = |v: &[usize]| v.iter().map(|&d| (d as f64).log2()).collect::<Vec<_>>();
    let steps_of = |init: &str, depths: &[usize]| depths.iter().map(|&d| r.one(init, d, cap)).collect::<Vec<_>>();
    let (ad, sd) = (&cfg.aligned_depths, &cfg.small_depths);
    let a0 = fmt_num(cfg.small_a0);
    let fig = Figure::xy(
        "learning_time_vs_depth",
        &format!("Square chains (width {}), η ∝ 1/D: steps to loss ≤ {:e}·L0", cfg.width, cfg.rel_tol),
        "log2 D (D = number of weight matrices)",
        "GD steps",
    )
    .log_y()
    .series(Series::markers("GD, aligned u0 = 1", xs(ad), steps_of(ALIGNED_U0_1, ad)))
    .series(Series::line("theory (exact scalar map), u0 = 1", xs(ad), r.theory_u1.iter().map(|t| t.map).collect()))
    .series(Series::dashed("theory (ODE quadrature), u0 = 1", xs(ad), r.theory_u1.iter().map(|t| t.ode).collect()))
    .series(Series::markers(&format!("GD, aligned u0 = {a0}^D"), xs(sd), steps_of(ALIGNED_SMALL, sd)))
    .series(Series::line(
        &format!("theory (exact scalar map), u0 = {a0}^D"),
        xs(sd),
        r.theory_small.iter().map(|t| t.map).collect(),
    ))
    .series(Series::markers(
        "GD, scaled Gaussian (median; cap shown at cap)",
        xs(gd),
        gd.iter().map(|&d| g_med(d)).collect(),
    ))
    .series(Series::markers("GD, unaligned orthogonal (median)", xs(ud), u_meds))
    .series(Series::hline("theory D → ∞ (closed form), u0 = 1", r.k_inf, 0.0, (dmax as f64).log2()));
    out.figure(fig);

    #[derive(Serialize)]
    struct Row<'a> {
        init: &'a str,
        depth: usize,
        seed: u64,
        steps: i64,
        status: &'a str,
        theory_scalar_map: f64,
        theory_ode: f64,
    }
    let rows: Vec<Row> = r
        .runs
        .iter()
        .map(|x| {
            let th = match x.init.as_str() {
                ALIGNED_U0_1 => at(&r.theory_u1, x.depth),
                ALIGNED_SMALL => at(&r.theory_small, x.depth),
                _ => None,
            };
            Row {
                init: &x.init,
                depth: x.depth,
                seed: x.rep,
                steps: x.steps.map_or(-1, |k| k as i64),
                status: &x.status,
                theory_scalar_map: th.as_ref().map_or(f64::NAN, |t| t.map),
                theory_ode: th.as_ref().map_or(f64::NAN, |t| t.ode),
            }
        })
        .collect();
    out.table(Table::from_rows(
        "square_depth",
        &format!(
            "Square chains (width {}): GD steps to loss ≤ rel_tol·L0 per init, depth and seed (-1: not reached: capped \
             or diverged), with the exact scalar-map and ODE-quadrature predictions for the aligned inits.",
            cfg.width
        ),
        &rows,
    ));
}
