//! The `Study` contract: a paper, a typed `Config` ([`Profiles`] + [`Validate`]), the claims it
//! declares ([`ClaimSpec`]), and two steps:
//! - `measure(cfg, ctx) -> Results`: every number the study computes (serde, nothing formatted);
//! - `report(cfg, &Results) -> Outcome`: tables, figures and claims; pure, fast, no randomness.
//!
//! The runner (see [`runner`]) validates every config up front, runs `measure`, writes
//! `results.json`, renders the report from the results read back (so `repro render` reproduces it
//! byte for byte) and writes it atomically.

pub mod check;
pub mod conformance;
pub mod overrides;
pub mod plan;
pub mod runner;
pub mod shard;
pub mod slurm;
pub mod sweep;

use crate::device::Device;
use crate::progress::{Mode, Progress};
use crate::report::{ClaimSpec, Outcome};
use crate::rng::Seed;
use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

pub use check::{Checks, Estimate, Validate};
pub use sweep::{Cell, Sweep, Swept};

/// The two profiles every study has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// CI: <= 30 s on 2 CPU cores; small but real.
    Quick,
    /// The paper's setting or the closest feasible; hours or a GPU.
    Full,
}

impl Profile {
    /// `quick` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Quick => "quick",
            Profile::Full => "full",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = crate::BadInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "quick" => Ok(Profile::Quick),
            "full" => Ok(Profile::Full),
            _ => Err(crate::BadInput::new(format!("unknown profile `{s}`: accepted are quick, full"))),
        }
    }
}

/// A study configuration's two profiles. `Config::quick()` and `Config::full()` read as plain
/// constructors wherever the trait is in scope (it is re-exported at the crate root).
pub trait Profiles: Sized {
    /// CI: at most 30 s on 2 CPU cores; small but real.
    fn quick() -> Self;
    /// The paper's setting or the closest feasible; hours or a GPU.
    fn full() -> Self;
    /// The configuration of `profile`.
    fn of(profile: Profile) -> Self {
        match profile {
            Profile::Quick => Self::quick(),
            Profile::Full => Self::full(),
        }
    }
}

/// The paper a study reproduces.
#[derive(Clone, Debug)]
pub struct Paper {
    /// Title.
    pub title: &'static str,
    /// Authors, comma-separated.
    pub authors: &'static str,
    /// arXiv id.
    pub arxiv: &'static str,
    /// The authors' code, when public.
    pub official_code: Option<&'static str>,
}

/// One paper's experiment. Implement this; the blanket [`DynStudy`] impl does the rest.
pub trait Study: Send + Sync + 'static {
    /// Typed configuration with its two [`Profiles`] and its checks ([`Validate`]). Use
    /// `#[serde(deny_unknown_fields)]` so a mistyped key is rejected.
    type Config: Profiles + Validate + Serialize + DeserializeOwned + Clone + Send + Sync;
    /// Every number `measure` computes, nothing formatted. Fields that may hold NaN or infinity
    /// use `#[serde(with = "common::report::json_f64")]` (or `json_f64::vec`), so that the results
    /// survive `results.json` (the runner refuses results that do not round-trip).
    type Results: Serialize + DeserializeOwned + Send + Sync;
    /// The claims, declared once, in the order `report` returns them.
    const CLAIMS: &'static [ClaimSpec];
    /// The slug (`studies/<slug>`, `reports/<slug>`).
    fn slug(&self) -> &'static str;
    /// The paper.
    fn paper(&self) -> Paper;
    /// The configuration of a profile. Default: [`Profiles::of`].
    fn config(&self, profile: Profile) -> Self::Config {
        Self::Config::of(profile)
    }
    /// Whether `measure` puts work on `ctx.device` (a GPU path under `--device cuda`). A study
    /// without one runs on the CPU and its manifest says so, whatever the probe found.
    fn gpu_path(&self) -> bool {
        false
    }
    /// Run the experiment: every number, nothing formatted.
    fn measure(&self, cfg: &Self::Config, ctx: &Ctx) -> Result<Self::Results>;
    /// Tables, figures and claims from the results: pure, fast, no randomness.
    fn report(&self, cfg: &Self::Config, results: &Self::Results) -> Result<Outcome>;
}

/// Object-safe view of a study for the registry and the runner (configs and results travel as
/// JSON).
pub trait DynStudy: Send + Sync {
    /// See [`Study::slug`].
    fn slug(&self) -> &'static str;
    /// See [`Study::paper`].
    fn paper(&self) -> Paper;
    /// See [`Study::gpu_path`].
    fn gpu_path(&self) -> bool;
    /// See [`Study::CLAIMS`].
    fn claims(&self) -> &'static [ClaimSpec];
    /// A profile's configuration as JSON.
    fn config_json(&self, profile: Profile) -> serde_json::Value;
    /// Deserialize into the typed `Config`, validate it and estimate what it needs.
    fn check_config(&self, cfg: &serde_json::Value) -> Result<Estimate, crate::BadInput>;
    /// Run `measure`; the results as JSON text.
    fn measure_json(&self, cfg: &serde_json::Value, ctx: &Ctx) -> Result<String>;
    /// Read results back from JSON text and `report` them.
    fn report_json(&self, cfg: &serde_json::Value, results: &str) -> Result<Outcome>;
}

fn typed_config<S: Study>(s: &S, cfg: &serde_json::Value) -> Result<S::Config, crate::BadInput> {
    serde_json::from_value::<S::Config>(cfg.clone())
        .map_err(|e| crate::BadInput::new(format!("bad configuration for {}: {e}", Study::slug(s))))
}

impl<S: Study> DynStudy for S {
    fn slug(&self) -> &'static str {
        Study::slug(self)
    }
    fn paper(&self) -> Paper {
        Study::paper(self)
    }
    fn gpu_path(&self) -> bool {
        Study::gpu_path(self)
    }
    fn claims(&self) -> &'static [ClaimSpec] {
        S::CLAIMS
    }
    fn config_json(&self, profile: Profile) -> serde_json::Value {
        serde_json::to_value(self.config(profile)).expect("configs serialize to JSON")
    }
    fn check_config(&self, cfg: &serde_json::Value) -> Result<Estimate, crate::BadInput> {
        let typed = typed_config(self, cfg)?;
        typed
            .validate()
            .map_err(|e| crate::BadInput::new(format!("bad configuration for {}: {e}", Study::slug(self))))?;
        Ok(typed.estimate())
    }
    fn measure_json(&self, cfg: &serde_json::Value, ctx: &Ctx) -> Result<String> {
        let typed = typed_config(self, cfg)?;
        let r = self.measure(&typed, ctx)?;
        let text = serde_json::to_string(&r)?;
        // The report is rendered from what was written, so it must read back to the same thing.
        let back: S::Results = serde_json::from_str(&text).with_context(|| {
            format!(
                "the results of {} do not read back from JSON (a NaN or infinity in a field without \
                 `common::report::json_f64`?)",
                Study::slug(self)
            )
        })?;
        anyhow::ensure!(
            serde_json::to_string(&back)? == text,
            "the results of {} change when read back from JSON",
            Study::slug(self)
        );
        Ok(text)
    }
    fn report_json(&self, cfg: &serde_json::Value, results: &str) -> Result<Outcome> {
        let typed = typed_config(self, cfg)?;
        let r: S::Results =
            serde_json::from_str(results).with_context(|| format!("reading the results of {}", Study::slug(self)))?;
        self.report(&typed, &r)
    }
}

/// What a study run may use: the seed tree, the device, the progress reporter and the sweep
/// grid (with its cache and thread pool).
pub struct Ctx {
    /// The root of the seed tree (`--seed`).
    pub seed: Seed,
    /// The profile being run.
    pub profile: Profile,
    /// The device to compute on (the CPU for a study without a GPU path).
    pub device: Device,
    /// Threads for sweep cells (`--jobs`).
    pub jobs: usize,
    /// How progress is shown.
    pub progress_mode: Mode,
    /// Folder of cached cell results; `None` disables caching.
    pub cache_dir: Option<PathBuf>,
    /// Ignore cached cells (`--force`); fresh results are still stored.
    pub force: bool,
    /// Prefix of every cache key: study, profile, config, seed, code version.
    pub cache_prefix: String,
    /// Sweep cells computed (successfully) so far.
    pub cells_run: AtomicU64,
    /// Sweep cells read back from the cache so far.
    pub cells_cached: AtomicU64,
    /// `--shard i/N`: compute only this part's cells (see [`shard`]).
    pub shard: Option<shard::Shard>,
    /// `repro plan`: sample the first sweep and stop (see [`plan`]).
    pub plan: Option<plan::Probe>,
}

impl Ctx {
    /// A quiet, uncached context for tests.
    pub fn for_test(seed: u64, profile: Profile) -> Ctx {
        Ctx {
            seed: Seed(seed),
            profile,
            device: Device::Cpu,
            jobs: rayon::current_num_threads(),
            progress_mode: Mode::Quiet,
            cache_dir: None,
            force: false,
            cache_prefix: String::new(),
            cells_run: AtomicU64::new(0),
            cells_cached: AtomicU64::new(0),
            shard: None,
            plan: None,
        }
    }

    /// A progress reporter for a loop of `len` steps.
    pub fn progress(&self, what: &str, len: u64) -> Progress {
        Progress::new(self.progress_mode, what, len)
    }

    fn cell_key(&self, grid: &str, cell_json: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.cache_prefix.as_bytes());
        h.update([0]);
        h.update(grid.as_bytes());
        h.update([0]);
        h.update(cell_json.as_bytes());
        let d = h.finalize();
        d.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// Run `f` on every cell of a sweep, in parallel on `jobs` threads.
    ///
    /// Each cell gets its own seed derived from the grid name and the cell's content (adding a cell
    /// never changes the others). Results are cached under a content key (study, profile, config,
    /// root seed, code version, grid name, cell), so an interrupted sweep resumes where it stopped;
    /// a cell that fails is never cached, and the grid returns the first error after all cells ran.
    pub fn grid<C, R, F>(&self, name: &str, cells: &[C], f: F) -> Result<Vec<R>>
    where
        C: Serialize + Sync,
        R: Serialize + DeserializeOwned + Send,
        F: Fn(&C, Seed) -> Result<R> + Sync + Send,
    {
        if let Some(probe) = &self.plan {
            let idx = probe.sample_indices(cells.len());
            (probe.sink)(plan::Event::Sweep {
                grid: name.into(),
                cells: cells.len(),
                sampled: idx.len(),
                t: probe.t(),
            });
            for i in idx {
                let cj = serde_json::to_string(&cells[i])?;
                let t = std::time::Instant::now();
                f(&cells[i], self.seed.child("grid").child(name).child(&cj))?;
                (probe.sink)(plan::Event::Cell { seconds: t.elapsed().as_secs_f64() });
            }
            return Err(plan::PlanStop { grid: name.into() }.into());
        }
        let progress = self.progress(name, cells.len() as u64);
        let run_cell = |c: &C| -> Result<R> {
            let cj = serde_json::to_string(c)?;
            let seed = self.seed.child("grid").child(name).child(&cj);
            let path = self.cache_dir.as_ref().map(|d| d.join(format!("{}.json", self.cell_key(name, &cj))));
            if let (Some(p), false) = (&path, self.force)
                && let Ok(s) = std::fs::read_to_string(p)
                && let Ok(r) = serde_json::from_str::<R>(&s)
            {
                self.cells_cached.fetch_add(1, Ordering::Relaxed);
                progress.inc(1);
                return Ok(r);
            }
            let r = f(c, seed).with_context(|| format!("grid {name}, cell {cj}"))?;
            self.cells_run.fetch_add(1, Ordering::Relaxed);
            if let Some(p) = &path {
                store(p, &r);
            }
            progress.inc(1);
            Ok(r)
        };
        // Under `--shard`, a cell of another shard is only read from the cache; when one is
        // missing, this shard's part of the study ends at this sweep (after its own cells).
        let cached = |c: &C| -> Option<Result<R>> {
            let cj = serde_json::to_string(c).ok()?;
            let p = self.cache_dir.as_ref()?.join(format!("{}.json", self.cell_key(name, &cj)));
            let r = serde_json::from_str::<R>(&std::fs::read_to_string(p).ok()?).ok()?;
            self.cells_cached.fetch_add(1, Ordering::Relaxed);
            progress.inc(1);
            Some(Ok(r))
        };
        let run_or_skip = |c: &C| -> Option<Result<R>> {
            match &self.shard {
                Some(sh) if !serde_json::to_string(c).is_ok_and(|cj| sh.owns(name, &cj)) => cached(c),
                _ => Some(run_cell(c)),
            }
        };
        let results: Vec<Option<Result<R>>> = if self.jobs <= 1 {
            cells.iter().map(run_or_skip).collect()
        } else {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(self.jobs).build()?;
            pool.install(|| cells.par_iter().map(run_or_skip).collect())
        };
        progress.finish();
        let missing = results.iter().filter(|r| r.is_none()).count();
        if let (Some(sh), true) = (self.shard, missing > 0) {
            // A failed own cell is still this shard's error to report.
            for r in results.into_iter().flatten() {
                r?;
            }
            return Err(shard::ShardStop { shard: sh, grid: name.into(), owned: cells.len() - missing, missing }.into());
        }
        results.into_iter().map(|r| r.expect("no cell is skipped without a shard")).collect()
    }
}

impl Ctx {
    /// Run `f` on every cell of `sweep` (see [`Ctx::grid`]: parallel, cached, seeded by content).
    pub fn sweep<R, F>(&self, sweep: &Sweep, f: F) -> Result<Swept<R>>
    where
        R: Serialize + DeserializeOwned + Send,
        F: Fn(&Cell, Seed) -> Result<R> + Sync + Send,
    {
        let cells = sweep.cells();
        let results = self.grid(&sweep.name, &cells, f)?;
        Ok(Swept { cells, results })
    }
}

/// Store a cell result if it round-trips through JSON (NaN/inf do not: such cells are re-run).
fn store<R: Serialize + DeserializeOwned>(path: &std::path::Path, r: &R) {
    let Ok(s) = serde_json::to_string(r) else { return };
    if serde_json::from_str::<R>(&s).is_err() {
        return;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, s).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn cached_ctx(dir: &std::path::Path) -> Ctx {
        let mut c = Ctx::for_test(7, Profile::Quick);
        c.cache_dir = Some(dir.to_path_buf());
        c.cache_prefix = "demo|quick|{}|7|v1".into();
        c.jobs = 2;
        c
    }

    #[test]
    fn grid_cache_is_keyed_by_content_not_order_and_skips_failures() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = cached_ctx(dir.path());
        let f = |c: &u32, s: Seed| -> Result<(u32, u64)> { Ok((c * 10, s.0)) };
        let a = ctx.grid("g", &[1u32, 2, 3], f).unwrap();
        assert_eq!(ctx.cells_run.load(Ordering::Relaxed), 3);
        // Reordered and partly new: old cells come from the cache, with the same seeds.
        let ctx2 = cached_ctx(dir.path());
        let b = ctx2.grid("g", &[3u32, 1, 4], f).unwrap();
        assert_eq!(ctx2.cells_cached.load(Ordering::Relaxed), 2);
        assert_eq!(ctx2.cells_run.load(Ordering::Relaxed), 1);
        assert_eq!(b[0], a[2]);
        assert_eq!(b[1], a[0]);
        // A cell's seed depends on its content only.
        let ctx3 = Ctx::for_test(7, Profile::Quick);
        let c = ctx3.grid("g", &[2u32], f).unwrap();
        assert_eq!(c[0], a[1]);
        // A failing cell is not cached: the next run computes it again.
        let fail_once = AtomicBool::new(true);
        let g = |c: &u32, _s: Seed| -> Result<u32> {
            if *c == 9 && fail_once.swap(false, Ordering::SeqCst) {
                anyhow::bail!("transient");
            }
            Ok(*c)
        };
        let ctx4 = cached_ctx(dir.path());
        assert!(ctx4.grid("h", &[8u32, 9], g).is_err());
        let ctx5 = cached_ctx(dir.path());
        assert_eq!(ctx5.grid("h", &[8u32, 9], g).unwrap(), vec![8, 9]);
        assert_eq!(ctx5.cells_cached.load(Ordering::Relaxed), 1);
        assert_eq!(ctx5.cells_run.load(Ordering::Relaxed), 1);
        // --force recomputes cached cells.
        let mut ctx6 = cached_ctx(dir.path());
        ctx6.force = true;
        ctx6.grid("h", &[8u32], g).unwrap();
        assert_eq!(ctx6.cells_run.load(Ordering::Relaxed), 1);
        // A different config prefix is a different key.
        let mut ctx7 = cached_ctx(dir.path());
        ctx7.cache_prefix = "demo|quick|{\"x\":1}|7|v1".into();
        ctx7.grid("h", &[8u32], g).unwrap();
        assert_eq!(ctx7.cells_run.load(Ordering::Relaxed), 1);
    }

    /// N shards compute each cell once between them; a shard stops at the split sweep with
    /// `ShardStop`; their cells, gathered, give the unsharded results without recomputing.
    #[test]
    fn shards_split_cells_once_and_merge_to_the_unsharded_results() {
        let f = |c: &u32, s: Seed| -> Result<(u32, u64)> { Ok((c * 10, s.0)) };
        let cells: Vec<u32> = (0..23).collect();
        let whole = Ctx::for_test(7, Profile::Quick).grid("g", &cells, f).unwrap();
        let merged = tempfile::tempdir().unwrap();
        let mut total = 0;
        for i in 1..=3 {
            let dir = tempfile::tempdir().unwrap();
            let mut ctx = cached_ctx(dir.path());
            ctx.shard = Some(shard::Shard { index: i, count: 3 });
            let e = ctx.grid("g", &cells, f).unwrap_err();
            let stop = e.downcast_ref::<shard::ShardStop>().expect("a shard stops at the split sweep");
            assert_eq!(stop.owned + stop.missing, 23);
            assert_eq!(stop.owned as u64, ctx.cells_run.load(Ordering::Relaxed));
            total += stop.owned;
            for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
                std::fs::copy(e.path(), merged.path().join(e.file_name())).unwrap();
            }
        }
        assert_eq!(total, 23, "each cell is computed by exactly one shard");
        let ctx = cached_ctx(merged.path());
        assert_eq!(ctx.grid("g", &cells, f).unwrap(), whole);
        assert_eq!(ctx.cells_run.load(Ordering::Relaxed), 0);
        assert_eq!(ctx.cells_cached.load(Ordering::Relaxed), 23);
        // A shard with every other cell cached runs past the sweep.
        let mut ctx = cached_ctx(merged.path());
        ctx.shard = Some(shard::Shard { index: 2, count: 3 });
        assert_eq!(ctx.grid("g", &cells, f).unwrap(), whole);
        // A failing own cell is reported as the failure, not as a split.
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = cached_ctx(dir.path());
        ctx.shard = Some(shard::Shard { index: 1, count: 2 });
        let e = ctx.grid("g", &cells, |_: &u32, _| -> Result<u32> { anyhow::bail!("boom") }).unwrap_err();
        assert!(e.downcast_ref::<shard::ShardStop>().is_none() && format!("{e:#}").contains("boom"), "{e:#}");
    }

    #[test]
    fn non_finite_results_are_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..2 {
            // NaN does not survive JSON, so the cell is recomputed each time instead of cached wrong.
            let ctx = cached_ctx(dir.path());
            assert!(ctx.grid("n", &[1u32], |_, _| Ok(f64::NAN)).unwrap()[0].is_nan());
            assert_eq!(ctx.cells_run.load(Ordering::Relaxed), 1);
        }
    }
}
