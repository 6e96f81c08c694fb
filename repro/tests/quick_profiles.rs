//! The generic test: every registered study's quick profile runs and every gated claim passes.
//! A new study is covered by adding it to the registry; no per-study boilerplate.

#[test]
fn every_registered_study_passes_its_quick_profile() {
    let studies = repro::registry::all();
    let only = std::env::var("REPRO_ONLY").ok();
    for s in studies.iter().filter(|s| only.as_deref().is_none_or(|o| o == s.slug())) {
        common::study::assert_quick_claims(s.as_ref(), common::study::runner::DEFAULT_SEED);
    }
}
