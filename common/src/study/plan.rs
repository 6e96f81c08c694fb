//! Cost before you run: `repro plan` samples a study's first sweep and estimates the whole.
//!
//! The study runs with a [`Probe`] in its [`Ctx`](super::Ctx). Its setup (the code before the
//! first sweep) runs as usual; at the first sweep the probe records the number of cells, runs a few
//! of them spread over the grid (one at a time, uncached), and stops the study with [`PlanStop`].
//! Every step is an [`Event`] handed to the probe's sink as it happens, so a caller that runs the
//! probe in a child process with a time limit still learns what happened before the limit.
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// What the probe saw, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The study's measure started.
    Started,
    /// The first sweep was reached after `t` seconds of setup: `cells` cells; `sampled` of them
    /// are about to run.
    Sweep {
        /// The sweep's name.
        grid: String,
        /// Its number of cells.
        cells: usize,
        /// How many the probe runs.
        sampled: usize,
        /// Seconds since the start.
        t: f64,
    },
    /// One sampled cell took `seconds`.
    Cell {
        /// Seconds of that cell (one thread).
        seconds: f64,
    },
    /// The study ended without a sweep after `t` seconds (the whole run was the sample).
    Finished {
        /// Seconds since the start.
        t: f64,
    },
}

/// The probe: how many cells to sample and where the events go.
#[derive(Clone)]
pub struct Probe {
    /// Cells to run from the first sweep (spread evenly over it).
    pub samples: usize,
    /// When the study started.
    pub start: Instant,
    /// Receives every event.
    pub sink: Arc<dyn Fn(Event) + Send + Sync>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Probe {{ samples: {} }}", self.samples)
    }
}

impl Probe {
    /// Seconds since the start.
    pub fn t(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
    /// The cells to sample out of `n`: `min(n, samples)` indices spread evenly, first and last
    /// included.
    pub fn sample_indices(&self, n: usize) -> Vec<usize> {
        let k = self.samples.clamp(1, n.max(1)).min(n);
        if k <= 1 {
            return (0..k).collect();
        }
        (0..k).map(|j| j * (n - 1) / (k - 1)).collect()
    }
}

/// The probe has what it came for: the study stops at its first sweep.
#[derive(Debug, thiserror::Error)]
#[error("plan: sampled sweep `{grid}`")]
pub struct PlanStop {
    /// The sweep sampled.
    pub grid: String,
}

/// The estimate from the events of one probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Seconds before the first sweep (or of the whole run, without one).
    pub setup_seconds: f64,
    /// The first sweep: name and number of cells.
    pub sweep: Option<(String, usize)>,
    /// Seconds of each sampled cell.
    pub cell_seconds: Vec<f64>,
    /// The run ended without a sweep (then `setup_seconds` is the whole run).
    pub finished: bool,
    /// The probe was stopped at its time limit.
    pub timed_out: bool,
    /// The probe's time limit (seconds).
    #[serde(default)]
    pub limit: f64,
}

impl Plan {
    /// Collect a probe's events (`timed_out`: the probe was stopped at `limit` seconds).
    pub fn from_events(events: &[Event], timed_out: bool, limit: f64) -> Plan {
        let mut p = Plan { setup_seconds: 0.0, sweep: None, cell_seconds: vec![], finished: false, timed_out, limit };
        for e in events {
            match e {
                Event::Started => {}
                Event::Sweep { grid, cells, t, .. } => {
                    p.setup_seconds = *t;
                    p.sweep = Some((grid.clone(), *cells));
                }
                Event::Cell { seconds } => p.cell_seconds.push(*seconds),
                Event::Finished { t } => {
                    p.setup_seconds = *t;
                    p.finished = true;
                }
            }
        }
        if timed_out && p.sweep.is_none() {
            p.setup_seconds = limit;
        }
        p
    }
    /// Mean seconds per cell of the sample (`None` without a finished sample).
    pub fn per_cell(&self) -> Option<f64> {
        (!self.cell_seconds.is_empty()).then(|| self.cell_seconds.iter().sum::<f64>() / self.cell_seconds.len() as f64)
    }
    /// For a probe cut at its limit, the least wall time of the run with `jobs` threads: the setup
    /// plus the cell time the probe saw (the unfinished cell's included, up to the limit) spread
    /// over the threads, and at least its longest cell (a cell is not split between threads).
    /// `None` when the probe was not cut.
    pub fn lower_bound(&self, jobs: usize) -> Option<f64> {
        if !self.timed_out {
            return None;
        }
        let cells = (self.limit - self.setup_seconds).max(0.0);
        let done: f64 = self.cell_seconds.iter().sum();
        let longest = self.cell_seconds.iter().fold((cells - done).max(0.0), |a, &b| a.max(b));
        Some(self.setup_seconds + longest.max(cells / jobs.max(1) as f64))
    }
    /// The estimate of the run with `jobs` threads on one machine, and whether it is a lower
    /// bound: [`Plan::seconds`], raised to [`Plan::lower_bound`] for a probe cut at its limit.
    pub fn estimate(&self, jobs: usize) -> (Option<f64>, bool) {
        match self.lower_bound(jobs) {
            Some(lo) => (Some(self.seconds(jobs, 1).unwrap_or(0.0).max(lo)), true),
            None => (self.seconds(jobs, 1), false),
        }
    }
    /// Estimated wall seconds of the first sweep plus the setup, with `jobs` threads over `shards`
    /// machines (per machine); `None` when no cell finished.
    pub fn seconds(&self, jobs: usize, shards: usize) -> Option<f64> {
        if self.finished {
            return Some(self.setup_seconds);
        }
        let (_, n) = self.sweep.as_ref()?;
        let per = self.per_cell()?;
        let per_shard = n.div_ceil(shards.max(1));
        Some(self.setup_seconds + per_shard.div_ceil(jobs.max(1)) as f64 * per)
    }
    /// The lines `repro plan` prints.
    pub fn describe(&self, jobs: usize, shards: &[usize]) -> Vec<String> {
        let fmt = super::check::fmt_secs;
        let threads = if jobs == 1 { "1 thread".to_string() } else { format!("{jobs} threads") };
        let mut out = vec![];
        if self.finished {
            out.push(format!(
                "no sweep: the whole run took {} (it is one unit; shards do not split it)",
                fmt(self.setup_seconds)
            ));
            return out;
        }
        let Some((grid, n)) = &self.sweep else {
            out.push(format!(
                "no sweep cell reached within {}: the setup before the first sweep takes longer (or the study has \
                 no sweep and runs as one unit); the run takes more than that",
                fmt(self.setup_seconds)
            ));
            return out;
        };
        out.push(format!("setup before the first sweep: {}", fmt(self.setup_seconds)));
        match self.per_cell() {
            None => {
                out.push(format!(
                    "sweep `{grid}`: {n} cells; the first sampled cell did not finish within the time limit \
                     (so each takes on the order of the limit or more)"
                ));
                if let (Some(lo), _) = self.estimate(jobs) {
                    out.push(format!("estimate: at least {} with {threads} on one machine", fmt(lo)));
                }
            }
            Some(per) => {
                let (lo, hi) =
                    self.cell_seconds.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &s| (lo.min(s), hi.max(s)));
                out.push(format!(
                    "sweep `{grid}`: {n} cells; {} sampled: {} per cell ({}–{}){}",
                    self.cell_seconds.len(),
                    fmt(per),
                    fmt(lo),
                    fmt(hi),
                    if self.timed_out { "; the sample was cut at the time limit" } else { "" }
                ));
                // A sample cut at the limit lost its slowest cells: its mean is a lower bound.
                let at_least = if self.timed_out { "at least " } else { "" };
                out.push(format!(
                    "estimate: {at_least}{} of cell time; {at_least}{} with {threads} on one machine",
                    fmt(*n as f64 * per),
                    fmt(self.estimate(jobs).0.unwrap_or(f64::NAN))
                ));
                for &s in shards.iter().filter(|&&s| s > 1) {
                    let per_shard = n.div_ceil(s);
                    out.push(format!(
                        "  --shards {s}: {per_shard} cell{} per shard, {}{} each with {threads}",
                        if per_shard == 1 { "" } else { "s" },
                        if self.timed_out { "at least " } else { "about " },
                        fmt(self.seconds(jobs, s).unwrap_or(f64::NAN))
                    ));
                }
                out.push(
                    "not sampled: any later sweep and the code after the first sweep (they run in the merge)".into(),
                );
            }
        }
        out
    }
}

/// One study's estimate as `repro plan --save` records it (and the table of studies reads it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// The study.
    pub study: String,
    /// The profile sampled.
    pub profile: String,
    /// The root seed of the sample.
    pub seed: u64,
    /// Threads of the estimate.
    pub jobs: usize,
    /// The probe's time limit (seconds).
    pub limit_seconds: f64,
    /// The machine's CPU.
    pub cpu: String,
    /// The 1-minute load average when the probe started (other work on the machine slows the
    /// sample down; `None` where it cannot be read).
    pub load: Option<f64>,
    /// When the probe ran (UTC).
    pub date: String,
    /// Estimated wall seconds of the run on one machine (setup and the first sweep), or the least
    /// it takes when the sample did not get that far.
    pub estimate_seconds: Option<f64>,
    /// `estimate_seconds` is a lower bound (the probe was cut at its time limit).
    pub at_least: bool,
    /// What the probe saw.
    pub plan: Plan,
    /// The lines `repro plan` printed.
    pub lines: Vec<String>,
}

impl PlanEntry {
    /// The entry for `study`'s probe, stamped with this machine and the time.
    pub fn new(
        study: &str,
        profile: super::Profile,
        seed: u64,
        jobs: usize,
        limit: f64,
        plan: Plan,
        lines: Vec<String>,
    ) -> Self {
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|t| t.split_whitespace().next().and_then(|x| x.parse().ok()));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let (estimate_seconds, at_least) = plan.estimate(jobs);
        PlanEntry {
            study: study.into(),
            profile: profile.as_str().into(),
            seed,
            jobs,
            limit_seconds: limit,
            cpu: super::runner::cpu_model(),
            load,
            date: super::runner::utc_string(now),
            estimate_seconds,
            at_least,
            plan,
            lines,
        }
    }
    /// The entry of a study whose probe failed (`why`: the error, e.g. data it needs is missing):
    /// no estimate, the reason as its one line.
    pub fn failed(study: &str, profile: super::Profile, seed: u64, jobs: usize, limit: f64, why: String) -> Self {
        let empty =
            Plan { setup_seconds: 0.0, sweep: None, cell_seconds: vec![], finished: false, timed_out: false, limit };
        PlanEntry {
            estimate_seconds: None,
            at_least: false,
            ..PlanEntry::new(study, profile, seed, jobs, limit, empty, vec![why])
        }
    }
    /// `about 2.1 h` or `at least 60 s` (`-` without an estimate).
    pub fn describe(&self) -> String {
        match self.estimate_seconds {
            Some(x) => format!("{}{}", if self.at_least { "at least " } else { "about " }, super::check::fmt_secs(x)),
            None => "-".into(),
        }
    }
}

/// The estimates of several studies (`repro plan --save FILE`), one per study and profile.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// The entries, by study then profile.
    pub entries: Vec<PlanEntry>,
}

impl PlanFile {
    /// The file at `path`; empty when there is none. A file that does not parse is bad input.
    pub fn read(path: &std::path::Path) -> Result<PlanFile, crate::BadInput> {
        match std::fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PlanFile::default()),
            Err(e) => Err(crate::BadInput::new(format!("{}: {e}", path.display()))),
            Ok(t) => serde_json::from_str(&t).map_err(|e| {
                crate::BadInput::new(format!(
                    "{}: not a plan file written by `repro plan --save` ({e})",
                    path.display()
                ))
            }),
        }
    }
    /// Add or replace the entry of `e`'s study and profile.
    pub fn put(&mut self, e: PlanEntry) {
        self.entries.retain(|x| !(x.study == e.study && x.profile == e.profile));
        self.entries.push(e);
        self.entries.sort_by(|a, b| (&a.study, &a.profile).cmp(&(&b.study, &b.profile)));
    }
    /// The entry of `study` at `profile`.
    pub fn get(&self, study: &str, profile: &str) -> Option<&PlanEntry> {
        self.entries.iter().find(|x| x.study == study && x.profile == profile)
    }
    /// Write atomically (creating the folder).
    pub fn write(&self, path: &std::path::Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        crate::report::write::write_atomic(path, &(serde_json::to_string_pretty(self)? + "\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_file_keeps_one_entry_per_study_and_profile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("plan.json");
        assert_eq!(PlanFile::read(&path).unwrap(), PlanFile::default(), "no file: empty");
        let plan = |cells: Vec<f64>, timed_out| Plan {
            setup_seconds: 2.0,
            sweep: Some(("g".into(), 10)),
            cell_seconds: cells,
            finished: false,
            timed_out,
            limit: 60.0,
        };
        let mut f = PlanFile::default();
        let p = super::super::Profile::Full;
        f.put(PlanEntry::new("b", p, 1, 2, 60.0, plan(vec![3.0, 5.0], false), vec!["x".into()]));
        f.put(PlanEntry::new("a", p, 1, 2, 60.0, plan(vec![], true), vec![]));
        f.put(PlanEntry::new("b", p, 1, 2, 60.0, plan(vec![4.0], true), vec![]));
        assert_eq!(f.entries.iter().map(|e| e.study.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        // One cell of 4 s finished, the next ran until the 60 s limit: at least 2 s of setup and
        // that unfinished cell (54 s), more than the 22 s the finished cell alone suggests.
        let b = f.get("b", "full").unwrap();
        assert_eq!((b.estimate_seconds, b.at_least), (Some(56.0), true));
        assert!(b.describe().starts_with("at least"), "{}", b.describe());
        // No cell finished: at least the whole limit.
        assert_eq!(f.get("a", "full").unwrap().estimate_seconds, Some(60.0));
        // A sample that finished is an estimate, not a bound: 2 s + 5 rounds of 4 s.
        let c = PlanEntry::new("c", p, 1, 2, 60.0, plan(vec![3.0, 5.0], false), vec![]);
        assert_eq!((c.estimate_seconds, c.at_least), (Some(22.0), false));
        // A probe that failed is kept with its reason and no estimate.
        f.put(PlanEntry::failed("d", p, 1, 2, 60.0, "needs the MNIST files".into()));
        let d = f.get("d", "full").unwrap();
        assert_eq!((d.estimate_seconds, d.lines.clone()), (None, vec!["needs the MNIST files".to_string()]));
        f.write(&path).unwrap();
        assert_eq!(PlanFile::read(&path).unwrap(), f);
        std::fs::write(&path, "{").unwrap();
        assert!(PlanFile::read(&path).unwrap_err().to_string().contains("not a plan file"));
    }

    #[test]
    fn sample_indices_spread_over_the_grid() {
        let p = Probe { samples: 3, start: Instant::now(), sink: Arc::new(|_| {}) };
        assert_eq!(p.sample_indices(10), vec![0, 4, 9]);
        assert_eq!(p.sample_indices(2), vec![0, 1]);
        assert_eq!(p.sample_indices(1), vec![0]);
        assert_eq!(p.sample_indices(0), Vec::<usize>::new());
    }

    #[test]
    fn estimates_from_events() {
        let ev = vec![
            Event::Started,
            Event::Sweep { grid: "g".into(), cells: 100, sampled: 2, t: 1.0 },
            Event::Cell { seconds: 2.0 },
            Event::Cell { seconds: 4.0 },
        ];
        let p = Plan::from_events(&ev, false, 60.0);
        assert_eq!(p.per_cell(), Some(3.0));
        // 1 s setup + 100 cells x 3 s over 2 threads = 151 s; 4 shards: 25 cells each, 13 rounds.
        assert_eq!(p.seconds(2, 1), Some(151.0));
        assert_eq!(p.seconds(2, 4), Some(1.0 + 13.0 * 3.0));
        assert!(p.describe(2, &[4]).iter().any(|l| l.contains("--shards 4: 25 cells per shard")));
        let part = Plan::from_events(&ev[..3], true, 60.0);
        assert!(
            part.describe(2, &[100]).iter().any(|l| l.contains("estimate: at least")),
            "{:?}",
            part.describe(2, &[])
        );
        assert!(part.describe(2, &[100]).iter().any(|l| l.contains("1 cell per shard, at least")));
        let cut = Plan::from_events(&ev[..2], true, 60.0);
        assert_eq!(cut.seconds(2, 1), None);
        assert!(cut.describe(2, &[]).iter().any(|l| l.contains("did not finish")));
        assert_eq!(cut.estimate(2), (Some(60.0), true), "at least the limit: 1 s setup, 59 s in one cell");
        assert!(
            cut.describe(2, &[]).iter().any(|l| l.contains("estimate: at least 60 s")),
            "{:?}",
            cut.describe(2, &[])
        );
        // Cut after one 2 s cell: the unfinished one ran 57 s, so at least 58 s; the finished
        // cell's estimate (1 + 50 rounds of 2 s) is larger, and stays a lower bound.
        assert_eq!(part.lower_bound(2), Some(58.0));
        assert_eq!(part.estimate(2), (Some(101.0), true));
        let none = Plan::from_events(&[Event::Started], true, 60.0);
        assert_eq!(none.setup_seconds, 60.0);
        assert_eq!(none.estimate(2), (Some(60.0), true));
        let done = Plan::from_events(&[Event::Started, Event::Finished { t: 5.0 }], false, 60.0);
        assert_eq!(done.seconds(2, 8), Some(5.0));
    }
}
