//! Shards: one study's sweep cells split across machines, merged back into one report.
//!
//! `--shard i/N` runs the study with a [`Shard`] in its [`Ctx`](super::Ctx). Every sweep cell has
//! one owner, fixed by its content (grid name and cell JSON, hashed) and not by its position,
//! `--jobs` or the machine, so the N shards compute each cell exactly once between them. A shard
//! computes its own cells of the first sweep it reaches whose other cells are not on hand and
//! stops there ([`ShardStop`]): the code after a sweep reads that sweep's results, which only
//! exist once every shard is done. It writes the cells it computed and a [`ShardManifest`] under
//! `<out>/shards/<slug>/seed-<seed>/<i>-of-<N>/`.
//!
//! `repro merge <dirs>` gathers the cells of all N shards into the cell cache and runs the study
//! once more: the split sweep comes from the cache, the rest (the setup before it, any later
//! sweep and the report) runs in the merge. The merged report is the unsharded run's, byte for
//! byte in its claims, tables and results (cells are seeded by content, and the cache stores them
//! exactly).
use crate::error::BadInput;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Part `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which part, `1..=count`.
    pub index: usize,
    /// How many parts.
    pub count: usize,
}

/// The most shards a study is split into.
pub const MAX_SHARDS: usize = 10_000;

impl std::str::FromStr for Shard {
    type Err = BadInput;
    fn from_str(s: &str) -> Result<Self, BadInput> {
        let bad = || {
            BadInput::new(format!("--shard `{s}`: accepted is i/N with 1 <= i <= N <= {MAX_SHARDS} (e.g. --shard 2/8)"))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard (1-based) that owns a cell: a hash of the grid name and the cell's JSON.
    pub fn owner(count: usize, grid: &str, cell_json: &str) -> usize {
        let mut h = Sha256::new();
        h.update(grid.as_bytes());
        h.update([0]);
        h.update(cell_json.as_bytes());
        let d = h.finalize();
        let x = u64::from_le_bytes(d[..8].try_into().expect("8 bytes"));
        (x % count as u64) as usize + 1
    }
    /// Whether this shard owns the cell.
    pub fn owns(&self, grid: &str, cell_json: &str) -> bool {
        Shard::owner(self.count, grid, cell_json) == self.index
    }
    /// The folder of this shard's output: `<out>/shards/<slug>/seed-<seed>/<i>-of-<N>`.
    pub fn dir(&self, out: &std::path::Path, slug: &str, seed: u64) -> std::path::PathBuf {
        out.join("shards").join(slug).join(format!("seed-{seed}")).join(format!("{}-of-{}", self.index, self.count))
    }
}

/// A shard reached a sweep whose other cells belong to other shards: its part is done.
#[derive(Debug, thiserror::Error)]
#[error("shard {shard}: computed its {owned} cells of sweep `{grid}`; {missing} belong to other shards")]
pub struct ShardStop {
    /// The shard.
    pub shard: Shard,
    /// The sweep that was split.
    pub grid: String,
    /// Cells of that sweep this shard computed (or found cached).
    pub owned: usize,
    /// Cells of that sweep left to the other shards.
    pub missing: usize,
}

/// `shard.json`: what a shard ran, so that `merge` can check the parts fit and rerun the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// The study's slug.
    pub study: String,
    /// `quick` or `full`.
    pub profile: String,
    /// The root seed.
    pub seed: u64,
    /// The `--set` overrides, in order.
    pub sets: Vec<(String, String)>,
    /// The resolved config.
    pub config: serde_json::Value,
    /// The code version of the cell keys (commit plus a hash of uncommitted changes).
    pub code_version: String,
    /// The device the cells were computed on (`cpu`, `cuda`): part of the cell keys.
    pub device: String,
    /// Which part.
    pub shard: Shard,
    /// The sweep split at (`None`: the study has no sweep cell outside this shard, and this shard
    /// ran it to the end).
    pub split_grid: Option<String>,
    /// Cells this shard computed.
    pub cells_run: u64,
    /// Cells this shard found cached.
    pub cells_cached: u64,
    /// Seconds the shard ran.
    pub wall_seconds: f64,
}

impl ShardManifest {
    /// Everything that must agree between the parts of one merge.
    pub fn run_key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}|{}",
            self.study,
            self.profile,
            self.seed,
            serde_json::to_string(&self.config).unwrap_or_default(),
            self.code_version,
            self.device,
            self.shard.count
        )
    }
}

/// Check that `parts` (the manifests of one study, profile, seed and config) are the N parts of
/// one split: same run key, every index `1..=N` exactly once.
pub fn check_complete(parts: &[ShardManifest]) -> Result<(), BadInput> {
    let Some(first) = parts.first() else {
        return Err(BadInput::new("merge: no shard.json found under the folders given"));
    };
    for p in parts {
        if p.run_key() != first.run_key() {
            let what = if p.code_version != first.code_version {
                format!("code versions {} and {}", first.code_version, p.code_version)
            } else if p.shard.count != first.shard.count {
                format!("shard counts {} and {}", first.shard.count, p.shard.count)
            } else if p.device != first.device {
                format!("devices {} and {}", first.device, p.device)
            } else {
                "configurations".to_string()
            };
            return Err(BadInput::new(format!(
                "merge {} (seed {}): the shards differ in their {what}; accepted are the parts of one split",
                first.study, first.seed
            )));
        }
    }
    let n = first.shard.count;
    let mut seen = vec![0usize; n + 1];
    for p in parts {
        seen[p.shard.index] += 1;
    }
    let missing: Vec<String> = (1..=n).filter(|&i| seen[i] == 0).map(|i| format!("{i}/{n}")).collect();
    let twice: Vec<String> = (1..=n).filter(|&i| seen[i] > 1).map(|i| format!("{i}/{n}")).collect();
    if !missing.is_empty() {
        return Err(BadInput::new(format!(
            "merge {} (seed {}): shard(s) {} missing; accepted are all {n} parts",
            first.study,
            first.seed,
            missing.join(", ")
        )));
    }
    if !twice.is_empty() {
        return Err(BadInput::new(format!(
            "merge {} (seed {}): shard(s) {} given twice; accepted is each part once",
            first.study,
            first.seed,
            twice.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_refuse() {
        assert_eq!("2/8".parse::<Shard>().unwrap(), Shard { index: 2, count: 8 });
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "1/100000", "-1/3", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.0.contains("accepted is i/N"), "{bad}: {e}");
        }
    }

    proptest! {
        /// Every cell has exactly one owner among the N shards, whatever N.
        #[test]
        fn each_cell_has_one_owner(n in 1usize..40, cell in 0u32..10_000, grid in "[a-z]{1,8}") {
            let cj = format!("{{\"k\":{cell}}}");
            let owners: Vec<usize> = (1..=n).filter(|&i| Shard { index: i, count: n }.owns(&grid, &cj)).collect();
            prop_assert_eq!(owners.len(), 1);
            prop_assert_eq!(owners[0], Shard::owner(n, &grid, &cj));
        }
    }

    #[test]
    fn owners_spread_evenly() {
        let n = 4;
        let mut counts = [0usize; 5];
        for c in 0..4000 {
            counts[Shard::owner(n, "g", &format!("{{\"c\":{c}}}"))] += 1;
        }
        assert!(counts[1..].iter().all(|&k| (900..1100).contains(&k)), "{counts:?}");
    }

    fn part(i: usize, n: usize) -> ShardManifest {
        ShardManifest {
            study: "s".into(),
            profile: "quick".into(),
            seed: 1,
            sets: vec![],
            config: serde_json::json!({"a": 1}),
            code_version: "v".into(),
            device: "cpu".into(),
            shard: Shard { index: i, count: n },
            split_grid: Some("g".into()),
            cells_run: 1,
            cells_cached: 0,
            wall_seconds: 0.1,
        }
    }

    #[test]
    fn complete_splits_only() {
        assert!(check_complete(&[part(1, 3), part(3, 3), part(2, 3)]).is_ok());
        let e = check_complete(&[part(1, 3), part(3, 3)]).unwrap_err();
        assert!(e.0.contains("shard(s) 2/3 missing"), "{e}");
        let e = check_complete(&[part(1, 2), part(2, 2), part(2, 2)]).unwrap_err();
        assert!(e.0.contains("given twice"), "{e}");
        let mut other = part(2, 2);
        other.code_version = "w".into();
        let e = check_complete(&[part(1, 2), other]).unwrap_err();
        assert!(e.0.contains("code versions v and w"), "{e}");
        assert!(check_complete(&[part(1, 2), part(2, 3)]).unwrap_err().0.contains("shard counts"));
        assert!(check_complete(&[]).is_err());
    }
}
