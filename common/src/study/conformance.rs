//! The generic suite every registered study goes through: `repro/tests/studies.rs` generates one
//! set of tests per study from the registry, each failing on its own.
//!
//! - [`config_contract`]: both profiles round-trip through JSON and validate; the claim
//!   declarations are well formed (ids, reasons, the wrong answer each gated claim excludes).
//! - [`quick_contract`]: the quick profile runs through the real runner (results, report, index);
//!   every gated claim passes; the report's claims are the declared ones; `render` from
//!   `results.json` gives the same files byte for byte; no gated claim drifted from the baseline.
use super::runner::{DEFAULT_SEED, RunOpts, RunSummary, render, resolve_with_estimate, run_study};
use super::{DynStudy, Profile};
use crate::device::{Device, Probed};
use crate::report::{baseline, spec};
use std::path::Path;

/// Configs and declarations (cheap; no run).
pub fn config_contract(study: &dyn DynStudy) {
    let slug = study.slug();
    for profile in [Profile::Quick, Profile::Full] {
        let cfg = study.config_json(profile);
        let (resolved, est) = resolve_with_estimate(study, profile, &[])
            .or_else(|e| {
                // A full profile may need more memory than a test machine has: it must still validate.
                if profile == Profile::Full && e.0.contains("budget") {
                    Ok((study.config_json(profile), Default::default()))
                } else {
                    Err(e)
                }
            })
            .unwrap_or_else(|e| panic!("{slug}: the {} profile does not validate: {e}", profile.as_str()));
        assert_eq!(resolved, cfg, "{slug}: the {} config does not round-trip through JSON", profile.as_str());
        assert!(est.bytes >= 0.0, "{slug}: negative memory estimate");
    }
    let lint = spec::lint(study.claims());
    assert!(lint.is_empty(), "{slug}: claim declarations: {lint:?}");
    let gated = study.claims().iter().filter(|c| c.gated()).count();
    assert!(gated >= 2, "{slug}: a study gates at least two claims (declares {gated})");
}

/// The `--set` pairs that turn a study's quick profile into `cfg`: every leaf of its JSON, with
/// dotted keys for nested sections (`logistic.batches`).
pub fn sets_of<C: serde::Serialize>(cfg: &C) -> Vec<(String, String)> {
    fn walk(v: &serde_json::Value, prefix: &str, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => m
                .iter()
                .for_each(|(k, x)| walk(x, &if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, out)),
            leaf => out.push((prefix.to_string(), leaf.to_string())),
        }
    }
    let mut out = vec![];
    walk(&serde_json::to_value(cfg).expect("a config serializes to JSON"), "", &mut out);
    out
}

/// Runs `cfg` through the real runner on the CPU into a temporary folder (overrides, validation,
/// estimate, measure, report, figures, the results.json round trip) and returns its summary;
/// panics if the run fails or does not report every declared claim. For tests that an accepted
/// extreme setting runs to the end.
pub fn run_through_the_runner<C: serde::Serialize>(study: &dyn DynStudy, cfg: &C) -> RunSummary {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let opts = RunOpts { out: dir.path().to_path_buf(), jobs: 1, sets: sets_of(cfg), ..RunOpts::default() };
    let probed = Probed { device: Device::Cpu, note: "cpu (test)".into() };
    let sum = run_study(study, &opts, &probed).unwrap_or_else(|e| panic!("{}: the run failed: {e:#}", study.slug()));
    assert_eq!(
        sum.gated + sum.ungated,
        study.claims().len(),
        "{}: not every declared claim was reported",
        study.slug()
    );
    sum
}

/// Every file under `dir`, relative path → bytes.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display())).flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir").to_string_lossy().to_string();
                out.insert(rel, std::fs::read(&p).expect("readable"));
            }
        }
    }
    out
}

/// Run the quick profile at `seed` into `out/<slug>` and check everything a run promises.
pub fn quick_contract(study: &dyn DynStudy, out: &Path, seed: u64, baseline_dir: Option<&Path>) -> RunSummary {
    let slug = study.slug();
    let opts = RunOpts { out: out.to_path_buf(), seed, jobs: 1, ..RunOpts::default() };
    let probed = Probed { device: Device::Cpu, note: "cpu (the generic test)".into() };
    let sum = run_study(study, &opts, &probed).unwrap_or_else(|e| panic!("{slug}: quick profile failed: {e:#}"));
    let report = out.join(slug);
    let cf: crate::report::write::ClaimsFile =
        serde_json::from_slice(&std::fs::read(report.join("claims.json")).expect("claims.json")).expect("parses");
    let failed: Vec<String> = cf
        .claims
        .iter()
        .filter(|c| c.gated && !c.passed)
        .map(|c| format!("{} measured {} expected {}", c.id, c.measured, c.expected.describe()))
        .collect();
    assert!(failed.is_empty(), "{slug} (seed {seed}): failed claims: {failed:?}");

    // Render from results.json: the same files, byte for byte.
    let before = files(&report);
    assert!(before.contains_key("results.json"), "{slug}: no results.json");
    render(study, out).unwrap_or_else(|e| panic!("{slug}: render failed: {e:#}"));
    let after = files(&report);
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "{slug}: render wrote other files");
    for (k, v) in &before {
        assert!(after[k] == *v, "{slug}: render changed {k}");
    }

    if let Some(b) = baseline_dir.filter(|_| seed == DEFAULT_SEED) {
        let rows = baseline::check_dir(&report, Some(b)).expect("check reads");
        let drifted: Vec<String> = rows
            .iter()
            .filter(|r| r.study == slug && !r.stable)
            .map(|r| format!("{} {} (baseline {:?})", r.id, r.measured, r.baseline))
            .collect();
        assert!(drifted.is_empty(), "{slug}: claims drifted from the committed baseline: {drifted:?}");
    }
    sum
}

/// Calibration by hand: `measure` + `report` of the quick profile at `CAL_SEEDS` (default 30)
/// root seeds from `CAL_START` (default 100000), without figures. Prints each seed's claims (`!`
/// marks a failure) and, per claim, min / median / max and the gated failures; returns every
/// seed's results and outcome for study-specific summaries.
pub fn calibrate<S: super::Study>(study: &S) -> Vec<(u64, S::Results, crate::Outcome)> {
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d);
    let (n, start) = (env("CAL_SEEDS", 30), env("CAL_START", 100_000));
    let cfg = study.config(Profile::Quick);
    let mut runs = vec![];
    for seed in start..start + n {
        let r = study.measure(&cfg, &super::Ctx::for_test(seed, Profile::Quick)).expect("measure");
        let out = study.report(&cfg, &r).expect("report");
        let line: Vec<String> = out
            .claims
            .iter()
            .map(|c| format!("{}={}{}", c.id, crate::report::fmt_num(c.measured), if c.passed { "" } else { "!" }))
            .collect();
        eprintln!("seed {seed}: {}", line.join(" "));
        runs.push((seed, r, out));
    }
    for (i, c) in S::CLAIMS.iter().enumerate() {
        let v: Vec<f64> = runs.iter().map(|(_, _, o)| o.claims[i].measured).collect();
        let fails = runs.iter().filter(|(_, _, o)| o.claims[i].gated && !o.claims[i].passed).count();
        let f = crate::report::fmt_num;
        eprintln!(
            "{}: min {} median {} max {}; gated failures {fails}/{n}",
            c.id,
            f(crate::stats::min(&v)),
            f(crate::stats::median(&v)),
            f(crate::stats::max(&v))
        );
    }
    runs
}

/// The root seeds of `seed_checks!`: `REPRO_SEEDS` (comma-separated), default `1,2,3`.
pub fn check_seeds() -> Vec<u64> {
    std::env::var("REPRO_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3])
}

/// Two `#[ignore]`d tests for a study crate (run them with `cargo test --release -p <crate> --
/// --ignored`): the quick profile at the default seed against the committed `reports/` (0 failed,
/// 0 drifted, render byte for byte), and at the seeds of [`check_seeds`] (every gated claim
/// passes). CI runs the default seed through the generated suite; these are for calibration and
/// review.
///
/// ```ignore
/// #[cfg(test)]
/// common::seed_checks!(crate::MyStudy);
/// ```
#[macro_export]
macro_rules! seed_checks {
    ($study:expr) => {
        mod seed_checks {
            #[test]
            #[ignore = "runs the quick profile; CI runs it through repro's generated suite"]
            fn quick_profile_against_the_committed_report() {
                let dir = tempfile::tempdir().unwrap();
                let reports = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports");
                $crate::study::conformance::quick_contract(
                    &$study,
                    dir.path(),
                    $crate::study::runner::DEFAULT_SEED,
                    Some(&reports),
                );
            }

            #[test]
            #[ignore = "runs the quick profile at several seeds (REPRO_SEEDS)"]
            fn quick_profile_at_other_seeds() {
                for seed in $crate::study::conformance::check_seeds() {
                    let dir = tempfile::tempdir().unwrap();
                    let s = $crate::study::conformance::quick_contract(&$study, dir.path(), seed, None);
                    eprintln!("seed {seed}: {}/{} gated claims passed", s.passed, s.gated);
                }
            }
        }
    };
}
