//! Shared machinery for the study crates: seeds, data, devices, numerics, the report pipeline and
//! the `Study` contract. Layers, lowest first; a layer imports only layers below it (the test
//! `layers::no_upward_imports` checks it):
//!
//! `error`, `counters`, `progress` < `rng` < `linalg`, `dual` < `stats` < `prox`, `spectral`, `solve`, `admm`,
//! `graph` < `data` < `device` < `autodiff` < `models` < `boundprop` < `optim` < `train` < `gpu` < `report` <
//! `study`.
//!
//! See `ARCHITECTURE.md` at the repository root for the study contract and the report tree.

pub mod admm;
pub mod autodiff;
pub mod boundprop;
pub mod counters;
pub mod data;
pub mod device;
pub mod dual;
pub mod error;
pub mod gpu;
pub mod graph;
pub mod linalg;
pub mod models;
pub mod optim;
pub mod progress;
pub mod prox;
pub mod report;
pub mod rng;
pub mod solve;
pub mod spectral;
pub mod stats;
pub mod study;
pub mod train;

pub use error::BadInput;
pub use report::{Claim, ClaimSpec, Expect, F64, Figure, Outcome, SeedGate, Series, Table};
pub use rng::Seed;
pub use study::{Cell, Checks, Ctx, DynStudy, Estimate, Paper, Profile, Profiles, Study, Sweep, Swept, Validate};

#[cfg(test)]
mod layers {
    /// The layer order of the crate doc, enforced on the sources: no module names a higher one.
    #[test]
    fn no_upward_imports() {
        const ORDER: &[&[&str]] = &[
            &["error", "counters", "progress"],
            &["rng"],
            &["linalg", "dual"],
            &["stats"],
            &["prox", "spectral", "solve", "admm", "graph"],
            &["data"],
            &["device"],
            &["autodiff"],
            &["models"],
            &["boundprop"],
            &["optim"],
            &["train"],
            &["gpu"],
            &["report"],
            &["study"],
        ];
        let level = |m: &str| ORDER.iter().position(|l| l.contains(&m));
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut bad = vec![];
        for (i, layer) in ORDER.iter().enumerate() {
            for m in *layer {
                let (file, dir) = (src.join(format!("{m}.rs")), src.join(m));
                let mut files = vec![];
                if file.is_file() {
                    files.push(file);
                }
                if dir.is_dir() {
                    files.extend(std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()));
                }
                for f in files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "rs")) {
                    let text = std::fs::read_to_string(&f).unwrap();
                    for (pos, _) in text.match_indices("crate::") {
                        let name: String =
                            text[pos + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        if let Some(j) = level(&name)
                            && j > i
                        {
                            bad.push(format!("{} names crate::{name}", f.strip_prefix(&src).unwrap().display()));
                        }
                    }
                }
            }
        }
        bad.sort();
        bad.dedup();
        assert!(bad.is_empty(), "upward imports: {bad:?}");
    }
}
