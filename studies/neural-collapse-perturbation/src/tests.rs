use super::*;
use crate::experiment::{Hooks, flow_cell, flow_cell_with, near_cell};
use crate::model::{Ufm, WMode, covariances, nc1_pinv, unvec, vec_of};
use common::Seed;
use common::linalg::haar_orthogonal;
use common::rng::gaussian_mat;
use ndarray::{Array2, s};

fn tiny() -> Config {
    Config {
        k: 3,
        n: 5,
        d: 6,
        seeds: 1,
        steps: 400,
        lambda_ws: vec![1e-2],
        betas: vec![0.3, 3.0],
        nc_k: 3,
        nc_n: 4,
        nc_d: 5,
        nc_lambda_hs: vec![0.2],
        nc_lambda_ws: vec![0.5],
        nc_reps: 1,
        epsilons: vec![1e-3, 1e-2, 1e-1],
        ..Config::quick()
    }
}

/// W*(H) zeroes the W-gradient of Eq. 2: (WH − Y)Hᵀ + nλ_W W = 0.
#[test]
fn w_star_is_the_minimiser_in_w() {
    let p = Ufm { k: 3, n: 4, d: 5, lw: 0.07, lh: 0.1 };
    let h = gaussian_mat(&mut Seed(1).rng(), 5, 12, 1.0);
    let w = p.w_star(&h);
    let g = (w.dot(&h) - p.labels()).dot(&h.t()) + &w * (4.0 * 0.07);
    assert!(g.iter().all(|x| x.abs() < 1e-12));
}

/// The field is Kn times the gradient of the reduced loss (finite differences of L), and its JVP
/// matches finite differences of the field (closed forms of model.rs).
#[test]
fn field_and_jvp_match_finite_differences() {
    let p = Ufm { k: 3, n: 4, d: 5, lw: 0.07, lh: 0.1 };
    let y = p.labels();
    let h = gaussian_mat(&mut Seed(2).rng(), 5, 12, 1.0);
    let v = gaussian_mat(&mut Seed(3).rng(), 5, 12, 1.0);
    let loss = |h: &Array2<f64>| {
        let w = p.w_star(h);
        let r = w.dot(h) - &y;
        0.5 * r.iter().map(|x| x * x).sum::<f64>()
            + 0.5 * 4.0 * 0.07 * w.iter().map(|x| x * x).sum::<f64>()
            + 0.5 * 0.1 * h.iter().map(|x| x * x).sum::<f64>()
    };
    let e = 1e-6;
    let fd = (loss(&(&h + &(&v * e))) - loss(&(&h - &(&v * e)))) / (2.0 * e);
    let an = (&p.field(&h, &y) * &v).sum();
    assert!((fd - an).abs() < 1e-7 * an.abs().max(1.0), "{fd} vs {an}");
    let jac = p.field_jacobian(&h, &y);
    let fdj = (p.field(&(&h + &(&v * e)), &y) - p.field(&(&h - &(&v * e)), &y)) / (2.0 * e);
    let jv = unvec(&jac.dot(&vec_of(&v)), 5);
    assert!((&fdj - &jv).iter().all(|x| x.abs() < 1e-6), "JVP off");
}

/// Theorem 2.1: the collapsed H* is stationary for Eq. 1 (and for Eq. 2 with H0 = H*).
#[test]
fn theorem_2_1_collapsed_point_is_stationary() {
    let p = Ufm { k: 4, n: 3, d: 7, lw: 0.3, lh: 0.5 };
    let q = haar_orthogonal(&mut Seed(4).rng(), 7);
    let hs = p.collapsed(&q.slice(s![.., ..4]).to_owned());
    let g = p.field(&hs, &p.labels());
    assert!(g.iter().all(|x| x.abs() < 1e-12), "G(H*) = {}", g.iter().fold(0.0f64, |m, x| m.max(x.abs())));
}

/// Σ_B of K centred class means has rank K − 1; the rank-aware NC1 is finite, the naive one not.
#[test]
fn sigma_b_rank_is_k_minus_one() {
    let h = gaussian_mat(&mut Seed(5).rng(), 8, 12, 1.0);
    let (_, sb) = covariances(h.view(), 3, 4);
    let (x, nr) = nc1_pinv(h.view(), 3, 4).unwrap();
    assert_eq!(nr.rank, 2);
    assert!(nr.gap > 1e8 && x.is_finite() && x > 0.0);
    let naive = common::linalg::pinv(sb.view(), Some(1e-300));
    let (sw, _) = covariances(h.view(), 3, 4);
    let nv = (&sw * &naive).sum() / 3.0;
    assert!(nv.abs() > 1e3 * x);
}

#[test]
fn the_quick_profile_validates_and_the_full_one_too() {
    Config::quick().validate().unwrap();
    Config::full().validate().unwrap();
    let bad = Config { nc_d: 4, ..Config::quick() };
    assert!(bad.validate().is_err());
    let bad = Config { nc_lambda_hs: vec![2.0], nc_lambda_ws: vec![1.0], ..Config::quick() };
    assert!(bad.validate().is_err());
}

/// Planted bug (C1): W lagging W*(H) breaks the monotone decrease of NC̃1.
#[test]
fn a_lagged_w_breaks_c1() {
    let cfg = tiny();
    let good = flow_cell(&cfg, 1e-2, Seed(7));
    assert!(good.central.max_rise_tilde < 0.0);
    let bad = flow_cell_with(&cfg, 1e-2, Seed(7), WMode::Lagged(0.05));
    assert!(bad.central.max_rise_tilde > 0.0, "lagged rise {}", bad.central.max_rise_tilde);
}

/// Planted bug (C5): F = I leaves an O(ε) error (slope 1).
#[test]
fn identity_map_fails_c5() {
    let cfg = tiny();
    let good = near_cell(&cfg, 0.2, 0.5, Seed(8), Hooks::default());
    assert!((good.error_slope() - 2.0).abs() < 0.1, "slope {}", good.error_slope());
    let bad = near_cell(&cfg, 0.2, 0.5, Seed(8), Hooks { identity_map: true, ..Hooks::default() });
    assert!((bad.error_slope() - 1.0).abs() < 0.2, "slope {}", bad.error_slope());
}

/// Planted bug (C6): the rank-naive pseudo-inverse of Σ_B misses the closed form.
#[test]
fn rank_naive_pinv_fails_c6() {
    let cfg = tiny();
    let good = near_cell(&cfg, 0.2, 0.5, Seed(9), Hooks::default());
    assert!(good.limit_error() < 0.005, "{}", good.limit_error());
    let bad = near_cell(&cfg, 0.2, 0.5, Seed(9), Hooks { naive_pinv: true, ..Hooks::default() });
    let e = bad.limit_error();
    assert!(e.is_nan() || e >= 0.005, "{e}");
}

/// Planted bug (C3): reversed β order fails the share.
#[test]
fn reversed_beta_order_fails_c3() {
    let cfg = tiny();
    let mut cell = flow_cell(&cfg, 1e-2, Seed(10));
    assert!(cell.beta_order_ok());
    cell.per_beta.reverse();
    assert!(!cell.beta_order_ok());
}

/// Calibration (ignored): the quick profile through the runner at the seeds of `REPRO_SEEDS`
/// (default 101..=130), printing every claim's measured value; writes under `$NCP_OUT` (default
/// a temporary folder).
#[test]
#[ignore = "calibration: runs the quick profile at many seeds"]
fn calibrate_claims_over_seeds() {
    use common::study::conformance::quick_contract;
    let seeds: Vec<u64> = std::env::var("REPRO_SEEDS")
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|_| (101..=130).collect());
    for seed in seeds {
        let dir = tempfile::tempdir().unwrap();
        let out = std::env::var("NCP_OUT").map(std::path::PathBuf::from).unwrap_or_else(|_| dir.path().to_path_buf());
        let study = NeuralCollapsePerturbation;
        let r = std::panic::catch_unwind(|| quick_contract(&study, &out, seed, None));
        let text = std::fs::read_to_string(out.join("neural-collapse-perturbation/claims.json")).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let mut line = format!("seed {seed} ok={}:", r.is_ok());
        for c in v["claims"].as_array().into_iter().flatten() {
            line += &format!(
                " {}={} {}",
                c["id"].as_str().unwrap_or("?"),
                c["measured"],
                if c["passed"].as_bool() == Some(true) { "✓" } else { "✗" }
            );
        }
        println!("{line}");
    }
}

/// Planted bug (C2): reading Theorem 3.1 without the e^{2λ_H t} factor ("Tr Σ_B increases") fails
/// once λ_H shrinks the features, while the theorem's form holds.
#[test]
fn dropping_the_exponential_factor_fails_c2() {
    let cfg = Config { lambda_h: 0.3, ..tiny() };
    let cell = flow_cell(&cfg, 1e-2, Seed(11));
    assert!(cell.central.max_drop_trb <= 0.0 && cell.central.max_rise_trw <= 0.0);
    assert!(cell.central.max_drop_trb_plain > 0.0, "{}", cell.central.max_drop_trb_plain);
}

/// Planted bug (C7): Theorem 4.2 with λ_H and λ_W swapped misses the measured blocks.
#[test]
fn swapped_regularisers_fail_c7() {
    let cfg = tiny();
    let mut cell = near_cell(&cfg, 0.2, 0.5, Seed(12), Hooks::default());
    assert!(cell.thm42_error() < 0.005, "{}", cell.thm42_error());
    std::mem::swap(&mut cell.lambda_h, &mut cell.lambda_w);
    assert!(cell.thm42_error() > 0.2, "{}", cell.thm42_error());
}

/// Planted bug (C8): the measured ε → 0 ratios pass; with the λ_H labels reversed they fail.
#[test]
fn reversed_lambda_h_fails_c8() {
    let cfg = tiny();
    let mut cells = vec![];
    for (i, &lh) in [0.1, 0.4].iter().enumerate() {
        for (j, &lw) in [0.25, 1.0].iter().enumerate() {
            cells.push(near_cell(&cfg, lh, lw, Seed(20 + (2 * i + j) as u64), Hooks::default()));
        }
    }
    let refs: Vec<&NearCell> = cells.iter().collect();
    assert!(crate::experiment::regularisation_pairs(&refs).iter().all(|p| p.1));
    for c in &mut cells {
        c.lambda_h = if c.lambda_h == 0.1 { 0.4 } else { 0.1 };
    }
    let refs: Vec<&NearCell> = cells.iter().collect();
    assert!(!crate::experiment::regularisation_pairs(&refs).iter().all(|p| p.1));
}
