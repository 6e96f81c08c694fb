//! Robustness of the gated claims to the root seed (the default seed's quick profile runs in
//! `repro/tests/quick_profiles.rs`). Slow: `cargo test --release -p sgd_stability_trace -- --ignored`.
use common::study::assert_quick_claims;
use sgd_stability_trace::SgdStabilityTrace;

#[test]
#[ignore = "five quick profiles; run on demand"]
fn quick_profile_claims_pass_for_other_seeds() {
    for seed in 1..=5 {
        assert_quick_claims(&SgdStabilityTrace, seed);
    }
}
