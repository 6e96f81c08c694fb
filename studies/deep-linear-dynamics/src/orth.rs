//! Experiment 3 (paper, Sec. 4): random orthogonal vs scaled Gaussian initialisation in nets whose
//! hidden layers are wider than the output (as the paper's MNIST nets), on a synthetic target or
//! on PCA-whitened 8x8 digits.
use crate::depth::depth_lr;
use crate::{C3_GAUSSIAN_DEPTH_DEPENDENT, C3_ORTHOGONAL_DEPTH_INDEPENDENT, net};
use anyhow::Result;
use common::report::fmt_num;
use common::stats::{self, linspace};
use common::{Ctx, Figure, Outcome, Series, Table};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Experiment 3: random orthogonal vs scaled Gaussian in a net with wide hidden layers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrthCfg {
    /// "synthetic" (Σ³¹ = U diag(linspace(s_max, s_min)) Vᵀ) or "digits" (PCA-whitened 8x8 digits,
    /// centred one-hot targets, rescaled so the top singular value is s_max).
    pub data: String,
    /// Input and output dimensions (synthetic data; digits fixes them).
    pub n_in: usize,
    pub n_out: usize,
    /// Hidden width.
    pub width: usize,
    pub s_max: f64,
    pub s_min: f64,
    pub lr_scale: f64,
    pub rel_tol: f64,
    /// Depths for the random orthogonal init.
    pub orth_depths: Vec<usize>,
    /// Depths for the scaled Gaussian init (kept shallower: its cost grows with its step count).
    pub gauss_depths: Vec<usize>,
    /// The reference depth of both ratios (a depth in both lists).
    pub ref_depth: usize,
    pub seeds: u64,
    /// Seeds of the Gaussian init at the two depths of its depth ratio (`ref_depth` and the largest
    /// of `gauss_depths`), at least `seeds`: the ratio of medians needs more than the figure does.
    pub ratio_seeds: u64,
    pub cap: usize,
}

impl OrthCfg {
    /// Seeds of `init` at depth `d`.
    pub fn reps(&self, init: &str, d: usize) -> u64 {
        let gmax = self.gauss_depths.iter().copied().max().unwrap_or(0);
        if init == GAUSSIAN && (d == self.ref_depth || d == gmax) {
            self.ratio_seeds.max(self.seeds)
        } else {
            self.seeds
        }
    }
}

/// The initialisations, as named in the cells and the table.
pub const ORTHOGONAL: &str = "orthogonal";
pub const GAUSSIAN: &str = "gaussian";

/// A cell of the `rect_depth` grid (its JSON is the cell's seed and cache key).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RectCell {
    init: String,
    depth: usize,
    rep: u64,
}

/// One GD run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RectRun {
    pub init: String,
    pub depth: usize,
    pub rep: u64,
    /// GD steps to the tolerance; `None` when capped or diverged.
    pub steps: Option<usize>,
    pub status: String,
}

/// Experiment 3's numbers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Input and output dimensions of the target used (digits fixes them).
    pub n_in: usize,
    pub n_out: usize,
    /// Every run, sorted by (init, depth, rep).
    pub runs: Vec<RectRun>,
}

/// Σ³¹ of PCA-whitened 8x8 digits against centred one-hot labels (9 x k after dropping the null
/// output direction), rescaled to top singular value `s_max`; the whitened inputs keep the
/// components with variance > 1e-9 of the largest.
pub fn digits_target(s_max: f64) -> Result<Array2<f64>> {
    let d = common::data::load_shipped(common::data::Shipped::Digits)?;
    let (p, f) = d.x.dim();
    let mean = d.x.mean_axis(ndarray::Axis(0)).expect("rows");
    let xc = &d.x - &mean;
    let cov = xc.t().dot(&xc) / p as f64;
    let (vals, vecs) = common::linalg::eigh(&cov);
    let top = vals[f - 1];
    let keep: Vec<usize> = (0..f).filter(|&i| vals[i] > 1e-9 * top).collect();
    // Whitened inputs z = Λ^{-1/2} Eᵀ (x - mean), one row per kept component (largest first).
    let mut white = Array2::zeros((keep.len(), f));
    for (r, &i) in keep.iter().rev().enumerate() {
        let sc = 1.0 / vals[i].sqrt();
        for j in 0..f {
            white[[r, j]] = vecs[[j, i]] * sc;
        }
    }
    let z = xc.dot(&white.t()); // p x k
    let classes = d.classes();
    let nc = d.num_classes();
    let mut y = Array2::zeros((p, nc));
    for (i, &c) in classes.iter().enumerate() {
        y[[i, c]] = 1.0;
    }
    let ym = y.mean_axis(ndarray::Axis(0)).expect("rows");
    let yc = &y - &ym;
    let sigma31 = yc.t().dot(&z) / p as f64; // nc x k
    // Centred one-hot labels span nc - 1 dimensions: express the outputs in an orthonormal basis of
    // Σ³¹'s column space (eigenvectors of Σ³¹Σ³¹ᵀ), so that no target mode has s = 0.
    let (ev, evec) = common::linalg::eigh(&sigma31.dot(&sigma31.t()));
    let cols: Vec<usize> = (0..nc).rev().filter(|&i| ev[i] > 1e-12 * ev[nc - 1]).collect();
    let mut basis = Array2::zeros((cols.len(), nc));
    for (r, &i) in cols.iter().enumerate() {
        basis.row_mut(r).assign(&evec.column(i));
    }
    let reduced = basis.dot(&sigma31);
    let top_s = common::linalg::singular_values(&reduced)[0];
    Ok(reduced * (s_max / top_s))
}

/// The grid of runs: every init, depth and seed.
pub fn measure(cfg: &OrthCfg, ctx: &Ctx) -> Result<Results> {
    let root = ctx.seed.child("rect");
    let digits = if cfg.data == "digits" { Some(digits_target(cfg.s_max)?) } else { None };
    let (n_in, n_out) = digits.as_ref().map_or((cfg.n_in, cfg.n_out), |t| (t.ncols(), t.nrows()));
    let target_for = |rep: u64| -> Array2<f64> {
        match &digits {
            Some(t) => t.clone(),
            None => {
                let s = linspace(cfg.s_max, cfg.s_min, n_out);
                net::random_target(&mut root.child_idx("target", rep).rng(), &s, n_in).0
            }
        }
    };
    let s_top = common::linalg::singular_values(&target_for(0))[0];
    let mut cells = vec![];
    for (init, depths) in [(ORTHOGONAL, &cfg.orth_depths), (GAUSSIAN, &cfg.gauss_depths)] {
        for &d in depths {
            for rep in 0..cfg.reps(init, d) {
                cells.push(RectCell { init: init.into(), depth: d, rep });
            }
        }
    }
    // Longest cells first so the parallel pool stays busy.
    cells.sort_by_key(|c| std::cmp::Reverse(c.depth * if c.init == GAUSSIAN { 10 } else { 1 }));
    let mut runs = ctx.grid("rect_depth", &cells, |c, seed| {
        let target = target_for(c.rep);
        let dims = net::layer_dims(n_in, cfg.width, n_out, c.depth);
        let mut rng = seed.rng();
        let mut chain = if c.init == ORTHOGONAL {
            net::orthogonal_chain(&mut rng, &dims)
        } else {
            net::gaussian_chain(&mut rng, &dims)
        };
        let lr = depth_lr(cfg.lr_scale, c.depth, s_top);
        let stop = chain.train_to_tol(&target, lr, cfg.rel_tol, cfg.cap, |_, _| {});
        Ok(RectRun {
            init: c.init.clone(),
            depth: c.depth,
            rep: c.rep,
            steps: if let net::Stop::Converged(k) = stop { Some(k) } else { None },
            status: stop.label().into(),
        })
    })?;
    runs.sort_by(|a, b| (&a.init, a.depth, a.rep).cmp(&(&b.init, b.depth, b.rep)));
    Ok(Results { n_in, n_out, runs })
}

/// Claims C3-orthogonal-depth-independent and C3-gaussian-depth-dependent; figure and table.
pub fn report(cfg: &OrthCfg, r: &Results, out: &mut Outcome) {
    // Steps per seed, a run that did not converge counted at the cap (a lower bound).
    let steps = |init: &str, d: usize| -> Vec<f64> {
        r.runs
            .iter()
            .filter(|x| x.init == init && x.depth == d)
            .map(|x| x.steps.map_or(cfg.cap as f64, |k| k as f64))
            .collect()
    };
    let med = |init: &str, d: usize| stats::median(&steps(init, d));
    let depths_of = |init: &str| if init == ORTHOGONAL { &cfg.orth_depths } else { &cfg.gauss_depths };
    let dref = cfg.ref_depth;
    let per_seed = |init: &str| {
        depths_of(init)
            .iter()
            .map(|&d| format!("D={d}: [{}]", steps(init, d).iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (n_in, n_out) = (r.n_in, r.n_out);
    let setting = format!(
        "{} data, widths {n_in} → {} (D-1 hidden layers) → {n_out}, η = {}/(D s_max^{{2-2/D}}), loss ≤ {:e}·L0, {} \
         seeds ({} for the Gaussian init at D = {} and {}), cap {}",
        cfg.data,
        cfg.width,
        fmt_num(cfg.lr_scale),
        cfg.rel_tol,
        cfg.seeds,
        cfg.ratio_seeds.max(cfg.seeds),
        cfg.ref_depth,
        cfg.gauss_depths[cfg.gauss_depths.len() - 1],
        cfg.cap
    );
    let dmax = cfg.orth_depths[cfg.orth_depths.len() - 1];
    out.claim(
        C3_ORTHOGONAL_DEPTH_INDEPENDENT
            .ratio(
                &format!("median steps(D={dmax})"),
                med(ORTHOGONAL, dmax),
                &format!("median steps(D={dref})"),
                med(ORTHOGONAL, dref),
            )
            .detail(format!("{setting}. Steps per seed: {}", per_seed(ORTHOGONAL))),
    );
    let gmax = cfg.gauss_depths[cfg.gauss_depths.len() - 1];
    out.claim(
        C3_GAUSSIAN_DEPTH_DEPENDENT
            .ratio(
                &format!("median steps(D={gmax})"),
                med(GAUSSIAN, gmax),
                &format!("median steps(D={dref})"),
                med(GAUSSIAN, dref),
            )
            .detail(format!(
                "Steps per seed (cap counted as cap): {}. At D={gmax}, Gaussian/orthogonal median steps = {}",
                per_seed(GAUSSIAN),
                fmt_num(med(GAUSSIAN, gmax) / med(ORTHOGONAL, gmax))
            )),
    );
    let xs = |init: &str| -> Vec<f64> { depths_of(init).iter().map(|&d| (d as f64).log2()).collect() };
    let meds = |init: &str| -> Vec<f64> { depths_of(init).iter().map(|&d| med(init, d)).collect() };
    let band = |init: &str| -> (Vec<f64>, Vec<f64>) {
        depths_of(init).iter().map(|&d| (stats::min(&steps(init, d)), stats::max(&steps(init, d)))).unzip()
    };
    let (olo, ohi) = band(ORTHOGONAL);
    let (glo, ghi) = band(GAUSSIAN);
    out.figure(
        Figure::xy(
            "learning_time_vs_depth_init",
            &format!("Random orthogonal vs scaled Gaussian init (hidden width {})", cfg.width),
            "log2 D (D = number of weight matrices)",
            &format!("GD steps to loss ≤ {:e}·L0", cfg.rel_tol),
        )
        .log_y()
        .series(
            Series::markers("GD, random orthogonal (median; band: min-max)", xs(ORTHOGONAL), meds(ORTHOGONAL))
                .with_band(olo, ohi),
        )
        .series(
            Series::markers("GD, scaled Gaussian (median; band: min-max)", xs(GAUSSIAN), meds(GAUSSIAN))
                .with_band(glo, ghi),
        ),
    );
    #[derive(Serialize)]
    struct Row<'a> {
        init: &'a str,
        depth: usize,
        seed: u64,
        steps: i64,
        status: &'a str,
    }
    let rows: Vec<Row> = r
        .runs
        .iter()
        .map(|x| Row {
            init: &x.init,
            depth: x.depth,
            seed: x.rep,
            steps: x.steps.map_or(-1, |k| k as i64),
            status: &x.status,
        })
        .collect();
    out.table(Table::from_rows(
        "orthogonal_vs_gaussian",
        &format!("{setting}: GD steps per init, depth and seed (-1: capped or diverged)."),
        &rows,
    ));
}
