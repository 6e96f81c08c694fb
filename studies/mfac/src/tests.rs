//! Unit tests. The cross-check outside the crate's algorithms is the dense inverse of
//! `F = damp I + G^T G / m` (faer's Cholesky) and the explicit Sherman-Morrison recursion.
use super::*;
use crate::dynamic::DynamicInv;
use crate::reference::{DenseFisher, dense_fisher, hinv_slow, max_rel_err, rel_err};
use crate::static_inv::{BlockStatic, StaticInv};
use common::Profile;
use common::Seed;
use common::optim::Transform;
use common::rng::{gaussian_mat, gaussian_vec};
use ndarray::{Array1, Array2, s};
use proptest::prelude::*;

fn rand_problem(seed: u64, m: usize, d: usize) -> (Array2<f64>, Array1<f64>) {
    let mut rng = Seed(seed).rng();
    (gaussian_mat(&mut rng, m, d, 1.0), gaussian_vec(&mut rng, d, 1.0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Both algorithms equal the dense inverse on small random problems (IHVP and diagonal),
    /// including m > d (a singular G^T G) and badly scaled gradients.
    #[test]
    fn both_algorithms_equal_the_dense_inverse(
        seed in 0u64..1_000_000, m in 1usize..14, d in 1usize..40, ldamp in -3.0f64..1.0, scale in 0.1f64..10.0
    ) {
        let damp = 10f64.powf(ldamp);
        let (g, x) = rand_problem(seed, m, d);
        let g = g * scale;
        let dense = DenseFisher::new(g.view(), damp);
        let want = dense.solve(x.view());
        let dy = DynamicInv::new(g.clone(), damp);
        let st = StaticInv::new(g.view(), damp, 3);
        prop_assert!(rel_err(dy.mul(x.view()).view(), want.view()) < 1e-9);
        prop_assert!(rel_err(st.mul(x.view()).view(), want.view()) < 1e-9);
        prop_assert!(max_rel_err(st.diag().view(), dense.inverse().diag()) < 1e-9);
    }

    /// The sliding window stays exact through any number of replacements.
    #[test]
    fn ring_buffer_matches_a_rebuild(seed in 0u64..1_000_000, m in 1usize..8, d in 2usize..30, n in 1usize..25) {
        let (g0, x) = rand_problem(seed, m, d);
        let (fresh, _) = rand_problem(seed + 1, n, d);
        let mut dy = DynamicInv::new(g0.clone(), 0.05);
        let mut window = g0;
        for k in 0..n {
            dy.update(fresh.row(k));
            window.row_mut(k % m).assign(&fresh.row(k));
        }
        prop_assert_eq!(dy.grads(), &window);
        let want = DenseFisher::new(window.view(), 0.05).solve(x.view());
        prop_assert!(rel_err(dy.mul(x.view()).view(), want.view()) < 1e-9);
    }
}

#[test]
fn hinv_slow_is_the_dense_inverse() {
    let (g, _) = rand_problem(1, 6, 15);
    let h = hinv_slow(g.view(), 0.1);
    let f = dense_fisher(g.view(), 0.1);
    let eye = h.dot(&f);
    for i in 0..15 {
        for j in 0..15 {
            assert!((eye[[i, j]] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
        }
    }
}

#[test]
fn dynamic_and_static_share_the_sherman_morrison_vectors() {
    let (g, _) = rand_problem(2, 9, 50);
    let dy = DynamicInv::new(g.clone(), 1e-2);
    let st = StaticInv::new(g.view(), 1e-2, 4);
    let v = dy.v_rows();
    let scale = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    assert!((&v - st.hg()).iter().all(|e| e.abs() < 1e-10 * scale));
}

#[test]
fn static_page_size_does_not_matter() {
    let (g, x) = rand_problem(3, 37, 120);
    let a = StaticInv::new(g.view(), 1e-3, 1);
    for page in [2, 5, 32, 37, 100] {
        let b = StaticInv::new(g.view(), 1e-3, page);
        assert!(rel_err(b.mul(x.view()).view(), a.mul(x.view()).view()) < 1e-11, "page {page}");
        assert!(max_rel_err(b.diag().view(), a.diag().view()) < 1e-11, "page {page}");
    }
}

#[test]
fn blocked_static_is_the_block_diagonal_inverse() {
    let (g, x) = rand_problem(4, 8, 23);
    let b = BlockStatic::new(g.view(), 0.1, 10, 32);
    let mut want = Array1::zeros(23);
    for lo in [0usize, 10, 20] {
        let hi = (lo + 10).min(23);
        let f = DenseFisher::new(g.slice(s![.., lo..hi]), 0.1);
        want.slice_mut(s![lo..hi]).assign(&f.solve(x.slice(s![lo..hi])));
    }
    assert!(rel_err(b.mul(x.view()).view(), want.view()) < 1e-12);
    // blocksize 0 is the full algorithm
    let full = BlockStatic::new(g.view(), 0.1, 0, 32);
    let want = DenseFisher::new(g.view(), 0.1).solve(x.view());
    assert!(rel_err(full.mul(x.view()).view(), want.view()) < 1e-12);
}

#[test]
fn empty_window_is_scaled_identity_and_update_mul_is_update_then_mul() {
    let (g, x) = rand_problem(5, 4, 30);
    let z = DynamicInv::zeros(4, 30, 0.5);
    assert!(rel_err(z.mul(x.view()).view(), (&x * 2.0).view()) < 1e-15);
    let mut a = DynamicInv::new(g.clone(), 0.5);
    let mut b = a.clone();
    let got = a.update_mul(x.view());
    b.update(x.view());
    assert!(rel_err(got.view(), b.mul(x.view()).view()) < 1e-13);
}

#[test]
fn mfac_optimizer_step_is_minus_lr_times_the_ihvp() {
    let (g, _) = rand_problem(6, 3, 12);
    let tr = optimizer::mfac(0.1, 3, 0.2, 0.0);
    let w = Array1::zeros(12);
    let mut st = tr.init(w.view());
    for k in 0..3 {
        let u = tr.update(g.row(k), &mut st, w.view(), k);
        let window = g.slice(s![..k + 1, ..]).to_owned();
        // the window holds k+1 gradients and 3-k-1 zero rows (m = 3 in the 1/m)
        let mut full = Array2::zeros((3, 12));
        full.slice_mut(s![..k + 1, ..]).assign(&window);
        let want = DenseFisher::new(full.view(), 0.2).solve(g.row(k)) * -0.1;
        assert!(rel_err(u.view(), want.view()) < 1e-12, "step {k}");
    }
}

#[test]
fn slopes() {
    let x = [1.0, 10.0, 100.0];
    assert!((timing::loglog_slope(&x, &[2.0, 20.0, 200.0]) - 1.0).abs() < 1e-12);
    assert!((timing::loglog_slope(&x, &[1.0, 1e3, 1e6]) - 3.0).abs() < 1e-12);
    let st = |v: Vec<f64>| timing::Stat::of(v);
    // round 1 is an outlier (the largest size was slowed 10x): the median over rounds ignores it
    let a = st(vec![1.0, 1.0, 1.0]);
    let b = st(vec![10.0, 10.0, 10.0]);
    let c = st(vec![100.0, 1000.0, 100.0]);
    assert!((timing::round_median_slope(&x, &[&a, &b, &c]) - 1.0).abs() < 1e-12);
    assert_eq!(timing::median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
}

#[test]
fn random_rows_do_not_depend_on_the_thread_count() {
    let a = timing::random_rows(Seed(9), 5, 100);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let b = pool.install(|| timing::random_rows(Seed(9), 5, 100));
    assert_eq!(a, b);
    assert!(a.iter().all(|v| v.abs() <= 3f64.sqrt()));
}

#[test]
fn configs_round_trip_and_reject_unknown_keys() {
    use common::DynStudy;
    for p in [Profile::Quick, Profile::Full] {
        let v = Mfac.config_json(p);
        assert!(Mfac.check_config(&v).is_ok());
    }
    let mut v = Mfac.config_json(Profile::Quick);
    v["no_such_key"] = serde_json::json!(1);
    assert!(Mfac.check_config(&v).is_err());
}

#[test]
fn pruning_paths_run_and_the_obs_bookkeeping_holds() {
    let s = Seed(11);
    let t = task::Task::digits(s.child("split"), 0.2, 8).unwrap();
    let w = task::train_dense(&t, 3, 32, 1e-2, s.child("dense"));
    let widx = task::weight_indices(&t.model);
    assert_eq!(widx.len(), 64 * 8 + 8 * 10);
    let set = prune::PruneSettings { m: 64, damp_rel: 1e-4, blocksize: 0, device: common::device::Device::Cpu };
    for meth in [prune::Method::Magnitude, prune::Method::Mfac, prune::Method::MfacOneStep] {
        let (path, chk) = prune::prune_path(&t, &w, &widx, &[0.25, 0.5], meth, &set, s.child("p"));
        assert_eq!(path.len(), 2);
        assert!(path.iter().all(|p| p.test_acc.is_finite()));
        if meth == prune::Method::Mfac {
            assert_eq!(chk.len(), prune::OBS_QUANTILES.len());
            for c in &chk {
                assert!((c.fisher_quadratic / c.predicted - 1.0).abs() < 1e-8, "{c:?}");
                assert!(c.residual_weight < 1e-8, "{c:?}");
            }
        }
    }
}

#[test]
fn operation_counts_follow_the_complexities() {
    use crate::kernels::count_ops;
    for (m, d) in [(4usize, 50usize), (16, 300)] {
        let (g, x) = rand_problem(12, m, d);
        let (mu, dd) = (m as u64, d as u64);
        let mut dy = DynamicInv::new(g.clone(), 0.1);
        let (n, _) = count_ops(|| dy.mul(x.view()));
        assert_eq!(n, 2 * mu * dd + mu * (mu - 1) / 2 + mu * mu + dd);
        // an update: one gradient row, G g, the LU and the coefficient rows from the replaced slot on
        let (n, _) = count_ops(|| dy.update(x.view()));
        let lu: u64 = (0..mu).map(|k| (mu - k - 1) * (mu - k)).sum();
        let coef: u64 = (1..mu).map(|i| i * (i + 1) / 2).sum();
        assert_eq!(n, dd + mu * dd + lu + coef);
        let st = StaticInv::new(g.view(), 0.1, 4);
        let (n, _) = count_ops(|| st.mul(x.view()));
        assert_eq!(n, 2 * mu * dd + dd);
    }
}
