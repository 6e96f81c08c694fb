//! Running one study end to end: config + overrides, device probe, the run, the atomic report,
//! the index. Used by the CLI and by the tests.
use super::shard::{Shard, ShardManifest, ShardStop, check_complete};
use super::{Ctx, DynStudy, Estimate, Profile, overrides};
use crate::device::{DeviceChoice, Probed};
use crate::error::BadInput;
use crate::progress::Mode;
use crate::report::index::write_index;
use crate::report::write::{ClaimsFile, Manifest, PaperInfo, write_report};
use crate::rng::Seed;
use anyhow::Result;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The default root seed.
pub const DEFAULT_SEED: u64 = 20_240_601;

/// How to run a study (the CLI's options).
#[derive(Clone, Debug)]
pub struct RunOpts {
    /// The profile whose config is run.
    pub profile: Profile,
    /// The root seed.
    pub seed: u64,
    /// The device asked for (`--device`).
    pub device: DeviceChoice,
    /// `--set key=value` overrides, as `(dotted key, raw value)`, applied in order.
    pub sets: Vec<(String, String)>,
    /// The reports folder; the report goes to `<out>/<slug>`.
    pub out: PathBuf,
    /// Threads for sweep cells (at least 1 is used).
    pub jobs: usize,
    /// Recompute cached sweep cells (`--force`).
    pub force: bool,
    /// How progress is shown.
    pub progress: Mode,
    /// Root of the cell cache (one subfolder per study); `None` disables caching.
    pub cache_dir: Option<PathBuf>,
    /// `--shard i/N`: run only this part of the sweep cells (see [`run_shard`]).
    pub shard: Option<Shard>,
}

impl Default for RunOpts {
    fn default() -> Self {
        RunOpts {
            profile: Profile::Quick,
            seed: DEFAULT_SEED,
            device: DeviceChoice::Auto,
            sets: vec![],
            out: PathBuf::from("reports"),
            jobs: rayon::current_num_threads(),
            force: false,
            progress: Mode::Quiet,
            cache_dir: None,
            shard: None,
        }
    }
}

/// What one run gave.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The study's slug.
    pub slug: String,
    /// Number of gated claims.
    pub gated: usize,
    /// Number of gated claims that passed.
    pub passed: usize,
    /// Number of claims that are not gated.
    pub ungated: usize,
    /// The report folder written.
    pub dir: PathBuf,
    /// Wall-clock seconds of the measurement.
    pub wall_seconds: f64,
}

impl RunSummary {
    /// The line the CLI prints for a finished run.
    pub fn line(&self) -> String {
        format!(
            "   {}: {}/{} gated claims passed ({} not gated) in {:.1} s -> {}",
            self.slug,
            self.passed,
            self.gated,
            self.ungated,
            self.wall_seconds,
            self.dir.display()
        )
    }
    /// Whether every gated claim passed.
    pub fn all_passed(&self) -> bool {
        self.gated == self.passed
    }
}

/// The profile's config with `--set` overrides applied, type-checked, validated, and its estimate
/// held against the machine's memory budget ([`check::memory_budget`](super::check::memory_budget)).
pub fn resolve_config(
    study: &dyn DynStudy,
    profile: Profile,
    sets: &[(String, String)],
) -> Result<serde_json::Value, BadInput> {
    Ok(resolve_with_estimate(study, profile, sets)?.0)
}

/// [`resolve_config`] with the estimate (for `--dry-run`).
pub fn resolve_with_estimate(
    study: &dyn DynStudy,
    profile: Profile,
    sets: &[(String, String)],
) -> Result<(serde_json::Value, Estimate), BadInput> {
    let mut cfg = study.config_json(profile);
    overrides::apply(&mut cfg, sets, study.slug())?;
    let est = study.check_config(&cfg)?;
    let budget = super::check::memory_budget();
    if est.bytes.is_nan() || est.bytes > budget {
        return Err(BadInput::new(format!(
            "the configuration of {} needs {}, more than this machine's budget of {} (75% of RAM; set \
             REPRO_MEMORY_BUDGET=<bytes> to change it): lower the sizes",
            study.slug(),
            est.describe(),
            super::check::fmt_bytes(budget)
        )));
    }
    Ok((cfg, est))
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// (commit, dirty) of the working tree, ignoring generated reports.
pub fn git_state() -> (String, bool) {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--", ".", ":!reports"]).is_some_and(|s| !s.is_empty());
    (commit, dirty)
}

/// A content version of the code for cache keys: commit plus a hash of uncommitted changes.
/// `None` (no caching) when git is unavailable.
pub fn code_version() -> Option<String> {
    let commit = git(&["rev-parse", "HEAD"])?;
    let diff = git(&["diff", "HEAD", "--", ".", ":!reports"]).unwrap_or_default();
    let untracked = git(&["ls-files", "--others", "--exclude-standard", "--", ".", ":!reports"]).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(diff.as_bytes());
    for f in untracked.lines() {
        h.update(f.as_bytes());
        h.update(std::fs::read(f).unwrap_or_default());
    }
    let d = h.finalize();
    Some(format!("{commit}-{}", d.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>()))
}

/// The CPU's model name from `/proc/cpuinfo`, or the architecture (`x86_64`, ...) where unavailable.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (civil-from-days, Howard Hinnant's algorithm).
pub fn utc_string(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn crate_versions() -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("repro".into(), env!("CARGO_PKG_VERSION").into());
    m.insert("rustc_target".into(), std::env::consts::ARCH.into());
    for kv in env!("REPRO_DEP_VERSIONS").split(',').filter(|s| !s.is_empty()) {
        if let Some((k, v)) = kv.split_once('=') {
            m.insert(k.into(), v.into());
        }
    }
    serde_json::Value::Object(m)
}

/// A study without a GPU path runs on the CPU even when a GPU was probed (and says so).
fn device_for(study: &dyn DynStudy, probed: &Probed) -> Probed {
    if probed.device == crate::device::Device::Cuda && !study.gpu_path() {
        Probed {
            device: crate::device::Device::Cpu,
            note: format!("{}; this study has no GPU path, so it ran on the CPU", probed.note),
        }
    } else {
        probed.clone()
    }
}

/// The run's context: seed, device, threads, and the cell cache under `cache_root/<slug>`.
fn make_ctx(
    study: &dyn DynStudy,
    cfg: &serde_json::Value,
    opts: &RunOpts,
    probed: &Probed,
    cache_dir: Option<PathBuf>,
) -> Result<Ctx> {
    // The device is part of the key: a GPU result is not reused by a CPU run (or vice versa).
    let cache_prefix = format!(
        "{}|{}|{}|{}|{}|{:?}",
        study.slug(),
        opts.profile.as_str(),
        serde_json::to_string(cfg)?,
        opts.seed,
        code_version().unwrap_or_default(),
        probed.device
    );
    Ok(Ctx {
        seed: Seed(opts.seed),
        profile: opts.profile,
        device: probed.device,
        jobs: opts.jobs.max(1),
        progress_mode: opts.progress,
        cache_dir: cache_dir.filter(|_| code_version().is_some()),
        force: opts.force,
        cache_prefix,
        cells_run: AtomicU64::new(0),
        cells_cached: AtomicU64::new(0),
        shard: opts.shard,
        plan: None,
    })
}

/// Run `study` with `opts` and write its report atomically to `<out>/<slug>`, then refresh the
/// index. Bad input fails before anything runs; a failing claim still writes the report.
pub fn run_study(study: &dyn DynStudy, opts: &RunOpts, probed: &Probed) -> Result<RunSummary> {
    anyhow::ensure!(opts.shard.is_none(), "run_study runs whole studies; a shard runs through run_shard");
    let cfg = resolve_config(study, opts.profile, &opts.sets)?;
    let probed = &device_for(study, probed);
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (commit, dirty) = git_state();
    let ctx = make_ctx(study, &cfg, opts, probed, opts.cache_dir.as_ref().map(|d| d.join(study.slug())))?;
    let (g0, h0) = crate::counters::snapshot();
    let t = Instant::now();
    let results = study.measure_json(&cfg, &ctx)?;
    let wall = t.elapsed().as_secs_f64();
    // Rendered from the results as written, exactly as `repro render` will.
    let outcome = study.report_json(&cfg, &results)?;
    let (g1, h1) = crate::counters::snapshot();
    check_declared(study, &outcome)?;
    let paper = study.paper();
    let manifest = Manifest {
        study: study.slug().into(),
        paper: paper.title.into(),
        profile: opts.profile.as_str().into(),
        seed: opts.seed,
        config: cfg,
        git_commit: commit,
        git_dirty: dirty,
        device_requested: format!("{:?}", opts.device).to_lowercase(),
        device_used: format!("{:?}", probed.device).to_lowercase(),
        device_note: probed.note.clone(),
        cpu_model: cpu_model(),
        threads: rayon::current_num_threads(),
        crate_versions: crate_versions(),
        started_utc: utc_string(started),
        wall_seconds: (wall * 100.0).round() / 100.0,
        gradient_evals: g1 - g0,
        hvp_evals: h1 - h0,
        cells_run: ctx.cells_run.load(Ordering::Relaxed),
        cells_cached: ctx.cells_cached.load(Ordering::Relaxed),
        seeds: vec![],
    };
    let dir = write_all(study, &opts.out, &outcome, &manifest, &results)?;
    Ok(summary(study, &outcome, dir, wall))
}

/// Run part `opts.shard` of `study`: its own sweep cells, up to the first sweep split between
/// shards (see [`super::shard`]). Writes the cells and `shard.json` to
/// `<out>/shards/<slug>/seed-<seed>/<i>-of-<N>/`; no report (the merge writes it).
pub fn run_shard(study: &dyn DynStudy, opts: &RunOpts, probed: &Probed) -> Result<(PathBuf, ShardManifest)> {
    let shard = opts.shard.ok_or_else(|| anyhow::anyhow!("run_shard needs opts.shard"))?;
    let cfg = resolve_config(study, opts.profile, &opts.sets)?;
    let version = code_version().ok_or_else(|| {
        BadInput::new("--shard needs git: the cells of the shards are matched by the code version (commit and changes)")
    })?;
    let probed = &device_for(study, probed);
    let dir = shard.dir(&opts.out, study.slug(), opts.seed);
    // A fresh folder: the cells of an earlier run of this part under another version would
    // only be dead weight in the merge.
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let ctx = make_ctx(study, &cfg, opts, probed, Some(dir.join("cells")))?;
    let t = Instant::now();
    let split_grid = match study.measure_json(&cfg, &ctx) {
        Ok(_) => None,
        Err(e) => match e.downcast_ref::<ShardStop>() {
            Some(stop) => Some(stop.grid.clone()),
            None => return Err(e),
        },
    };
    let manifest = ShardManifest {
        study: study.slug().into(),
        profile: opts.profile.as_str().into(),
        seed: opts.seed,
        sets: opts.sets.clone(),
        config: cfg,
        code_version: version,
        device: format!("{:?}", probed.device).to_lowercase(),
        shard,
        split_grid,
        cells_run: ctx.cells_run.load(Ordering::Relaxed),
        cells_cached: ctx.cells_cached.load(Ordering::Relaxed),
        wall_seconds: (t.elapsed().as_secs_f64() * 100.0).round() / 100.0,
    };
    std::fs::create_dir_all(&dir)?;
    crate::report::write::write_atomic(&dir.join("shard.json"), &(serde_json::to_string_pretty(&manifest)? + "\n"))?;
    Ok((dir, manifest))
}

/// Run the probe of `repro plan` on `study` in this process: its setup, then a sample of
/// `samples` cells of its first sweep, each step handed to `sink` as it happens (see
/// [`super::plan`]). Meant for a child process that the caller stops at a time limit.
pub fn plan_probe(
    study: &dyn DynStudy,
    opts: &RunOpts,
    probed: &Probed,
    samples: usize,
    sink: std::sync::Arc<dyn Fn(super::plan::Event) + Send + Sync>,
) -> Result<()> {
    let cfg = resolve_config(study, opts.profile, &opts.sets)?;
    let probed = &device_for(study, probed);
    let mut ctx = make_ctx(study, &cfg, opts, probed, None)?;
    let probe = super::plan::Probe { samples, start: Instant::now(), sink };
    ctx.plan = Some(probe.clone());
    (probe.sink)(super::plan::Event::Started);
    match study.measure_json(&cfg, &ctx) {
        Ok(_) => {
            (probe.sink)(super::plan::Event::Finished { t: probe.t() });
            Ok(())
        }
        Err(e) if e.downcast_ref::<super::plan::PlanStop>().is_some() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Every `shard.json` under `dirs` (searched to depth 6), with its folder.
pub fn find_shards(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, ShardManifest)>, BadInput> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if dir.join("shard.json").is_file() {
            out.push(dir.to_path_buf());
            return;
        }
        if depth == 0 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        let mut subs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        subs.sort();
        for s in subs {
            walk(&s, depth - 1, out);
        }
    }
    let mut found = vec![];
    for d in dirs {
        if !d.is_dir() {
            return Err(BadInput::new(format!(
                "merge: {} is not a folder; accepted are shard output folders",
                d.display()
            )));
        }
        walk(d, 6, &mut found);
    }
    found.sort();
    found.dedup();
    found
        .into_iter()
        .map(|d| {
            let text = std::fs::read_to_string(d.join("shard.json"))
                .map_err(|e| BadInput::new(format!("merge: {}: {e}", d.join("shard.json").display())))?;
            let m: ShardManifest = serde_json::from_str(&text).map_err(|e| {
                BadInput::new(format!("merge: {} is not a shard manifest: {e}", d.join("shard.json").display()))
            })?;
            Ok((d, m))
        })
        .collect()
}

/// Merge the N parts of one split of `study` (all of one run key): gather their cells into the
/// cell cache under `opts.cache_dir` and run the study from there, writing its report to
/// `opts.out`. The profile, seed, overrides and device come from the parts; the code version must
/// be the parts' (the cells are keyed by it).
pub fn merge(
    study: &dyn DynStudy,
    parts: &[(PathBuf, ShardManifest)],
    opts: &RunOpts,
    probed: &Probed,
) -> Result<RunSummary> {
    let manifests: Vec<ShardManifest> = parts.iter().map(|(_, m)| m.clone()).collect();
    check_complete(&manifests)?;
    let first = &manifests[0];
    let here = code_version().unwrap_or_else(|| "unknown".into());
    if first.code_version != here {
        return Err(BadInput::new(format!(
            "merge {}: the shards ran at code version {} and this checkout is at {here}; check out the shards' \
             commit (with the same changes) to merge them",
            first.study, first.code_version
        ))
        .into());
    }
    let cache_root =
        opts.cache_dir.clone().ok_or_else(|| BadInput::new("merge needs the cell cache (drop --no-cache)"))?;
    let cache = cache_root.join(study.slug());
    std::fs::create_dir_all(&cache)?;
    for (dir, _) in parts {
        let cells = dir.join("cells");
        let Ok(rd) = std::fs::read_dir(&cells) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                let name = p.file_name().expect("a file name");
                std::fs::copy(&p, cache.join(name))?;
            }
        }
    }
    let run = RunOpts {
        profile: first.profile.parse()?,
        seed: first.seed,
        sets: first.sets.clone(),
        shard: None,
        force: false,
        cache_dir: Some(cache_root),
        ..opts.clone()
    };
    let cfg = resolve_config(study, run.profile, &run.sets)?;
    anyhow::ensure!(
        cfg == first.config,
        "merge {}: the overrides of the shards resolve to another configuration in this checkout",
        first.study
    );
    anyhow::ensure!(
        format!("{:?}", device_for(study, probed).device).to_lowercase() == first.device,
        "merge {}: the shards ran on {}; merge on the same device (--device {})",
        first.study,
        first.device,
        first.device
    );
    run_study(study, &run, probed)
}

fn summary(study: &dyn DynStudy, outcome: &crate::report::Outcome, dir: PathBuf, wall: f64) -> RunSummary {
    let gated = outcome.claims.iter().filter(|c| c.gated).count();
    RunSummary {
        slug: study.slug().into(),
        gated,
        passed: outcome.claims.iter().filter(|c| c.gated && c.passed).count(),
        ungated: outcome.claims.len() - gated,
        dir,
        wall_seconds: wall,
    }
}

fn paper_info(study: &dyn DynStudy) -> PaperInfo {
    let paper = study.paper();
    PaperInfo {
        slug: study.slug().into(),
        title: paper.title.into(),
        authors: paper.authors.into(),
        arxiv: paper.arxiv.into(),
        official_code: paper.official_code.map(Into::into),
    }
}

fn write_all(
    study: &dyn DynStudy,
    out: &Path,
    outcome: &crate::report::Outcome,
    manifest: &Manifest,
    results: &str,
) -> Result<PathBuf> {
    let claims = ClaimsFile {
        study: study.slug().into(),
        profile: manifest.profile.clone(),
        seed: manifest.seed,
        claims: outcome.claims.clone(),
    };
    let dir = write_report(out, &paper_info(study), outcome, &claims, manifest, Some(results))?;
    write_index(out)?;
    Ok(dir)
}

/// The report's claims are the declared ones, in the declared order (ids), with the declared gate.
pub fn check_declared(study: &dyn DynStudy, outcome: &crate::report::Outcome) -> Result<()> {
    let got: Vec<&str> = outcome.claims.iter().map(|c| c.id.as_str()).collect();
    let want: Vec<&str> = study.claims().iter().map(|c| c.id).collect();
    anyhow::ensure!(
        got == want,
        "{}: the report's claims {got:?} are not the declared ones {want:?} (declare each claim once in CLAIMS, \
         report them in that order)",
        study.slug()
    );
    for (c, d) in outcome.claims.iter().zip(study.claims()) {
        anyhow::ensure!(c.gated == d.gated(), "{}: claim {} changed its gate at run time", study.slug(), c.id);
    }
    Ok(())
}

/// Re-render `<out>/<slug>` from its `results.json` and `manifest.json` (no re-run): the same
/// README, tables, figures and claims, byte for byte, written atomically.
pub fn render(study: &dyn DynStudy, out: &Path) -> Result<RunSummary> {
    let dir = out.join(study.slug());
    if let Ok(text) = std::fs::read_to_string(dir.join("manifest.json"))
        && let Ok(m) = serde_json::from_str::<Manifest>(&text)
        && !m.seeds.is_empty()
    {
        return aggregate_seeds(study, out, &m.seeds);
    }
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f)).map_err(|e| {
            anyhow::Error::new(BadInput::new(format!(
                "cannot render {}: {} is unreadable ({e}); run `cargo reproduce {}` first",
                study.slug(),
                dir.join(f).display(),
                study.slug()
            )))
        })
    };
    let manifest: Manifest = serde_json::from_str(&read("manifest.json")?)
        .map_err(|e| BadInput::new(format!("cannot render {}: manifest.json: {e}", study.slug())))?;
    let results = read("results.json")?;
    let results = results.trim_end();
    study.check_config(&manifest.config)?;
    let outcome = study.report_json(&manifest.config, results)?;
    check_declared(study, &outcome)?;
    let wall = manifest.wall_seconds;
    let dir = write_all(study, out, &outcome, &manifest, results)?;
    Ok(summary(study, &outcome, dir, wall))
}

/// The folder of one seed's report in a several-seed run: `<out>/seeds/<seed>`.
pub fn seed_dir(out: &Path, seed: u64) -> PathBuf {
    out.join("seeds").join(seed.to_string())
}

/// Run `study` at every seed of `seeds` (each a whole report under `<out>/seeds/<seed>/`), then
/// write the aggregated report to `<out>/<slug>` (see [`crate::report::seeds`]).
pub fn run_seeds(study: &dyn DynStudy, opts: &RunOpts, seeds: &[u64], probed: &Probed) -> Result<RunSummary> {
    for &seed in seeds {
        let one = RunOpts { seed, out: seed_dir(&opts.out, seed), ..opts.clone() };
        let sum = run_study(study, &one, probed)?;
        if opts.progress != crate::progress::Mode::Quiet {
            eprintln!(
                "   seed {seed}: {}/{} gated claims passed in {:.1} s -> {}",
                sum.passed,
                sum.gated,
                sum.wall_seconds,
                sum.dir.display()
            );
        }
    }
    aggregate_seeds(study, &opts.out, seeds)
}

/// Aggregate the reports `<out>/seeds/<seed>/<slug>` of `seeds` into `<out>/<slug>`: every claim
/// per seed and over the seeds (passes only at every seed), tables with a seed column, figures
/// with the seeds' spread. Re-reports each seed from its `results.json` (no re-run).
pub fn aggregate_seeds(study: &dyn DynStudy, out: &Path, seeds: &[u64]) -> Result<RunSummary> {
    anyhow::ensure!(!seeds.is_empty(), "aggregate: no seeds");
    let mut outcomes = vec![];
    let mut manifests: Vec<Manifest> = vec![];
    for &seed in seeds {
        let dir = seed_dir(out, seed).join(study.slug());
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f)).map_err(|e| {
                anyhow::Error::new(BadInput::new(format!(
                    "cannot aggregate {}: {} is unreadable ({e})",
                    study.slug(),
                    dir.join(f).display()
                )))
            })
        };
        let m: Manifest = serde_json::from_str(&read("manifest.json")?)?;
        if let Some(first) = manifests.first() {
            anyhow::ensure!(
                m.config == first.config && m.profile == first.profile,
                "cannot aggregate {}: seed {seed} ran another profile or configuration than seed {}",
                study.slug(),
                first.seed
            );
        }
        let outcome = study.report_json(&m.config, read("results.json")?.trim_end())?;
        check_declared(study, &outcome)?;
        outcomes.push(outcome);
        manifests.push(m);
    }
    let outcome = crate::report::seeds::aggregate(seeds, &outcomes)?;
    let mut manifest = manifests[0].clone();
    manifest.seeds = seeds.to_vec();
    manifest.wall_seconds = (manifests.iter().map(|m| m.wall_seconds).sum::<f64>() * 100.0).round() / 100.0;
    manifest.gradient_evals = manifests.iter().map(|m| m.gradient_evals).sum();
    manifest.hvp_evals = manifests.iter().map(|m| m.hvp_evals).sum();
    manifest.cells_run = manifests.iter().map(|m| m.cells_run).sum();
    manifest.cells_cached = manifests.iter().map(|m| m.cells_cached).sum();
    manifest.git_dirty = manifests.iter().any(|m| m.git_dirty);
    let claims = ClaimsFile {
        study: study.slug().into(),
        profile: manifest.profile.clone(),
        seed: manifest.seed,
        claims: outcome.claims.clone(),
    };
    let dir = write_report(out, &paper_info(study), &outcome, &claims, &manifest, None)?;
    write_index(out)?;
    Ok(summary(study, &outcome, dir, manifest.wall_seconds))
}

/// Parse `--seeds`: `1,2,3`, `1..=8` (inclusive), `1..8` (exclusive) or a mix (`1..=3,10`); at most
/// 1000 distinct seeds, in the order given.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, BadInput> {
    let bad = |why: &str| {
        BadInput::new(format!(
            "--seeds `{s}`: {why}; accepted are lists and ranges like 1,2,3 or 1..=8 (at most 1000 seeds)"
        ))
    };
    let mut out: Vec<u64> = vec![];
    for part in s.split(',').map(str::trim) {
        let range = if let Some((a, b)) = part.split_once("..=") {
            let (a, b): (u64, u64) =
                (a.parse().map_err(|_| bad("not a number"))?, b.parse().map_err(|_| bad("not a number"))?);
            (a <= b).then_some((a, b)).ok_or_else(|| bad("an empty range"))?
        } else if let Some((a, b)) = part.split_once("..") {
            let (a, b): (u64, u64) =
                (a.parse().map_err(|_| bad("not a number"))?, b.parse().map_err(|_| bad("not a number"))?);
            (a < b).then(|| (a, b - 1)).ok_or_else(|| bad("an empty range"))?
        } else {
            let a: u64 = part.parse().map_err(|_| bad("not a number"))?;
            (a, a)
        };
        if range.1 - range.0 >= 1000 {
            return Err(bad("more than 1000 seeds"));
        }
        for x in range.0..=range.1 {
            if !out.contains(&x) {
                out.push(x);
            }
        }
        if out.len() > 1000 {
            return Err(bad("more than 1000 seeds"));
        }
    }
    Ok(out)
}

/// Default cache folder beside the reports.
pub fn default_cache_dir(out: &Path) -> PathBuf {
    out.parent().map(|p| p.join(".repro-cache")).unwrap_or_else(|| PathBuf::from(".repro-cache"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;

    /// A study that records the device it was given.
    struct Echo(bool);
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct EchoConfig;
    impl crate::Profiles for EchoConfig {
        fn quick() -> Self {
            EchoConfig
        }
        fn full() -> Self {
            EchoConfig
        }
    }
    impl crate::Validate for EchoConfig {
        fn validate(&self) -> Result<(), BadInput> {
            Ok(())
        }
        fn estimate(&self) -> Estimate {
            Estimate::bytes(1.0)
        }
    }
    const C1: crate::ClaimSpec = crate::ClaimSpec::new("C1", "s", "p", crate::Expect::at_least(0.0)).wrong("w");
    impl crate::Study for Echo {
        type Config = EchoConfig;
        type Results = String;
        const CLAIMS: &'static [crate::ClaimSpec] = &[C1];
        fn slug(&self) -> &'static str {
            "echo"
        }
        fn paper(&self) -> crate::Paper {
            crate::Paper { title: "t", authors: "a", arxiv: "0", official_code: None }
        }
        fn gpu_path(&self) -> bool {
            self.0
        }
        fn measure(&self, _: &EchoConfig, ctx: &crate::Ctx) -> Result<String> {
            Ok(format!("device {:?}", ctx.device))
        }
        fn report(&self, _: &EchoConfig, r: &String) -> Result<crate::Outcome> {
            let mut o = crate::Outcome::default();
            o.note(r.clone());
            o.claim(C1.measured(1.0));
            Ok(o)
        }
    }

    /// With a GPU probed, a study without a GPU path runs on (and reports) the CPU.
    #[test]
    fn a_study_without_a_gpu_path_runs_on_the_cpu() {
        let dir = tempfile::tempdir().unwrap();
        let probed = Probed { device: Device::Cuda, note: "cuda: test GPU".into() };
        for (gpu, want) in [(false, "cpu"), (true, "cuda")] {
            let opts = RunOpts { out: dir.path().join(format!("r{gpu}")), ..RunOpts::default() };
            let sum = run_study(&Echo(gpu), &opts, &probed).unwrap();
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(sum.dir.join("manifest.json")).unwrap()).unwrap();
            assert_eq!(m["device_used"], want);
            assert_eq!(m["device_note"].as_str().unwrap().contains("no GPU path"), !gpu);
            let readme = std::fs::read_to_string(sum.dir.join("README.md")).unwrap();
            assert!(readme.contains(if gpu { "device Cuda" } else { "device Cpu" }), "{readme}");
        }
    }

    /// `render` rewrites the same bytes from results.json; a study whose report drops a declared
    /// claim is refused.
    #[test]
    fn render_reproduces_and_declarations_bind() {
        let dir = tempfile::tempdir().unwrap();
        let probed = Probed { device: Device::Cpu, note: "cpu".into() };
        let opts = RunOpts { out: dir.path().to_path_buf(), ..RunOpts::default() };
        run_study(&Echo(false), &opts, &probed).unwrap();
        let p = dir.path().join("echo/README.md");
        let before = std::fs::read(&p).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("echo/results.json")).unwrap(), "\"device Cpu\"\n");
        render(&Echo(false), dir.path()).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), before);
        let mut o = crate::Outcome::default();
        assert!(check_declared(&Echo(false), &o).is_err());
        o.claim(C1.measured(1.0));
        assert!(check_declared(&Echo(false), &o).is_ok());
        let e = render(&Echo(false), &dir.path().join("nowhere")).unwrap_err();
        assert!(crate::error::is_bad_input(&e), "{e}");
    }

    #[test]
    fn memory_estimates_beyond_the_budget_are_bad_input() {
        struct Big;
        impl DynStudy for Big {
            fn slug(&self) -> &'static str {
                "big"
            }
            fn paper(&self) -> crate::Paper {
                crate::Paper { title: "t", authors: "a", arxiv: "0", official_code: None }
            }
            fn gpu_path(&self) -> bool {
                false
            }
            fn claims(&self) -> &'static [crate::ClaimSpec] {
                &[]
            }
            fn config_json(&self, _: Profile) -> serde_json::Value {
                serde_json::json!({"n": 1.0})
            }
            fn check_config(&self, cfg: &serde_json::Value) -> Result<Estimate, BadInput> {
                Ok(Estimate::f64s(cfg["n"].as_f64().unwrap()))
            }
            fn measure_json(&self, _: &serde_json::Value, _: &Ctx) -> Result<String> {
                unreachable!()
            }
            fn report_json(&self, _: &serde_json::Value, _: &str) -> Result<crate::Outcome> {
                unreachable!()
            }
        }
        assert!(resolve_config(&Big, Profile::Quick, &[]).is_ok());
        let e = resolve_config(&Big, Profile::Quick, &[("n".into(), "1e18".into())]).unwrap_err();
        assert!(e.0.contains("more than this machine's budget") && !e.0.contains('\n'), "{e}");
    }

    #[test]
    fn seeds_parse() {
        assert_eq!(parse_seeds("1,2,3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_seeds("1..=3, 10").unwrap(), vec![1, 2, 3, 10]);
        assert_eq!(parse_seeds("4..6").unwrap(), vec![4, 5]);
        assert_eq!(parse_seeds("2,2").unwrap(), vec![2]);
        for bad in ["", "a", "3..=1", "5..5", "0..=5000", "1,,2", "-1"] {
            assert!(parse_seeds(bad).unwrap_err().0.contains("accepted are lists"), "{bad}");
        }
    }

    /// Three seeds: three reports under seeds/, one aggregated report whose claim passes only if
    /// it passes at every seed, and `render` rebuilds the aggregate byte for byte.
    #[test]
    fn several_seeds_aggregate_into_one_report() {
        struct Noisy;
        impl crate::Study for Noisy {
            type Config = EchoConfig;
            type Results = f64;
            const CLAIMS: &'static [crate::ClaimSpec] = &[C1];
            fn slug(&self) -> &'static str {
                "noisy"
            }
            fn paper(&self) -> crate::Paper {
                crate::Paper { title: "t", authors: "a", arxiv: "0", official_code: None }
            }
            fn measure(&self, _: &EchoConfig, ctx: &crate::Ctx) -> Result<f64> {
                Ok(ctx.seed.0 as f64 - 2.0)
            }
            fn report(&self, _: &EchoConfig, r: &f64) -> Result<crate::Outcome> {
                let mut o = crate::Outcome::default();
                o.table(crate::Table::new("t", "c").f64("v", vec![*r]));
                o.claim(C1.measured(*r));
                Ok(o)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let probed = Probed { device: Device::Cpu, note: "cpu".into() };
        let opts = RunOpts { out: dir.path().to_path_buf(), ..RunOpts::default() };
        let sum = run_seeds(&Noisy, &opts, &[2, 3, 4], &probed).unwrap();
        assert_eq!((sum.gated, sum.passed), (1, 1));
        for s in [2, 3, 4] {
            assert!(dir.path().join(format!("seeds/{s}/noisy/claims.json")).is_file());
        }
        let claims = std::fs::read_to_string(dir.path().join("noisy/claims.json")).unwrap();
        assert!(claims.contains("passes at 3/3 seeds"), "{claims}");
        let csv = std::fs::read_to_string(dir.path().join("noisy/tables/t.csv")).unwrap();
        assert_eq!(csv.lines().count(), 4, "{csv}");
        let before = std::fs::read(dir.path().join("noisy/README.md")).unwrap();
        render(&Noisy, dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("noisy/README.md")).unwrap(), before);
        // Seed 1 measures -1 < 0: the aggregate fails although two seeds pass.
        let sum = run_seeds(&Noisy, &opts, &[1, 2, 3], &probed).unwrap();
        assert_eq!(sum.passed, 0);
    }

    #[test]
    fn utc_known_values() {
        assert_eq!(utc_string(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_string(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_string(1_798_502_400 + 3661), "2026-12-29T01:01:01Z");
    }
}
