//! Every study the CLI knows: one line per study crate (keep sorted by slug).
use common::DynStudy;

/// All registered studies, sorted by slug.
pub fn all() -> Vec<Box<dyn DynStudy>> {
    let mut v: Vec<Box<dyn DynStudy>> = vec![
        // studies: one line each, `Box::new(<crate>::<StudyType>),`
        Box::new(batch_hessian_rmt::BatchHessianRmt),
        Box::new(deep_linear_dynamics::DeepLinearDynamics),
        Box::new(hessian_bulk_outliers::HessianBulkOutliers),
        Box::new(highdim_generalization_dynamics::HighdimGeneralizationDynamics),
        Box::new(lsa_one_step_gd::LsaOneStepGd),
        Box::new(matrix_sensing_overparam::MatrixSensingOverparam),
        Box::new(mfac::Mfac),
        Box::new(ntk_convergence::NtkConvergence),
        Box::new(sgd_stability_trace::SgdStabilityTrace),
    ];
    v.sort_by_key(|s| s.slug());
    v
}

/// Look a study up by slug.
pub fn find(slug: &str) -> Option<Box<dyn DynStudy>> {
    all().into_iter().find(|s| s.slug() == slug)
}
