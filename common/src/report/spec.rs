//! Claims as data: a study declares each claim once ([`ClaimSpec`]: id, statement, paper location,
//! expectation, drift tolerance, gate, the nearest wrong answer the bound excludes), in a `const`
//! table; `report` supplies only the measured value and the detail.
//!
//! The declarations drive `repro list --claims`, the claims table of each study's README (checked
//! in CI) and the generic test (every declared claim is reported, in order, and nothing else).
//!
//! ```
//! use common::report::{ClaimSpec, Expect};
//! const H1: ClaimSpec = ClaimSpec::new("H1", "outliers track the classes", "Sec. 3", Expect::at_least(1.0))
//!     .wrong("a GGN without the softmax −ppᵀ term moves the gap for every k");
//! let c = H1.share([("k=2", true), ("k=4", true)]);
//! assert!(c.passed && c.measured == 1.0);
//! ```
use super::{Claim, Expect, SeedGate, fmt_num};
use crate::stats;

/// Whether a claim decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gate {
    /// Gated: a failure makes the run exit 1 and CI fail.
    Gated,
    /// Reported with its numbers, not gated, for the reason given (required).
    NotGated(&'static str),
}

/// One claim of a paper, declared once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClaimSpec {
    /// Short id, unique in the study (`H1`, `C2-asymptote`).
    pub id: &'static str,
    /// The paper's statement as the study tests it.
    pub statement: &'static str,
    /// Where in the paper (`Thm 1`, `Fig. 3`, `Sec. 4.2`).
    pub source: &'static str,
    /// The expectation at the study's profiles. A bound that depends on the configuration is
    /// given at run time with [`Claim::expect_instead`]; this one is then the quick profile's.
    pub expect: Expect,
    /// Regression tolerance against the committed baseline (relative, see `report::baseline`).
    pub drift: f64,
    /// Gated, or reported with a reason.
    pub gate: Gate,
    /// The nearest plausible wrong answer (wrong sign, factor, normalization, missing term, the
    /// simpler theory) and why the bound excludes it.
    pub wrong: &'static str,
    /// Which aggregate over seeds decides the claim in a report of several seeds (default: it
    /// passes at every seed).
    pub over_seeds: SeedGate,
}

impl Expect {
    /// `x <= bound`.
    pub const fn at_most(bound: f64) -> Expect {
        Expect::AtMost { bound }
    }
    /// `x >= bound`.
    pub const fn at_least(bound: f64) -> Expect {
        Expect::AtLeast { bound }
    }
    /// `|x - target| <= tol`.
    pub const fn within(target: f64, tol: f64) -> Expect {
        Expect::Within { target, tol }
    }
    /// `lo <= x <= hi`.
    pub const fn between(lo: f64, hi: f64) -> Expect {
        Expect::Between { lo, hi }
    }
}

impl ClaimSpec {
    /// A gated claim with the default drift tolerance (5 %).
    pub const fn new(id: &'static str, statement: &'static str, source: &'static str, expect: Expect) -> Self {
        ClaimSpec {
            id,
            statement,
            source,
            expect,
            drift: 0.05,
            gate: Gate::Gated,
            wrong: "",
            over_seeds: SeedGate::Every,
        }
    }
    /// Reported, not gated, with the reason.
    pub const fn not_gated(mut self, reason: &'static str) -> Self {
        self.gate = Gate::NotGated(reason);
        self
    }
    /// Relative drift tolerance against the committed baseline.
    pub const fn drift(mut self, tol: f64) -> Self {
        self.drift = tol;
        self
    }
    /// The nearest plausible wrong answer and why the bound excludes it.
    pub const fn wrong(mut self, why: &'static str) -> Self {
        self.wrong = why;
        self
    }
    /// Which aggregate over seeds decides the claim in a report of several seeds: the mean or the
    /// median meeting the expectation, or a least pass share (default: every seed passes).
    pub const fn over_seeds(mut self, rule: SeedGate) -> Self {
        self.over_seeds = rule;
        self
    }
    /// Whether the claim is gated.
    pub const fn gated(&self) -> bool {
        matches!(self.gate, Gate::Gated)
    }

    /// The claim with its measured value, judged against the declared expectation.
    pub fn measured(&self, x: f64) -> Claim {
        let passed = self.expect.holds(x);
        let (gated, reason) = match self.gate {
            Gate::Gated => (true, None),
            Gate::NotGated(r) => (false, Some(r.to_string())),
        };
        Claim {
            id: self.id.into(),
            statement: self.statement.into(),
            source: self.source.into(),
            measured: x,
            expected: self.expect,
            gated,
            passed,
            reason,
            detail: None,
            drift_tol: self.drift,
            over_seeds: self.over_seeds,
        }
    }

    /// "Every cell passes": the share of `(label, ok)` items that pass; the detail names the
    /// failing ones (at most 8). An empty list measures NaN (fails).
    pub fn share<L: std::fmt::Display>(&self, items: impl IntoIterator<Item = (L, bool)>) -> Claim {
        let (mut n, mut ok, mut bad) = (0usize, 0usize, vec![]);
        for (label, pass) in items {
            n += 1;
            if pass {
                ok += 1;
            } else {
                bad.push(label.to_string());
            }
        }
        let x = if n == 0 { f64::NAN } else { ok as f64 / n as f64 };
        let mut d = format!("{ok} of {n} pass");
        if !bad.is_empty() {
            d += &format!("; failing: {}", list_some(&bad, 8));
        }
        self.measured(x).detail(d)
    }

    /// "Max over runs": the largest value, with the worst items (at most 3) in the detail. NaN
    /// values count as the worst (the measured value is then NaN and the claim fails).
    pub fn max_of<L: std::fmt::Display>(&self, items: impl IntoIterator<Item = (L, f64)>) -> Claim {
        self.extreme(items, true)
    }

    /// "Min over runs": the smallest value, with the worst items (at most 3) in the detail.
    pub fn min_of<L: std::fmt::Display>(&self, items: impl IntoIterator<Item = (L, f64)>) -> Claim {
        self.extreme(items, false)
    }

    fn extreme<L: std::fmt::Display>(&self, items: impl IntoIterator<Item = (L, f64)>, max: bool) -> Claim {
        let mut v: Vec<(String, f64)> = items.into_iter().map(|(l, x)| (l.to_string(), x)).collect();
        // Worst first; NaN is worse than anything.
        v.sort_by(|a, b| {
            let key = |x: f64| {
                if x.is_nan() {
                    f64::INFINITY
                } else if max {
                    x
                } else {
                    -x
                }
            };
            key(b.1).total_cmp(&key(a.1))
        });
        let x = match v.first() {
            None => f64::NAN,
            Some((_, x)) => *x,
        };
        let worst: Vec<String> = v.iter().take(3).map(|(l, x)| format!("{l}: {}", fmt_num(*x))).collect();
        self.measured(x).detail(format!(
            "{} of {} items; worst: {}",
            if max { "max" } else { "min" },
            v.len(),
            worst.join(", ")
        ))
    }

    /// "Fitted log-log slope in a band": the least-squares exponent of `y ~ c x^slope`, with its
    /// 95 % confidence interval and R² in the detail.
    pub fn loglog_slope(&self, x: &[f64], y: &[f64]) -> Claim {
        let f = stats::loglog_fit(x, y);
        self.measured(f.slope).detail(format!(
            "log-log fit over {} points: slope {} (95% CI [{}, {}]), R² {}",
            x.len(),
            fmt_num(f.slope),
            fmt_num(f.ci95.0),
            fmt_num(f.ci95.1),
            fmt_num(f.r2)
        ))
    }

    /// "Ratio between two arms": `num / den`, both in the detail.
    pub fn ratio(&self, num_label: &str, num: f64, den_label: &str, den: f64) -> Claim {
        self.measured(num / den).detail(format!("{num_label} {} / {den_label} {}", fmt_num(num), fmt_num(den)))
    }
}

impl Claim {
    /// Add supporting numbers (per-seed values, the fit, ...). Appends to a detail already there.
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        let d = d.into();
        self.detail = Some(match self.detail.take() {
            Some(old) if !old.is_empty() => format!("{old}. {d}"),
            _ => d,
        });
        self
    }
    /// Judge against an expectation computed from the configuration (e.g. "all but one of the
    /// configured repetitions") instead of the declared one.
    pub fn expect_instead(mut self, e: Expect) -> Self {
        self.expected = e;
        self.passed = e.holds(self.measured);
        self
    }
}

/// `a, b, c, … (+n more)`.
pub fn list_some(items: &[String], max: usize) -> String {
    let mut s = items.iter().take(max).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > max {
        s += &format!(", … (+{} more)", items.len() - max);
    }
    s
}

/// Markdown table of declared claims (for study READMEs, between the claims markers).
pub fn declared_markdown(specs: &[ClaimSpec]) -> String {
    let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut s = String::from(
        "| id | claim | paper | gate | nearest wrong answer, excluded by the bound |\n|---|---|---|---|---|\n",
    );
    for c in specs {
        let gate = match c.gate {
            Gate::Gated => format!("{} (drift {})", c.expect.describe(), fmt_num(c.drift)),
            Gate::NotGated(r) => format!("reported ({}), not gated: {}", c.expect.describe(), esc(r)),
        };
        s += &format!(
            "| {} | {} | {} | {} | {} |\n",
            c.id,
            esc(c.statement),
            esc(c.source),
            gate,
            if c.wrong.is_empty() { "-".into() } else { esc(c.wrong) }
        );
    }
    s
}

/// The claims-table markers of a study README.
pub const README_BEGIN: &str = "<!-- claims:begin (generated from the study's CLAIMS by `cargo repro readme`) -->";
/// End marker.
pub const README_END: &str = "<!-- claims:end -->";

/// `readme` with the text between the markers replaced by the declared table; `None` when the
/// markers are missing.
pub fn splice_readme(readme: &str, specs: &[ClaimSpec]) -> Option<String> {
    let b = readme.find(README_BEGIN)?;
    let e = readme[b..].find(README_END)? + b;
    Some(format!("{}{}\n\n{}\n{}", &readme[..b], README_BEGIN, declared_markdown(specs).trim_end(), &readme[e..]))
}

/// Problems with a study's declarations: empty or duplicate ids, gated claims without the wrong
/// answer they exclude, not-gated ones without a reason.
pub fn lint(specs: &[ClaimSpec]) -> Vec<String> {
    let mut out = vec![];
    for (i, c) in specs.iter().enumerate() {
        if c.id.is_empty() || c.statement.is_empty() || c.source.is_empty() {
            out.push(format!("claim #{i} ({}) lacks an id, statement or source", c.id));
        }
        if specs[..i].iter().any(|o| o.id == c.id) {
            out.push(format!("duplicate claim id {}", c.id));
        }
        if c.gated() && c.wrong.is_empty() {
            out.push(format!("{}: a gated claim names the nearest wrong answer it excludes (`.wrong(..)`)", c.id));
        }
        if let Gate::NotGated(r) = c.gate
            && r.is_empty()
        {
            out.push(format!("{}: a claim that is not gated gives its reason", c.id));
        }
        if !(c.drift.is_finite() && c.drift >= 0.0) {
            out.push(format!("{}: drift tolerance must be finite and >= 0", c.id));
        }
        if let SeedGate::Share { at_least } = c.over_seeds
            && !(at_least > 0.0 && at_least <= 1.0)
        {
            out.push(format!("{}: the pass share over seeds must be in (0, 1]", c.id));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ClaimSpec = ClaimSpec::new("A", "s", "Thm 1", Expect::at_most(0.1)).wrong("w");
    const B: ClaimSpec = ClaimSpec::new("B", "t | u", "Fig. 2", Expect::between(1.0, 2.0)).not_gated("small scale");

    #[test]
    fn shapes() {
        let c = A.max_of([("a", 0.05), ("b", 0.2), ("c", 0.01)]);
        assert_eq!(c.measured, 0.2);
        assert!(!c.passed && c.gated);
        assert!(c.detail.as_deref().unwrap().contains("b: 0.2"));
        let c = A.max_of([("a", 0.05), ("b", f64::NAN)]);
        assert!(c.measured.is_nan() && !c.passed);
        let c = A.min_of([("a", 0.05), ("b", 0.01)]);
        assert_eq!(c.measured, 0.01);
        let c = B.share([(1, true), (2, false)]);
        assert_eq!(c.measured, 0.5);
        assert!(!c.gated && c.reason.as_deref() == Some("small scale"));
        assert!(c.detail.unwrap().contains("failing: 2"));
        assert!(A.share(Vec::<(u8, bool)>::new()).measured.is_nan());
        let x = [1.0, 2.0, 4.0, 8.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| 3.0 * v.powf(-1.5)).collect();
        assert!((A.loglog_slope(&x, &y).measured + 1.5).abs() < 1e-12);
        let r = B.ratio("a", 3.0, "b", 2.0);
        assert_eq!(r.measured, 1.5);
        assert!(r.passed);
        let r = r.expect_instead(Expect::at_least(2.0));
        assert!(!r.passed);
        assert_eq!(r.detail("more").detail.unwrap(), "a 3 / b 2. more");
    }

    #[test]
    fn readme_splice_and_lint() {
        let md = format!("# x\n\nintro\n\n{README_BEGIN}\nold\n{README_END}\n\nafter\n");
        let new = splice_readme(&md, &[A, B]).unwrap();
        assert!(new.contains("| A | s | Thm 1 | <= 0.1 (drift 0.05) | w |"), "{new}");
        assert!(new.contains("t \\| u"));
        assert!(new.ends_with("after\n") && !new.contains("old"));
        assert_eq!(splice_readme(&new, &[A, B]).unwrap(), new, "idempotent");
        assert!(splice_readme("no markers", &[A]).is_none());
        assert!(lint(&[A, B]).is_empty());
        let bad = [A, A, ClaimSpec::new("C", "s", "p", Expect::at_least(0.0))];
        let l = lint(&bad);
        assert!(l.iter().any(|m| m.contains("duplicate")) && l.iter().any(|m| m.contains("C: a gated")), "{l:?}");
        let share = |p: f64| A.over_seeds(SeedGate::Share { at_least: p });
        assert!(lint(&[share(0.8)]).is_empty());
        assert!(lint(&[share(0.0)])[0].contains("(0, 1]") && lint(&[share(1.5)]).len() == 1);
    }
}
