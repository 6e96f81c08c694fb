//! Progress reporting: indicatif bars on a terminal, sparse plain lines otherwise, nothing when
//! quiet (tests).
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How progress is shown (on stderr).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// An indicatif bar (a terminal).
    Bar,
    /// A plain line at the start and at each quarter of the loop (logs, CI).
    Lines,
    /// Nothing (tests).
    Quiet,
}

impl Mode {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn detect() -> Mode {
        if std::io::stderr().is_terminal() { Mode::Bar } else { Mode::Lines }
    }
}

/// A progress counter for one loop.
#[derive(Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
    mode: Mode,
    what: Arc<str>,
    len: u64,
    done: Arc<AtomicU64>,
}

impl Progress {
    /// A counter labelled `what` for a loop of `len` steps, shown as `mode` says.
    pub fn new(mode: Mode, what: &str, len: u64) -> Progress {
        let bar = (mode == Mode::Bar).then(|| {
            let b = ProgressBar::new(len);
            b.set_style(
                ProgressStyle::with_template("{prefix:>28} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b.set_prefix(what.to_string());
            b
        });
        if mode == Mode::Lines {
            eprintln!("  {what}: 0/{len}");
        }
        Progress { bar, mode, what: what.into(), len, done: Arc::new(AtomicU64::new(0)) }
    }
    /// A counter that shows nothing.
    pub fn quiet() -> Progress {
        Progress::new(Mode::Quiet, "", 0)
    }
    /// Advance by `n`; in line mode prints at every quarter.
    pub fn inc(&self, n: u64) {
        let before = self.done.fetch_add(n, Ordering::Relaxed);
        let after = before + n;
        match self.mode {
            Mode::Bar => {
                if let Some(b) = &self.bar {
                    b.inc(n)
                }
            }
            Mode::Lines if self.len > 0 => {
                let q = |x: u64| x * 4 / self.len;
                if q(after) > q(before) {
                    eprintln!("  {}: {after}/{}", self.what, self.len);
                }
            }
            _ => {}
        }
    }
    /// Clear the bar, if any (line and quiet modes print nothing more).
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
