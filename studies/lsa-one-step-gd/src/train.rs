//! Training with Adam (`common::optim`) and step decays: the one-layer LSA through its sufficient
//! statistics ([`fit_one_layer`], full batch over a fixed training set), or a directly evaluated
//! LSA with fresh prompts every step ([`fit_direct`]).
use crate::deep::DeepLsa;
use crate::moments::{OneLayer, Stats};
use crate::task::{Prompt, Task};
use common::Seed;
use common::models::{Model, Targets};
use common::optim::{Optimizer, OptimizerConfig, Schedule};
use common::rng::gaussian_vec;
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Adam settings (b1 = 0.9, b2 = 0.999, eps = 1e-8) with step decays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamCfg {
    pub steps: usize,
    pub lr: f64,
    /// Fractions of `steps` at which the learning rate is multiplied by `decay`.
    pub decay_at: Vec<f64>,
    pub decay: f64,
    /// Initial weights are `init_std · N(0, 1)`.
    pub init_std: f64,
}

impl AdamCfg {
    pub fn schedule(&self) -> Schedule {
        let ms = self.decay_at.iter().map(|f| (f * self.steps as f64).round() as usize).collect();
        Schedule::step(self.lr, ms, self.decay)
    }
    /// Range checks of every key under `key` (`adam`, `direct.adam`).
    pub fn check(&self, c: &mut common::Checks, key: &str) {
        let a = self;
        let k = |f: &str| format!("{key}.{f}");
        c.size(&k("steps"), a.steps, 1, 1_000_000)
            .positive(&k("lr"), a.lr, 10.0)
            .positive(&k("decay"), a.decay, 10.0)
            .real(&k("init_std"), a.init_std, 0.0, 10.0)
            .rule(a.decay_at.len() <= 100, format!("`{}` holds at most 100 fractions", k("decay_at")))
            .rule(
                a.decay_at.iter().all(|f| (0.0..=1.0).contains(f)),
                format!("`{}` holds fractions of the run, in [0, 1]", k("decay_at")),
            );
    }
    fn optimizer(&self) -> Box<dyn Optimizer> {
        OptimizerConfig::adam(self.schedule()).build()
    }
}

/// A trained model and its loss curve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fit {
    pub theta: Vec<f64>,
    /// (step, training loss) about 100 times over the run, and at the end.
    pub curve: Vec<(usize, f64)>,
    pub final_loss: f64,
}

fn log_every(steps: usize) -> usize {
    (steps / 100).max(1)
}

/// Full-batch Adam on the one-layer LSA's mean squared error over the training set (exact, via
/// its sufficient statistics).
pub fn fit_one_layer(stats: &Stats, layer: &OneLayer, cfg: &AdamCfg, seed: Seed) -> Fit {
    let mut theta = gaussian_vec(&mut seed.child("init").rng(), layer.num_params(), cfg.init_std);
    let mut opt = cfg.optimizer();
    let every = log_every(cfg.steps);
    let mut curve = vec![];
    for t in 0..cfg.steps {
        let (loss, g) = stats.loss_grad(layer, theta.as_slice().expect("contiguous"));
        if t % every == 0 {
            curve.push((t, loss));
        }
        opt.step(&mut theta, Array1::from(g).view());
    }
    let theta = theta.to_vec();
    let final_loss = stats.loss_grad(layer, &theta).0;
    common::counters::add_grads(cfg.steps as u64 + 1);
    curve.push((cfg.steps, final_loss));
    Fit { theta, curve, final_loss }
}

/// A directly evaluated LSA: one layer as `common::models::Lsa` (parameters `[u, B]`), or
/// `k` layers with full weight matrices ([`DeepLsa`]).
#[derive(Clone, Debug)]
pub enum Direct {
    One(common::models::Lsa),
    Deep(DeepLsa),
}

impl Direct {
    pub fn new(d: usize, n: usize, layers: usize) -> Self {
        if layers == 1 { Direct::One(common::models::Lsa::new(d, n)) } else { Direct::Deep(DeepLsa::new(d, layers)) }
    }
    pub fn num_params(&self) -> usize {
        match self {
            Direct::One(m) => m.num_params(),
            Direct::Deep(m) => m.num_params(),
        }
    }
    /// Sum over `prompts` of the squared error, and its gradient.
    pub fn sq_err_grad(&self, theta: &[f64], prompts: &[Prompt]) -> (f64, Vec<f64>) {
        match self {
            Direct::One(m) => {
                let (x, y) = pack(m, prompts);
                // The workspace's MSE is 0.5·mean; rescale to the sum of squared errors.
                let (l, g) = m.loss_grad(ndarray::ArrayView1::from(theta), x.view(), &y);
                let k = 2.0 * prompts.len() as f64;
                (l * k, g.iter().map(|v| v * k).collect())
            }
            Direct::Deep(m) => {
                let mut g = vec![0.0; theta.len()];
                let l = prompts.iter().map(|p| m.sq_err_grad(theta, &m.tokens(p, false), p.yq(), &mut g)).sum();
                (l, g)
            }
        }
    }
    pub fn predict(&self, theta: &[f64], p: &Prompt) -> f64 {
        match self {
            Direct::One(m) => {
                let (x, _) = pack(m, std::slice::from_ref(p));
                m.forward(ndarray::ArrayView1::from(theta), x.view())[[0, 0]]
            }
            Direct::Deep(m) => m.predict(theta, &m.tokens(p, false)),
        }
    }
}

fn pack(m: &common::models::Lsa, prompts: &[Prompt]) -> (Array2<f64>, Targets) {
    let w = m.input_width();
    let flat: Vec<f64> = prompts.iter().flat_map(|p| p.packed(m.d, m.n_ctx)).collect();
    let x = Array2::from_shape_vec((prompts.len(), w), flat).expect("packed rows");
    let y: Vec<f64> = prompts.iter().map(Prompt::yq).collect();
    (x, Targets::scalar(&y))
}

/// Prompts per parallel part of a minibatch (fixed, so that the sampled prompts and the order of
/// the gradient sum do not depend on the thread count).
const PART: usize = 64;

/// Minibatch Adam on a directly evaluated LSA, `batch` fresh prompts per step.
pub fn fit_direct(task: &Task, model: &Direct, batch: usize, cfg: &AdamCfg, seed: Seed) -> Fit {
    let mut theta = gaussian_vec(&mut seed.child("init").rng(), model.num_params(), cfg.init_std);
    let mut opt = cfg.optimizer();
    let every = log_every(cfg.steps);
    let mut curve = vec![];
    let parts = batch.div_ceil(PART);
    let mut last = f64::NAN;
    for t in 0..cfg.steps {
        let step_seed = seed.child_idx("step", t as u64);
        let th = theta.as_slice().expect("contiguous");
        let results: Vec<(f64, Vec<f64>)> = (0..parts)
            .into_par_iter()
            .map(|j| {
                let mut rng = step_seed.child_idx("part", j as u64).rng();
                let prompts: Vec<Prompt> = (0..PART.min(batch - j * PART)).map(|_| task.sample(&mut rng)).collect();
                model.sq_err_grad(th, &prompts)
            })
            .collect();
        let mut g = Array1::<f64>::zeros(theta.len());
        let mut loss = 0.0;
        for (l, gj) in &results {
            loss += l;
            g.iter_mut().zip(gj).for_each(|(a, b)| *a += b);
        }
        g /= batch as f64;
        last = loss / batch as f64;
        if t % every == 0 {
            curve.push((t, last));
        }
        opt.step(&mut theta, g.view());
    }
    common::counters::add_grads(cfg.steps as u64);
    curve.push((cfg.steps, last));
    Fit { theta: theta.to_vec(), curve, final_loss: last }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Kind;

    #[test]
    fn schedule_decays_at_the_fractions() {
        let c = AdamCfg { steps: 100, lr: 1.0, decay_at: vec![0.7, 0.9], decay: 0.1, init_std: 0.1 };
        let s = c.schedule();
        assert_eq!(s.value(69), 1.0);
        assert!((s.value(70) - 0.1).abs() < 1e-15);
        assert!((s.value(95) - 0.01).abs() < 1e-15);
    }

    #[test]
    fn one_layer_direct_gradient_equals_the_deep_model_with_one_layer() {
        let task = Task { kind: Kind::Iso, d: 3, n: 5, sigma: 0.2, eigs: vec![], width: 0 };
        let mut rng = Seed(5).rng();
        let prompts: Vec<Prompt> = (0..7).map(|_| task.sample(&mut rng)).collect();
        let one = Direct::new(3, 5, 1);
        let theta = gaussian_vec(&mut rng, one.num_params(), 0.5).to_vec();
        let (l1, g1) = one.sq_err_grad(&theta, &prompts);
        let deep = DeepLsa::new(3, 1);
        let (u, b) = theta.split_at(4);
        let w = deep.one_layer_from(u, b);
        let (l2, g2) = Direct::Deep(deep.clone()).sq_err_grad(&w, &prompts);
        assert!((l1 - l2).abs() < 1e-10 * l2);
        let (gu, gb) = deep.one_layer_parts(&g2);
        for (a, b) in g1.iter().zip(gu.iter().chain(&gb)) {
            assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()));
        }
        assert!((one.predict(&theta, &prompts[0]) - Direct::Deep(deep).predict(&w, &prompts[0])).abs() < 1e-12);
    }

    #[test]
    fn fit_direct_is_deterministic() {
        let task = Task { kind: Kind::Iso, d: 2, n: 4, sigma: 0.1, eigs: vec![], width: 0 };
        let cfg = AdamCfg { steps: 5, lr: 1e-2, decay_at: vec![], decay: 1.0, init_std: 0.1 };
        let m = Direct::new(2, 4, 2);
        let a = fit_direct(&task, &m, 100, &cfg, Seed(1));
        let b = fit_direct(&task, &m, 100, &cfg, Seed(1));
        assert_eq!(a.theta, b.theta);
    }
}
