//! Robustness of the gated claims to the root seed (the default seed's quick profile runs in
//! `repro/tests/quick_profiles.rs`). Slow: `cargo test --release -p sgd_stability_trace -- --ignored
//! --nocapture` prints every claim per seed; `SEEDS_DETAIL=<id>,<id>` also prints their details.
use common::study::{Ctx, DynStudy, Profile};
use sgd_stability_trace::SgdStabilityTrace;

#[test]
#[ignore = "five quick profiles; run on demand"]
fn quick_profile_claims_pass_for_other_seeds() {
    let mut failed = vec![];
    for seed in 1..=5 {
        let study = SgdStabilityTrace;
        let out = study.run_json(&study.config_json(Profile::Quick), &Ctx::for_test(seed, Profile::Quick)).unwrap();
        for c in &out.claims {
            eprintln!("seed {seed} {} {} {} {}", c.id, c.verdict(), c.measured, c.expected.describe());
            if std::env::var("SEEDS_DETAIL").is_ok_and(|v| v.split(',').any(|x| x == c.id)) {
                eprintln!("  {}", c.detail.clone().unwrap_or_default());
            }
            if c.gated && !c.passed {
                failed.push(format!(
                    "seed {seed}: {} = {} ({})",
                    c.id,
                    c.measured,
                    c.detail.clone().unwrap_or_default()
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}
