//! One config contract: every study's `Config` implements [`Validate`]: `validate()` checks every
//! key's range and the cross-key rules, `estimate()` says how much memory (and roughly how long)
//! the run needs. The runner calls both for every study of a command before anything runs; a
//! failure is bad input (exit 2, one line naming what is accepted), and so is an estimate that does
//! not fit the machine's memory budget.
//!
//! ```
//! use common::study::check::{Checks, Estimate};
//! let (d, lr, ks) = (0usize, 0.1f64, vec![2usize, 4]);
//! let mut c = Checks::new();
//! c.size("d", d, 1, 100_000).positive("lr", lr, 10.0).sizes("ks", &ks, 2, 1000);
//! let e = c.finish().unwrap_err();
//! assert_eq!(e.0, "`d` = 0: accepted an integer in 1..=100000");
//! assert_eq!(Estimate::f64s(1e6).bytes, 8e6);
//! ```
use crate::error::BadInput;
use std::fmt::Display;

/// What a configuration will need; `bytes` is the peak resident memory of the run's largest
/// live arrays (an estimate, in f64 to avoid overflow for hostile sizes).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// Peak memory in bytes.
    pub bytes: f64,
    /// Rough wall time on 2 cores, when cheap to say.
    pub seconds: Option<f64>,
}

impl Estimate {
    /// `n` f64 values of memory.
    pub fn f64s(n: f64) -> Self {
        Estimate { bytes: 8.0 * n, seconds: None }
    }
    /// `b` bytes of memory.
    pub fn bytes(b: f64) -> Self {
        Estimate { bytes: b, seconds: None }
    }
    /// With a time estimate.
    pub fn seconds(mut self, s: f64) -> Self {
        self.seconds = Some(s);
        self
    }
    /// One line for `--dry-run` and for refusals.
    pub fn describe(&self) -> String {
        let mut s = format!("about {} of memory", fmt_bytes(self.bytes));
        if let Some(t) = self.seconds {
            s += &format!(", roughly {} on 2 cores", fmt_secs(t));
        }
        s
    }
}

/// `1.5 GiB`.
pub fn fmt_bytes(b: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = b;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{x:.0} B") } else { format!("{x:.1} {}", units[u]) }
}

pub use crate::report::fmt_secs;

/// The memory a run may take: 75 % of this machine's RAM (`/proc/meminfo`; 8 GiB when unknown),
/// or `REPRO_MEMORY_BUDGET` bytes when set.
pub fn memory_budget() -> f64 {
    if let Some(b) = std::env::var("REPRO_MEMORY_BUDGET").ok().and_then(|v| v.parse::<f64>().ok()) {
        return b;
    }
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
    });
    0.75 * total_kib.map_or(8.0 * 1024.0 * 1024.0 * 1024.0, |k| k * 1024.0)
}

/// A study configuration's checks (see the module doc).
pub trait Validate {
    /// Every key's range and the cross-key rules ([`Checks`]).
    fn validate(&self) -> Result<(), BadInput>;
    /// Memory (and, where cheap, time) the run needs.
    fn estimate(&self) -> Estimate;
}

/// Collects range checks; [`Checks::finish`] reports them all on one line.
#[derive(Debug, Default)]
pub struct Checks {
    errs: Vec<String>,
}

impl Checks {
    /// No checks yet.
    pub fn new() -> Self {
        Checks::default()
    }
    fn fail(&mut self, msg: String) -> &mut Self {
        self.errs.push(msg);
        self
    }
    /// An integer in `lo..=hi`.
    pub fn size(&mut self, key: &str, v: usize, lo: usize, hi: usize) -> &mut Self {
        if !(lo..=hi).contains(&v) {
            self.fail(format!("`{key}` = {v}: accepted an integer in {lo}..={hi}"));
        }
        self
    }
    /// A finite number in `[lo, hi]`.
    pub fn real(&mut self, key: &str, v: f64, lo: f64, hi: f64) -> &mut Self {
        if !(v.is_finite() && lo <= v && v <= hi) {
            self.fail(format!("`{key}` = {v}: accepted a finite number in [{lo}, {hi}]"));
        }
        self
    }
    /// A finite number in `(0, max]`.
    pub fn positive(&mut self, key: &str, v: f64, max: f64) -> &mut Self {
        if !(v.is_finite() && v > 0.0 && v <= max) {
            self.fail(format!("`{key}` = {v}: accepted a finite number in (0, {max}]"));
        }
        self
    }
    /// A probability in `[0, 1]`.
    pub fn prob(&mut self, key: &str, v: f64) -> &mut Self {
        self.real(key, v, 0.0, 1.0)
    }
    /// A non-empty list of at most `max_len` items.
    pub fn list<T>(&mut self, key: &str, v: &[T], max_len: usize) -> &mut Self {
        if v.is_empty() || v.len() > max_len {
            self.fail(format!("`{key}` has {} items: accepted a list of 1..={max_len} items", v.len()));
        }
        self
    }
    /// A non-empty list (at most 1000 items) of integers in `lo..=hi`.
    pub fn sizes(&mut self, key: &str, v: &[usize], lo: usize, hi: usize) -> &mut Self {
        self.list(key, v, 1000);
        if let Some(x) = v.iter().find(|x| !(lo..=hi).contains(*x)) {
            self.fail(format!("`{key}` holds {x}: accepted integers in {lo}..={hi}"));
        }
        self
    }
    /// A non-empty list (at most 1000 items) of finite numbers in `[lo, hi]`.
    pub fn reals(&mut self, key: &str, v: &[f64], lo: f64, hi: f64) -> &mut Self {
        self.list(key, v, 1000);
        if let Some(x) = v.iter().find(|x| !(x.is_finite() && lo <= **x && **x <= hi)) {
            self.fail(format!("`{key}` holds {x}: accepted finite numbers in [{lo}, {hi}]"));
        }
        self
    }
    /// Strictly increasing values.
    pub fn increasing<T: PartialOrd + Display>(&mut self, key: &str, v: &[T]) -> &mut Self {
        if !v.windows(2).all(|w| w[0] < w[1]) {
            self.fail(format!("`{key}` must be strictly increasing"));
        }
        self
    }
    /// One of the accepted words.
    pub fn one_of(&mut self, key: &str, v: &str, accepted: &[&str]) -> &mut Self {
        if !accepted.contains(&v) {
            self.fail(format!("`{key}` = `{v}`: accepted {}", accepted.join(", ")));
        }
        self
    }
    /// A cross-key rule: `msg` says what is accepted.
    pub fn rule(&mut self, ok: bool, msg: impl Display) -> &mut Self {
        if !ok {
            self.fail(msg.to_string());
        }
        self
    }
    /// `Ok` when every check passed, else every failure on one line.
    pub fn finish(&mut self) -> Result<(), BadInput> {
        if self.errs.is_empty() { Ok(()) } else { Err(BadInput::new(self.errs.join("; "))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_refuses_its_hostile_values_and_accepts_the_rest() {
        let mut c = Checks::new();
        c.size("a", 3, 1, 5)
            .real("b", 0.5, 0.0, 1.0)
            .positive("c", 1e-3, 1.0)
            .prob("p", 1.0)
            .sizes("l", &[1, 2], 1, 2)
            .reals("r", &[0.0], -1.0, 1.0)
            .increasing("i", &[1, 2, 3])
            .one_of("w", "relu", &["relu", "tanh"])
            .rule(true, "never");
        assert!(c.finish().is_ok());
        type Case = (Box<dyn Fn(&mut Checks)>, &'static str);
        let cases: Vec<Case> = vec![
            (
                Box::new(|c| {
                    c.size("a", 0, 1, 5);
                }),
                "`a` = 0",
            ),
            (
                Box::new(|c| {
                    c.size("a", 1_000_000_000, 1, 5);
                }),
                "1..=5",
            ),
            (
                Box::new(|c| {
                    c.real("b", f64::NAN, 0.0, 1.0);
                }),
                "`b` = NaN",
            ),
            (
                Box::new(|c| {
                    c.positive("c", 0.0, 1.0);
                }),
                "(0, 1]",
            ),
            (
                Box::new(|c| {
                    c.positive("c", f64::INFINITY, 1.0);
                }),
                "`c` = inf",
            ),
            (
                Box::new(|c| {
                    c.prob("p", -1.0);
                }),
                "[0, 1]",
            ),
            (
                Box::new(|c| {
                    c.sizes("l", &[], 1, 2);
                }),
                "has 0 items",
            ),
            (
                Box::new(|c| {
                    c.sizes("l", &[3], 1, 2);
                }),
                "holds 3",
            ),
            (
                Box::new(|c| {
                    c.reals("r", &[f64::NAN], 0.0, 1.0);
                }),
                "holds NaN",
            ),
            (
                Box::new(|c| {
                    c.increasing("i", &[2, 2]);
                }),
                "increasing",
            ),
            (
                Box::new(|c| {
                    c.one_of("w", "gelu", &["relu"]);
                }),
                "accepted relu",
            ),
            (
                Box::new(|c| {
                    c.rule(false, "x <= y");
                }),
                "x <= y",
            ),
        ];
        for (f, want) in cases {
            let mut c = Checks::new();
            f(&mut c);
            let e = c.finish().unwrap_err().0;
            assert!(e.contains(want) && !e.contains('\n'), "{e} lacks {want}");
        }
        let mut c = Checks::new();
        c.size("a", 0, 1, 2).size("b", 0, 1, 2);
        assert_eq!(
            c.finish().unwrap_err().0,
            "`a` = 0: accepted an integer in 1..=2; `b` = 0: accepted an integer in 1..=2"
        );
    }

    #[test]
    fn estimates_read() {
        assert_eq!(fmt_bytes(512.0), "512 B");
        assert_eq!(fmt_bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5 GiB");
        assert_eq!(Estimate::f64s(1e9).seconds(30.0).describe(), "about 7.5 GiB of memory, roughly 30 s on 2 cores");
        assert!(fmt_bytes(1e40).ends_with("EiB"));
        assert!(memory_budget() > 1e8);
    }
}
