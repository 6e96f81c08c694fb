//! Every study the CLI knows: one line per study crate in [`for_each_study!`] (keep sorted by
//! slug), and its dependency in `repro/Cargo.toml`. The generic test suite
//! (`repro/tests/studies.rs`) is generated from the same list, so a registered study is tested.
use common::DynStudy;

/// Calls `$m! { crate_a::StudyA, crate_b::StudyB, ... }` with every registered study.
#[macro_export]
macro_rules! for_each_study {
    ($m:ident) => {
        $m! {
            // studies: one line each, `<crate>::<StudyType>,`
            adadagrad_batch::AdadagradBatch,
            barron_nonlinear_elliptic::BarronNonlinearElliptic,
            batch_hessian_rmt::BatchHessianRmt,
            bilevel_unbounded_smooth_borep::BilevelUnboundedSmoothBorep,
            boundary_tilting_adv::BoundaryTiltingAdv,
            convex_relu_admm::ConvexReluAdmm,
            deep_linear_dynamics::DeepLinearDynamics,
            degeneracy_interaction_basis::DegeneracyInteractionBasis,
            diffgrad::Diffgrad,
            eal_sketching::EalSketching,
            gbnn_sequential_boosting::GbnnSequentialBoosting,
            grad_normalized_smoothness::GradNormalizedSmoothness,
            grokking_lazy_rich::GrokkingLazyRich,
            grokking_stablemax::GrokkingStablemax,
            hessian_bulk_outliers::HessianBulkOutliers,
            highdim_generalization_dynamics::HighdimGeneralizationDynamics,
            holo_ep_jacobian_homeostasis::HoloEpJacobianHomeostasis,
            implicit_diff_modular::ImplicitDiffModular,
            linear_mode_connectivity::LinearModeConnectivity,
            local_lipschitz_boundprop::LocalLipschitzBoundprop,
            lr_schedule_refinement::LrScheduleRefinement,
            lsa_one_step_gd::LsaOneStepGd,
            matrix_sensing_overparam::MatrixSensingOverparam,
            mfac::Mfac,
            neural_collapse_perturbation::NeuralCollapsePerturbation,
            ntk_convergence::NtkConvergence,
            opposing_signals::OpposingSignals,
            sgd_stability_trace::SgdStabilityTrace,
            target_surrogates_sso::TargetSurrogatesSso,
        }
    };
}

macro_rules! boxed {
    ($($krate:ident :: $ty:ident),* $(,)?) => {
        vec![$(Box::new(::$krate::$ty) as Box<dyn DynStudy>),*]
    };
}

/// All registered studies, sorted by slug.
pub fn all() -> Vec<Box<dyn DynStudy>> {
    let mut v: Vec<Box<dyn DynStudy>> = for_each_study!(boxed);
    v.sort_by_key(|s| s.slug());
    v
}

/// Look a study up by slug.
pub fn find(slug: &str) -> Option<Box<dyn DynStudy>> {
    all().into_iter().find(|s| s.slug() == slug)
}
