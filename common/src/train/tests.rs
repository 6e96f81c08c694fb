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
