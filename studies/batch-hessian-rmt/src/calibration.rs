//! Calibration of the gated bounds over many root seeds (ignored tests; run with
//! `CAL_SEEDS=1-200 cargo test --release -p batch_hessian_rmt calibrate_ -- --ignored --nocapture`).
//! Each runs only the part of `measure` its claims need, with the same seed derivation, and prints
//! one line per seed and a summary (min, max, mean, sd, failures against the declared bound).
use super::*;
use common::Profile;
use common::stats::mean_sd;

fn seeds() -> Vec<u64> {
    let s = std::env::var("CAL_SEEDS").unwrap_or_else(|_| "1-20".into());
    let (a, b) = s.split_once('-').expect("CAL_SEEDS=a-b");
    (a.parse().unwrap()..=b.parse().unwrap()).collect()
}

fn summary(name: &str, spec: &ClaimSpec, v: &[f64]) {
    let (m, sd) = mean_sd(v);
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let fails = v.iter().filter(|&&x| !spec.expect.holds(x)).count();
    eprintln!(
        "{name}: {} seeds, min {lo:.4} max {hi:.4} mean {m:.4} sd {sd:.4}; {fails} outside {:?}",
        v.len(),
        spec.expect
    );
}

/// R6-logistic-excess-pt and R9-logistic-h-dense.
#[test]
#[ignore = "calibration"]
fn calibrate_logistic() {
    let cfg = Config::quick();
    let (mut r6, mut r9) = (vec![], vec![]);
    for seed in seeds() {
        let ctx = Ctx::for_test(seed, Profile::Quick);
        let lg = logistic_setup(&cfg.logistic, ctx.seed.child("logistic"));
        let all: Vec<usize> = (0..cfg.logistic.n).collect();
        let op = LogisticHessian::new(lg.x.view(), &all, lg.w.view());
        let full = lambda_max_planted(
            &op,
            2 * cfg.logistic.lanczos_steps,
            &mut ctx.seed.child("lg-full").rng(),
            Plant::default(),
        );
        let pt = logistic_pt(lg.x.view(), lg.w.view());
        let cells: Vec<SpecCell> =
            cfg.logistic.batch_sizes.iter().map(|&b| SpecCell { model: "logistic".into(), b }).collect();
        let runs = ctx
            .grid("spectrum", &cells, |cell, seed| {
                let (hess, rq) =
                    lg.batch_lambdas(&cfg.logistic, cell.b, pt.v1.view(), &mut seed.rng(), Plant::default());
                Ok(hess.iter().zip(&rq).map(|(l, q)| l - q).collect::<Vec<f64>>())
            })
            .unwrap();
        let ratios: Vec<f64> =
            cells.iter().zip(&runs).map(|(c, e)| common::stats::mean(e) / (pt.c_pt / c.b as f64)).collect();
        let w = figures::worst_ratio(&ratios);
        let e9 = (full - pt.lambda1_dense).abs() / pt.lambda1_dense;
        eprintln!("seed {seed}: R6-logistic {w:.4} ratios {ratios:.3?}; R9 {e9:.2e}");
        r6.push(w);
        r9.push(e9);
    }
    summary("R6-logistic-excess-pt", &R6_LOGISTIC, &r6);
    summary("R9-logistic-h-dense", &R9_LOGISTIC, &r9);
}

/// R6-mlp-*-excess-pt and R9-mlp-*-dense.
#[test]
#[ignore = "calibration"]
fn calibrate_small_mlp() {
    let cfg = Config::quick();
    let (mut h6, mut g6, mut h9, mut g9) = (vec![], vec![], vec![], vec![]);
    for seed in seeds() {
        let ctx = Ctx::for_test(seed, Profile::Quick);
        let k = sub_check(&cfg.check, &cfg.mlp, ctx.device, ctx.seed.child("dense-check"), Plant::default()).unwrap();
        let ratio = |m: &check::MatrixCheck| {
            let rs: Vec<f64> = cfg
                .check
                .batch_sizes
                .iter()
                .zip(&m.excess)
                .map(|(&b, e)| common::stats::mean(e) * b as f64 / m.c_pt)
                .collect();
            (common::stats::mean(&rs), rs)
        };
        let ((hr, hs), (gr, gs)) = (ratio(&k.hess), ratio(&k.ggn));
        eprintln!(
            "seed {seed}: λ₁ {:.3} gap {:.3}; H {hr:.3} {hs:.3?} GGN {gr:.3} {gs:.3?}; R9 {:.1e} {:.1e}",
            k.hess.dense_max,
            k.hess.dense_max - k.hess.dense_min,
            k.hess.max_error(),
            k.ggn.max_error()
        );
        h6.push(hr);
        g6.push(gr);
        h9.push(k.hess.max_error());
        g9.push(k.ggn.max_error());
    }
    summary("R6-mlp-h-excess-pt", &R6_MLP_H, &h6);
    summary("R6-mlp-ggn-excess-pt", &R6_MLP_GGN, &g6);
    summary("R9-mlp-h-dense", &R9_MLP_H, &h9);
    summary("R9-mlp-ggn-dense", &R9_MLP_GGN, &g9);
}

/// R8-ms-threshold (and R7, R3, R4a, R4b, which read the same SGD sweep).
#[test]
#[ignore = "calibration"]
fn calibrate_e2() {
    let cfg = Config::quick();
    let (mut r8, mut r7) = (vec![], vec![]);
    for seed in seeds() {
        let ctx = Ctx::for_test(seed, Profile::Quick);
        let ls = ls_setup(&cfg.lr, ctx.seed.child("lstsq"));
        let sweep = Sweep::new("lr-max").axis("opt", ["sgd", "adam"]).axis("b", &cfg.lr.batch_sizes);
        let cells: Vec<_> = sweep.cells().into_iter().filter(|c| c.str("opt") == "sgd").collect();
        let etas = ctx
            .grid("lr-max", &cells, |cell, seed| {
                let b = cell.usize("b");
                let ok = |lr: f64| stable(&ls, &cfg.lr, "sgd", b, lr, seed, Plant::default());
                Ok(geometric_bisect(ok, cfg.lr.lr_lo, cfg.lr.lr_hi, cfg.lr.bisect_steps).0)
            })
            .unwrap();
        let (mut ms, mut pp) = (vec![], vec![]);
        for (i, (c, eta)) in cells.iter().zip(&etas).enumerate() {
            let b = c.usize("b");
            let l1 = ls.batch_lambdas(
                b,
                cfg.lr.batches,
                &mut ctx.seed.child_idx("lstsq-spectra", i as u64).rng(),
                Plant::default(),
            );
            ms.push(eta / ms_threshold(&ls.eigs, b));
            pp.push(eta * common::stats::mean(&l1) / 2.0);
        }
        let (w8, w7) = (figures::worst_ratio(&ms), figures::worst_ratio(&pp));
        eprintln!("seed {seed}: R8 {w8:.4} {ms:.3?}; R7 {w7:.3}");
        r8.push(w8);
        r7.push(w7);
    }
    summary("R8-ms-threshold", &R8_MS, &r8);
    summary("R7-paper-lr-law", &R7_PAPER_LR, &r7);
}
