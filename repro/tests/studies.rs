//! The generic suite, generated for every registered study (`repro::for_each_study!`): each study
//! gets its own tests, failing independently.
//!
//! - `config_contract`: both profiles round-trip and validate; claim declarations are well formed.
//! - `readme_claims_table`: the study README's claims table is the one generated from `CLAIMS`
//!   (`cargo repro readme` rewrites it).
//! - `figures_lint`: the committed report's figures, re-made from its `results.json`, pass
//!   `common::report::plot::lint_rendered` (no look-alike series, nothing undrawable, axes
//!   labelled; the SVG at its printed width; the PDF one page of that width with text and its font).
//! - `quick_profile`: the quick profile through the real runner at the default seed, into
//!   `$REPRO_TEST_OUT` (default: `<target>/tmp/quick-reports`): every gated claim passes, the
//!   claims are the declared ones, `render` from `results.json` gives the same bytes, and no gated
//!   claim drifted from the committed `reports/`. CI's claims check then reads these reports, so
//!   each quick profile runs once.
use std::path::PathBuf;

fn out_dir() -> PathBuf {
    std::env::var_os("REPRO_TEST_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("quick-reports"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

macro_rules! study_tests {
    ($($krate:ident :: $ty:ident),* $(,)?) => { $(
        mod $krate {
            use super::*;
            use common::study::conformance;

            #[test]
            fn config_contract() {
                conformance::config_contract(&::$krate::$ty);
            }

            #[test]
            fn readme_claims_table() {
                let s: &dyn common::DynStudy = &::$krate::$ty;
                let path = root().join("studies").join(s.slug()).join("README.md");
                let text = std::fs::read_to_string(&path).expect("the study has a README");
                let want = common::report::spec::splice_readme(&text, s.claims())
                    .unwrap_or_else(|| panic!("{} lacks the claims markers", path.display()));
                assert!(text == want, "{}: the claims table is stale; run `cargo repro readme`", path.display());
            }

            #[test]
            fn figures_lint() {
                let s: &dyn common::DynStudy = &::$krate::$ty;
                let dir = root().join("reports").join(s.slug());
                let (Ok(m), Ok(r)) = (
                    std::fs::read_to_string(dir.join("manifest.json")),
                    std::fs::read_to_string(dir.join("results.json")),
                ) else {
                    eprintln!("{}: no committed report to lint", s.slug());
                    return;
                };
                let m: common::report::write::Manifest = serde_json::from_str(&m).expect("manifest.json");
                let outcome = s.report_json(&m.config, r.trim_end()).expect("the committed results render");
                let problems: Vec<String> =
                    outcome.figures.iter().flat_map(common::report::plot::lint_rendered).collect();
                assert!(problems.is_empty(), "{}: figure problems:\n{}", s.slug(), problems.join("\n"));
            }

            #[test]
            fn quick_profile() {
                let s: &dyn common::DynStudy = &::$krate::$ty;
                let sum = conformance::quick_contract(
                    s,
                    &out_dir(),
                    common::study::runner::DEFAULT_SEED,
                    Some(&root().join("reports")),
                );
                eprintln!("{}: {}/{} gated claims passed in {:.1} s", sum.slug, sum.passed, sum.gated, sum.wall_seconds);
            }
        }
    )* };
}

repro::for_each_study!(study_tests);

/// Every registered study is in the list the tests above come from, and slugs are unique.
#[test]
fn registry_is_consistent() {
    let all = repro::registry::all();
    let mut slugs: Vec<&str> = all.iter().map(|s| s.slug()).collect();
    let n = slugs.len();
    slugs.dedup();
    assert_eq!(slugs.len(), n, "duplicate slugs");
    for s in &all {
        assert!(root().join("studies").join(s.slug()).is_dir(), "{}: no studies/{} folder", s.slug(), s.slug());
    }
}
