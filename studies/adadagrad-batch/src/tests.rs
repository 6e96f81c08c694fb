use super::*;
use common::Profile;

/// A small config (claims not expected to hold).
fn tiny() -> Config {
    Config {
        problems: vec![ProblemKind::Synthetic],
        synth_n: 300,
        iters: 200,
        eval_points: 40,
        reps: 1,
        ..Config::quick()
    }
}

#[test]
fn figures_pass_the_lint_on_a_tiny_run() {
    let cfg = tiny();
    let r = AdadagradBatch.measure(&cfg, &Ctx::for_test(3, Profile::Quick)).unwrap();
    let out = AdadagradBatch.report(&cfg, &r).unwrap();
    for f in &out.figures {
        let problems = common::report::plot::lint_rendered(f);
        assert!(problems.is_empty(), "{}: {problems:?}", f.name);
    }
}

/// `CAL_SEEDS=20 CAL_START=1000 cargo test --release -p adadagrad_batch -- --ignored calibrate --nocapture`
#[test]
#[ignore = "calibration over many seeds (minutes)"]
fn calibrate() {
    common::study::conformance::calibrate(&AdadagradBatch);
}

fn claim<'a>(out: &'a Outcome, id: &str) -> &'a common::Claim {
    out.claims.iter().find(|c| c.id == id).expect("claim")
}

/// The planted bug: the tests read the variance of the mean gradient (per-sample variance ÷ b).
/// The batch then stays small for longer and the run pays the constant-batch noise floor.
#[test]
fn planted_variance_of_mean_fails_a_gated_claim() {
    let cfg = Config { reps: 1, problems: vec![ProblemKind::Synthetic], ..Config::quick() };
    let ctx = Ctx::for_test(5, Profile::Quick);
    let good = AdadagradBatch.report(&cfg, &measure_with(&cfg, &ctx, Bug::None).unwrap()).unwrap();
    let bad = AdadagradBatch
        .report(&cfg, &measure_with(&cfg, &Ctx::for_test(5, Profile::Quick), Bug::VarianceOfMean).unwrap())
        .unwrap();
    for c in &bad.claims {
        eprintln!("{} good {:?} bad {:?} {}", c.id, claim(&good, &c.id).measured, c.measured, c.passed);
    }
    assert!(good.all_gated_passed());
    assert!(!bad.all_gated_passed());
}

/// The fixed case of `reference/adada_ref.py`, rebuilt here: the four proposals and the
/// AdaGrad-Norm + norm-test batch trace equal the NumPy values.
#[test]
fn reference_case_matches_numpy() {
    use common::models::per_sample::mlp_grad_stats;
    use common::models::{Activation, Loss, Mlp, Targets};
    use common::optim::{Optimizer, adagrad_norm, stateful};
    use common::train::adaptive::next_batch_size;
    use ndarray::{Array1, Array2, s};
    let (n, d, k) = (64usize, 5usize, 2usize);
    let x = Array2::from_shape_fn((n, d), |(i, j)| (1.3 * i as f64 + 0.7 * j as f64).sin() + 0.1 * j as f64);
    let y: Vec<usize> = (0..n).map(|i| usize::from((i * 7) % 3 == 0)).collect();
    let mlp = Mlp::new(&[d, k], Activation::Linear, true, Loss::SoftmaxCe);
    let w0 = Array1::from_shape_fn(k * d + k, |i| 0.1 * (i as f64).cos());
    let st = mlp_grad_stats(&mlp, w0.view(), x.view(), &Targets::Classes(y.clone()), true);
    let numpy = [
        (BatchTest::Norm { eta: 0.5 }, 7.317864080945253e+01),
        (BatchTest::InnerProduct { theta: 0.5 }, 3.044898582897039e+01),
        (BatchTest::IpOrth { theta: 0.5, nu: 0.5 }, 4.272965498048213e+01),
        (BatchTest::CoordNorm { eta: 1.0 }, 4.950505135693996e+03),
    ];
    for (t, want) in numpy {
        let r = t.proposal(&st);
        assert!((r - want).abs() <= 1e-10 * want, "{t:?}: {r} vs NumPy {want}");
    }
    // The trace: the batch at step k is the first b_k samples.
    let mut w = w0.clone();
    let mut opt = stateful(adagrad_norm(1.0, 0.1));
    let mut b = 2;
    let mut trace = vec![];
    for _ in 0..25 {
        let st = mlp_grad_stats(&mlp, w.view(), x.slice(s![..b, ..]), &Targets::Classes(y[..b].to_vec()), false);
        trace.push(b);
        opt.step(&mut w, st.mean.view());
        if b < n {
            b = next_batch_size(b, n, BatchTest::Norm { eta: 0.5 }.proposal(&st));
        }
    }
    let mut want = vec![2, 27, 27];
    want.resize(25, 64);
    assert_eq!(trace, want);
    let w2 = w.dot(&w);
    assert!((w2 - 2.621946312504784e-01).abs() < 1e-12, "{w2}");
}

/// B1f fails when the streaming statistics drop the variance correction (÷b instead of ÷(b−1)).
#[test]
fn planted_uncorrected_variance_fails_b1f() {
    let cfg = Config::quick();
    let mk = |b: usize, bug: bool| runs::FormulaCheck {
        step: 3,
        batch: b,
        streaming: if bug { 10.0 * (b as f64 - 1.0) / b as f64 } else { 10.0 },
        direct: 10.0,
    };
    let run = |check| Run {
        steps: vec![0, 1, 2],
        grad_sq: vec![1.0, 0.5, 0.2],
        samples: vec![0, 2, 10],
        test_acc: vec![],
        batch_changes: vec![(0, 2), (1, 8)],
        steps_done: 2,
        stopped_at_floor: false,
        diverged: false,
        check: Some(check),
        wall_s: 0.0,
    };
    let sweep = Sweep::new("runs")
        .axis("problem", ["synthetic"])
        .axis("optimizer", ["adagrad_norm"])
        .axis("schedule", ["norm 0.5"])
        .reps(1);
    let cells = sweep.cells();
    for (bug, pass) in [(false, true), (true, false)] {
        let r = Results { runs: Swept { cells: cells.clone(), results: vec![run(mk(2000, bug))] } };
        let out = AdadagradBatch.report(&cfg, &r).unwrap();
        assert_eq!(claim(&out, "B1f").passed, pass, "bug {bug}: {:?}", claim(&out, "B1f").measured);
    }
}
