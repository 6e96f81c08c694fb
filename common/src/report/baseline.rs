//! `repro check`: re-read every `claims.json`, and compare measured values with a baseline
//! (the committed reports) so that CI fails when a number drifts, not only when it crosses a bound.
use super::fmt_num;
use super::write::ClaimsFile;
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;

/// One line of the check table.
#[derive(Debug, Clone)]
pub struct CheckRow {
    /// The study's slug.
    pub study: String,
    /// The claim's id.
    pub id: String,
    /// Whether the claim gates the study (a failure fails the check).
    pub gated: bool,
    /// The verdict recorded in `claims.json`.
    pub passed: bool,
    /// The measured value recorded in `claims.json`.
    pub measured: f64,
    /// The same claim's value in the baseline, when the baseline has it for the same profile
    /// and seed.
    pub baseline: Option<f64>,
    /// False when the value moved beyond the claim's drift tolerance from the baseline.
    pub stable: bool,
}

/// Drift test: |m - b| <= tol * max(|b|, scale), where `scale` is the size of the claim's own
/// expectation (its bound or band width, see [`drift_scale`]): a value at round-off level (an
/// exactness error of 1e-13 against a bound of 1e-8) may move by round-off on another CPU without
/// counting as drift, while a value near its bound is held to `tol` of itself. NaN vs NaN is stable.
pub fn within_drift(measured: f64, baseline: f64, tol: f64, scale: f64) -> bool {
    if measured.is_nan() && baseline.is_nan() {
        return true;
    }
    if measured == baseline {
        return true;
    }
    (measured - baseline).abs() <= tol * baseline.abs().max(scale.abs()).max(1e-300)
}

/// The magnitude a claim's expectation works at: its bound, or its band's width.
pub fn drift_scale(e: &super::Expect) -> f64 {
    let s = match *e {
        super::Expect::AtMost { bound } | super::Expect::AtLeast { bound } => bound.abs(),
        super::Expect::Within { tol, .. } => tol.abs(),
        super::Expect::Between { lo, hi } => (hi - lo).abs(),
    };
    if s.is_finite() { s } else { 0.0 }
}

fn load(path: &Path) -> Result<ClaimsFile> {
    serde_json::from_str(&fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?)
        .with_context(|| format!("parsing {}", path.display()))
}

/// Check every study under `out` (optionally against `baseline`, a folder of the same shape).
pub fn check(out: &Path, baseline: Option<&Path>) -> Result<Vec<CheckRow>> {
    let mut rows = vec![];
    let mut dirs: Vec<_> = fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.') && e.path().join("claims.json").is_file())
        .collect();
    dirs.sort_by_key(|e| e.file_name());
    for e in dirs {
        rows.extend(check_dir(&e.path(), baseline)?);
    }
    Ok(rows)
}

/// Studies with a report in `baseline` but none in `out`.
pub fn missing(out: &Path, baseline: &Path) -> Result<Vec<String>> {
    let mut v = vec![];
    for e in fs::read_dir(baseline).with_context(|| format!("reading {}", baseline.display()))?.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with('.')
            && e.path().join("claims.json").is_file()
            && !out.join(&name).join("claims.json").is_file()
        {
            v.push(name);
        }
    }
    v.sort();
    Ok(v)
}

/// The rows of one report folder `dir` (holding `claims.json`), against `<baseline>/<dir name>`.
pub fn check_dir(dir: &Path, baseline: Option<&Path>) -> Result<Vec<CheckRow>> {
    let mut rows = vec![];
    let cf = load(&dir.join("claims.json"))?;
    let base = match (baseline, dir.file_name()) {
        (Some(b), Some(name)) => {
            let p = b.join(name).join("claims.json");
            if p.is_file() { Some(load(&p)?) } else { None }
        }
        _ => None,
    };
    for c in &cf.claims {
        let b = base
            .as_ref()
            .filter(|b| b.profile == cf.profile && b.seed == cf.seed)
            .and_then(|b| b.claims.iter().find(|x| x.id == c.id))
            .map(|x| x.measured);
        rows.push(CheckRow {
            study: cf.study.clone(),
            id: c.id.clone(),
            gated: c.gated,
            passed: c.passed,
            measured: c.measured,
            baseline: b,
            stable: b.is_none_or(|b| !c.gated || within_drift(c.measured, b, c.drift_tol, drift_scale(&c.expected))),
        });
    }
    Ok(rows)
}

/// Render the check table as plain text.
pub fn render(rows: &[CheckRow]) -> String {
    let mut s = format!(
        "{:<34} {:<10} {:<6} {:<8} {:>14} {:>14} {}\n",
        "study", "claim", "gated", "verdict", "measured", "baseline", "drift"
    );
    for r in rows {
        s += &format!(
            "{:<34} {:<10} {:<6} {:<8} {:>14} {:>14} {}\n",
            r.study,
            r.id,
            if r.gated { "yes" } else { "no" },
            if r.passed {
                "pass"
            } else if r.gated {
                "FAIL"
            } else {
                "fail"
            },
            fmt_num(r.measured),
            r.baseline.map(fmt_num).unwrap_or_else(|| "-".into()),
            if r.stable { "ok" } else { "DRIFTED" }
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn drift_rule() {
        assert!(within_drift(1.0, 1.0, 0.0, 0.0));
        assert!(within_drift(1.04, 1.0, 0.05, 0.0));
        assert!(!within_drift(1.06, 1.0, 0.05, 0.0));
        assert!(within_drift(f64::NAN, f64::NAN, 0.05, 0.0));
        assert!(!within_drift(f64::NAN, 1.0, 0.05, 0.0));
        // Round-off-level values move freely below 5% of their bound...
        assert!(within_drift(3e-13, 1e-13, 0.05, 1e-10));
        // ...but not by a sizeable part of it.
        assert!(!within_drift(3e-11, 1e-13, 0.05, 1e-10));
        assert!((drift_scale(&super::super::Expect::Between { lo: 0.8, hi: 1.2 }) - 0.4).abs() < 1e-12);
    }
}
