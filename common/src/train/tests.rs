use ndarray::{Array1, Array2, ArrayView1, array};

use super::*;
use crate::optim::{OptimizerConfig, sgd, stateful};
use crate::rng::{Seed, gaussian_mat, gaussian_vec};

/// Least squares `(1/2b) sum_{i in batch} (x_i . w - y_i)^2`.
fn lsq(x: &Array2<f64>, y: &Array1<f64>) -> impl FnMut(ArrayView1<f64>, &[usize]) -> (f64, Array1<f64>) {
    move |w, batch| {
        let mut g = Array1::zeros(w.len());
        let mut loss = 0.0;
        for &i in batch {
            let r = x.row(i).dot(&w) - y[i];
            loss += 0.5 * r * r;
            g.scaled_add(r, &x.row(i));
        }
        let b = batch.len() as f64;
        (loss / b, g / b)
    }
}

#[test]
fn converges_on_least_squares_and_logs() {
    let mut rng = Seed(1).rng();
    let (n, d) = (200, 5);
    let x = gaussian_mat(&mut rng, n, d, 1.0);
    let w_star = gaussian_vec(&mut rng, d, 1.0);
    let y = x.dot(&w_star);
    for sampling in [Sampling::WithReplacement, Sampling::EpochShuffle, Sampling::FullBatch] {
        let cfg = TrainConfig::new(400, 16, sampling, 100);
        let mut w = Array1::zeros(d);
        let mut opt = OptimizerConfig::sgd(0.1).build();
        let xe = x.clone();
        let ye = y.clone();
        let log = train(
            &mut w,
            n,
            &cfg,
            lsq(&x, &y),
            &mut opt,
            |_, w| {
                let r = xe.dot(&w) - &ye;
                vec![("loss".into(), 0.5 * r.dot(&r) / n as f64)]
            },
            &mut rng,
        );
        assert!(!log.diverged());
        assert_eq!(log.steps_done, 400);
        assert_eq!(log.batch_losses.len(), 400);
        let steps: Vec<usize> = log.rows.iter().map(|r| r.step).collect();
        assert_eq!(steps, vec![0, 100, 200, 300, 400]);
        assert!(log.last("loss").unwrap() < 1e-8, "{sampling:?}: {:?}", log.last("loss"));
        let t = log.to_table("lsq", "");
        t.validate().unwrap();
        assert_eq!(t.nrows(), 5);
        assert_eq!(t.columns.len(), 2);
        assert_eq!(log.batch_loss_table("b", "").nrows(), 400);
    }
}

#[test]
fn detects_nan_divergence_without_panicking() {
    // gradient descent on f = x^2 / 2 with lr = 3 blows up: |x| grows 2x per step until inf, then
    // the loss is inf/NaN
    let cfg = TrainConfig::full_batch(10_000, 0);
    let mut x = array![1.0];
    let mut opt = stateful(sgd(3.0));
    let log =
        train(&mut x, 1, &cfg, |x, _| (0.5 * x[0] * x[0], x.to_owned()), &mut opt, |_, _| vec![], &mut Seed(0).rng());
    let s = log.diverged_at.expect("diverged");
    assert!(s > 100 && s < 2000, "{s}");
    assert!(!log.batch_losses.last().unwrap().is_finite());
    assert_eq!(log.rows.len(), 1); // only the initial evaluation
    // NaN straight away
    let mut x = array![1.0];
    let log = train(&mut x, 1, &cfg, |_, _| (f64::NAN, array![0.0]), &mut opt, |_, _| vec![], &mut Seed(0).rng());
    assert_eq!(log.diverged_at, Some(0));
    assert_eq!(log.steps_done, 0);
    // a threshold catches it earlier
    let cfg = TrainConfig { diverge_above: Some(1e6), ..TrainConfig::full_batch(10_000, 0) };
    let mut x = array![1.0];
    let mut opt = stateful(sgd(3.0));
    let log =
        train(&mut x, 1, &cfg, |x, _| (0.5 * x[0] * x[0], x.to_owned()), &mut opt, |_, _| vec![], &mut Seed(0).rng());
    assert_eq!(log.diverged_at, Some(11)); // 0.5 * 4^11 > 1e6 > 0.5 * 4^10
}

#[test]
fn samplers() {
    let mut rng = Seed(2).rng();
    let mut s = BatchSampler::new(10, 3, Sampling::EpochShuffle);
    let mut seen = vec![];
    for _ in 0..3 {
        let b = s.next(&mut rng).to_vec();
        assert_eq!(b.len(), 3);
        seen.extend(b);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 9); // no repeats within an epoch
    s.next(&mut rng);
    assert_eq!(s.epochs, 1);
    let mut f = BatchSampler::new(4, 2, Sampling::FullBatch);
    assert_eq!(f.next(&mut rng), &[0, 1, 2, 3]);
    let mut w = BatchSampler::new(5, 1000, Sampling::WithReplacement);
    let b = w.next(&mut rng).to_vec();
    assert_eq!(b.len(), 1000);
    assert!(b.iter().all(|&i| i < 5));
    let cfg: TrainConfig =
        serde_json::from_str(r#"{"steps":5,"batch_size":2,"sampling":"epoch_shuffle","eval_every":1}"#).unwrap();
    assert_eq!(cfg.sampling, Sampling::EpochShuffle);
}

/// The `hessian-bulk-outliers` pipeline in small gives bitwise the same numbers in pools of 1, 2
/// and 3 threads: Gaussian-mixture data in d = 100 (its class means are a faer QR's Haar
/// rotation), a one-hidden-layer ReLU MLP trained by full-batch GD, then gradient, HVP, GGN
/// product, Lanczos top eigenvalues of both, SLQ and Hutchinson. n = 400 runs every product
/// unchunked with parallel GEMMs, n = 1000 in two row chunks. Last, SGD with one-sample batches on
/// a net with a 512 x 512 layer: its backward pass is a `1 x 512 x 512` product, which faer's
/// parallel matrix-vector kernel would split by the thread count.
#[test]
fn mlp_pipeline_is_bitwise_identical_at_any_thread_count() {
    use crate::data::synthetic::gaussian_mixture;
    use crate::linalg::tests::{assert_same_bits_in_pools, bits};
    use crate::linalg::{hutchinson_samples, slq, top_eigs};
    use crate::models::{Activation, Loss, Mlp, Model, Problem, Targets};
    use ndarray::{Axis, s};
    assert_same_bits_in_pools(|| {
        let mut out: Vec<(String, Vec<u64>)> = vec![];
        for (n, h, k) in [(400, 128, 4), (1000, 64, 10)] {
            let mut put = |name: &str, v: Vec<u64>| out.push((format!("{name} n={n} h={h} k={k}"), v));
            let (data, _) = gaussian_mixture(&mut Seed(3).rng(), n, 100, k, 3.0 * 2f64.sqrt(), 1.0);
            put("data", bits(&data.x));
            let m = Mlp::new(&[100, h, k], Activation::Relu, true, Loss::SoftmaxCe);
            let y = Targets::Classes(data.labels.clone());
            let p = Problem::new(&m, data.x.view(), &y);
            let mut w = m.init(&mut Seed(4).rng());
            let mut opt = OptimizerConfig::sgd(0.2).build();
            let log = train(
                &mut w,
                n,
                &TrainConfig::full_batch(5, 0),
                |w, _| p.loss_grad(w),
                &mut *opt,
                |_, _| vec![],
                &mut Seed(5).rng(),
            );
            put("train losses", bits(&log.batch_losses));
            put("trained w", bits(&w));
            let (l, g) = p.loss_grad(w.view());
            put("loss, grad", bits(std::iter::once(&l).chain(&g)));
            let v = &g / g.dot(&g).sqrt();
            put("hvp", bits(&p.hvp(w.view(), v.view())));
            put("gnvp", bits(&p.gnvp(w.view(), v.view())));
            let (lg, gg, hg) = m.grad_hvp(w.view(), data.x.view(), &y, v.view());
            put("grad_hvp", bits(std::iter::once(&lg).chain(&gg).chain(&hg)));
            put("forward", bits(&p.forward(w.view())));
            put("jvp", bits(&m.jvp(w.view(), data.x.view(), v.view())));
            put("vjp", bits(&m.vjp(w.view(), data.x.view(), p.forward(w.view()).view())));
            let few = data.x.slice(s![..40, ..]);
            put("per_sample_grads", bits(&m.per_sample_grads(w.view(), few, &y.select(&(0..40).collect::<Vec<_>>()))));
            let (hess, ggn) = (p.hessian_op(w.view()), p.ggn_op(w.view()));
            let (top, _) = top_eigs(&hess, 2 * k + 2, 30, &mut Seed(6).rng());
            put("hessian top_eigs", bits(&top));
            let (top, _) = top_eigs(&ggn, 2 * k + 2, 30, &mut Seed(6).rng());
            put("ggn top_eigs", bits(&top));
            for (nodes, weights) in slq(&hess, 3, 15, &mut Seed(7).rng()) {
                put("slq", bits(nodes.iter().chain(&weights)));
            }
            put("hutchinson", bits(&hutchinson_samples(&hess, 5, &mut Seed(8).rng())));
        }
        let m = Mlp::new(&[16, 512, 512, 4], Activation::Tanh, true, Loss::SoftmaxCe);
        let (data, _) = gaussian_mixture(&mut Seed(9).rng(), 64, 16, 4, 3.0, 1.0);
        let y = Targets::Classes(data.labels.clone());
        let mut w = m.init(&mut Seed(10).rng());
        let mut opt = OptimizerConfig::sgd(0.05).build();
        let grad =
            |w: ArrayView1<f64>, idx: &[usize]| m.loss_grad(w, data.x.select(Axis(0), idx).view(), &y.select(idx));
        let cfg = TrainConfig::new(4, 1, Sampling::EpochShuffle, 0);
        let log = train(&mut w, 64, &cfg, grad, &mut *opt, |_, _| vec![], &mut Seed(11).rng());
        out.push(("batch-1 SGD losses".into(), bits(&log.batch_losses)));
        out.push(("batch-1 SGD w".into(), bits(&w)));
        out
    });
}
