//! The quick profile end to end: every gated claim must pass.
use common::study::assert_quick_claims;
use ntk_convergence::NtkConvergence;

#[test]
fn quick_profile_claims_pass() {
    assert_quick_claims(&NtkConvergence, common::study::runner::DEFAULT_SEED);
}
