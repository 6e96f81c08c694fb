//! Each optimizer's first two steps against a hand computation from the paper's formulas.
use ndarray::{Array1, ArrayView1, array};

use super::*;

fn close(a: &Array1<f64>, b: &Array1<f64>) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs()))
}

/// Two updates of `t` from params `p0` with gradients `g1`, `g2` (params move in between).
fn two_steps<T: Transform>(t: &T) -> (Array1<f64>, Array1<f64>) {
    let p0 = array![0.3, -0.7, 2.0];
    let (g1, g2) = grads();
    let mut s = t.init(p0.view());
    let u1 = t.update(g1.view(), &mut s, p0.view(), 0);
    let p1 = &p0 + &u1;
    let u2 = t.update(g2.view(), &mut s, p1.view(), 1);
    (u1, u2)
}

fn grads() -> (Array1<f64>, Array1<f64>) {
    (array![1.0, -2.0, 0.5], array![0.5, 0.5, -3.0])
}

#[test]
fn sgd_momentum_nesterov() {
    let (g1, g2) = grads();
    let lr = 0.1;
    let (u1, u2) = two_steps(&sgd(lr));
    assert!(close(&u1, &(-lr * &g1)) && close(&u2, &(-lr * &g2)));
    let b = 0.9;
    let (u1, u2) = two_steps(&momentum(lr, b));
    assert!(close(&u1, &(-lr * &g1)));
    assert!(close(&u2, &(-lr * (b * &g1 + &g2))));
    let (u1, u2) = two_steps(&nesterov(lr, b));
    assert!(close(&u1, &(-lr * (&g1 + &(b * &g1)))));
    let m2 = b * &g1 + &g2;
    assert!(close(&u2, &(-lr * (&g2 + &(b * &m2)))));
}

/// Adam, Kingma & Ba (2015) Algorithm 1, written out per coordinate.
fn adam_ref(lr: f64, b1: f64, b2: f64, eps: f64, gs: &[f64]) -> Vec<f64> {
    let (mut m, mut v) = (0.0, 0.0);
    let mut out = vec![];
    for (i, g) in gs.iter().enumerate() {
        let t = (i + 1) as i32;
        m = b1 * m + (1.0 - b1) * g;
        v = b2 * v + (1.0 - b2) * g * g;
        let mh = m / (1.0 - b1.powi(t));
        let vh = v / (1.0 - b2.powi(t));
        out.push(-lr * mh / (vh.sqrt() + eps));
    }
    out
}

#[test]
fn adam_matches_the_paper() {
    let (g1, g2) = grads();
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let (u1, u2) = two_steps(&adam(lr, b1, b2, eps));
    for i in 0..3 {
        let r = adam_ref(lr, b1, b2, eps, &[g1[i], g2[i]]);
        assert!((u1[i] - r[0]).abs() < 1e-15, "{} {}", u1[i], r[0]);
        assert!((u2[i] - r[1]).abs() < 1e-15);
    }
    // bias correction makes the first step -lr * sign(g) (up to eps)
    assert!(close(&u1, &g1.mapv(|g| -lr * g / (g.abs() + eps))));
    // second step by hand for coordinate 0: m = 0.09*1 + 0.1*0.5 = 0.14, m_hat = 0.14/0.19;
    // v = 0.999*0.001 + 0.001*0.25 = 0.001249, v_hat = 0.001249/0.001999
    let mh = 0.14 / 0.19;
    let vh = 0.001249 / (1.0 - 0.999f64 * 0.999);
    assert!((u2[0] + lr * mh / (vh.sqrt() + eps)).abs() < 1e-12);
}

#[test]
fn adamw_decouples_weight_decay() {
    let (g1, g2) = grads();
    let p0 = array![0.3, -0.7, 2.0];
    let (lr, wd) = (0.01, 0.1);
    let (u1, u2) = two_steps(&adamw(lr, 0.9, 0.999, 1e-8, wd));
    let p1 = &p0 + &u1;
    for i in 0..3 {
        let r = adam_ref(lr, 0.9, 0.999, 1e-8, &[g1[i], g2[i]]);
        assert!((u1[i] - (r[0] - lr * wd * p0[i])).abs() < 1e-15);
        assert!((u2[i] - (r[1] - lr * wd * p1[i])).abs() < 1e-15);
    }
}

#[test]
fn adagrad_and_adagrad_norm() {
    let (g1, g2) = grads();
    let (lr, eps) = (0.5, 1e-10);
    let (u1, u2) = two_steps(&adagrad(lr, eps));
    assert!(close(&u1, &g1.mapv(|g| -lr * g / (g.abs() + eps))));
    let acc = g1.mapv(|x| x * x) + g2.mapv(|x| x * x);
    assert!(close(&u2, &(-lr * &g2 / &acc.mapv(|a| a.sqrt() + eps))));

    let b0 = 1.0;
    let (u1, u2) = two_steps(&adagrad_norm(lr, b0));
    let n1 = g1.dot(&g1);
    let n2 = g2.dot(&g2);
    assert!(close(&u1, &(-lr / (b0 * b0 + n1).sqrt() * &g1)));
    assert!(close(&u2, &(-lr / (b0 * b0 + n1 + n2).sqrt() * &g2)));
}

#[test]
fn diffgrad_matches_the_paper() {
    let (g1, g2) = grads();
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let (u1, u2) = two_steps(&diffgrad(lr, b1, b2, eps));
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    for i in 0..3 {
        let r = adam_ref(lr, b1, b2, eps, &[g1[i], g2[i]]);
        let xi1 = sig(g1[i].abs()); // g_0 = 0
        let xi2 = sig((g1[i] - g2[i]).abs());
        assert!((u1[i] - xi1 * r[0]).abs() < 1e-15);
        assert!((u2[i] - xi2 * r[1]).abs() < 1e-15);
    }
}

#[test]
fn normalized_gd_and_clip() {
    let (g1, g2) = grads();
    let lr = 0.2;
    let (u1, u2) = two_steps(&normalized_gd(lr));
    assert!(close(&u1, &(-lr / g1.dot(&g1).sqrt() * &g1)));
    assert!(close(&u2, &(-lr / g2.dot(&g2).sqrt() * &g2)));
    // zero gradient stays zero
    let t = normalized_gd(lr);
    let z = Array1::zeros(3);
    assert_eq!(t.update(z.view(), &mut t.init(z.view()), z.view(), 0), z);
    let c = clip_by_global_norm(1.0);
    let u = c.update(g2.view(), &mut (), z.view(), 0);
    assert!((u.dot(&u).sqrt() - 1.0).abs() < 1e-12);
}

#[test]
fn chain_composes_and_schedules_are_read_per_step() {
    let (g1, g2) = grads();
    let t = crate::chain!(scale(2.0), clip_by_global_norm(1e9), scale_by_lr(Schedule::Sequence(vec![0.1, 0.3])));
    let (u1, u2) = two_steps(&t);
    assert!(close(&u1, &(-0.2 * &g1)));
    assert!(close(&u2, &(-0.6 * &g2)));
    let t = chain(scale_by_adam(0.9, 0.999, 1e-8), scale_by_schedule(Schedule::Constant(-0.01)));
    let (a1, _) = two_steps(&t);
    let (b1, _) = two_steps(&adam(0.01, 0.9, 0.999, 1e-8));
    assert!(close(&a1, &b1));
}

#[test]
fn schedules_at_known_steps() {
    let c = Schedule::constant(0.3);
    assert_eq!(c.value(0), 0.3);
    assert_eq!(c.value(1000), 0.3);
    let s = Schedule::step(1.0, vec![10, 20], 0.1);
    assert_eq!(s.value(0), 1.0);
    assert_eq!(s.value(9), 1.0);
    assert!((s.value(10) - 0.1).abs() < 1e-15);
    assert!((s.value(25) - 0.01).abs() < 1e-15);
    let l = Schedule::linear(1.0, 0.0, 10);
    assert_eq!(l.value(0), 1.0);
    assert!((l.value(5) - 0.5).abs() < 1e-15);
    assert_eq!(l.value(10), 0.0);
    assert_eq!(l.value(50), 0.0);
    let cs = Schedule::cosine(1.0, 0.1, 100);
    assert_eq!(cs.value(0), 1.0);
    assert!((cs.value(50) - 0.55).abs() < 1e-12);
    assert!((cs.value(100) - 0.1).abs() < 1e-15);
    let w = Schedule::constant(0.5).with_warmup(10);
    assert_eq!(w.value(0), 0.0);
    assert!((w.value(5) - 0.25).abs() < 1e-15);
    assert_eq!(w.value(10), 0.5);
    assert_eq!(w.value(99), 0.5);
    let wc = Schedule::Warmup { steps: 4, init: 0.1, then: Box::new(Schedule::linear(1.0, 0.0, 10)) };
    assert!((wc.value(2) - 0.55).abs() < 1e-15);
    assert!((wc.value(9) - 0.5).abs() < 1e-15);
    let q = Schedule::Sequence(vec![3.0, 2.0, 1.0]);
    assert_eq!((q.value(0), q.value(2), q.value(7)), (3.0, 1.0, 1.0));
    assert_eq!(Schedule::Sequence(vec![]).value(3), 0.0);
    assert!((Schedule::step(1.0, vec![2], 0.5).scaled(4.0).value(3) - 2.0).abs() < 1e-15);
}

#[test]
fn config_roundtrips_and_builds() {
    let cfgs = vec![
        OptimizerConfig::sgd(0.1),
        OptimizerConfig::Momentum { lr: Schedule::cosine(0.1, 0.0, 100), beta: 0.9 },
        OptimizerConfig::Nesterov { lr: 0.1.into(), beta: 0.5 },
        OptimizerConfig::adam(1e-3),
        OptimizerConfig::AdamW { lr: Schedule::constant(1e-3).with_warmup(5), b1: 0.9, b2: 0.99, eps: 1e-8, wd: 0.01 },
        OptimizerConfig::Adagrad { lr: 0.1.into(), eps: 1e-10 },
        OptimizerConfig::AdagradNorm { lr: 0.1.into(), b0: 0.1 },
        OptimizerConfig::DiffGrad { lr: 1e-3.into(), b1: 0.9, b2: 0.999, eps: 1e-8 },
        OptimizerConfig::NormalizedGd { lr: Schedule::Sequence(vec![0.1, 0.05]) },
    ];
    for c in &cfgs {
        let s = serde_json::to_string(c).unwrap();
        let back: OptimizerConfig = serde_json::from_str(&s).unwrap();
        assert_eq!(&back, c, "{s}");
        // every optimizer decreases a convex quadratic f = |x|^2 / 2 from x0 over a few steps
        let mut opt = c.build();
        let mut x = array![1.0, -2.0, 0.5];
        for _ in 0..20 {
            let g = x.clone();
            opt.step(&mut x, g.view());
        }
        assert_eq!(opt.steps_taken(), 20);
        assert!(x.dot(&x) < 5.25, "{}: {x}", c.name());
        opt.reset();
        assert_eq!(opt.steps_taken(), 0);
    }
    let c: OptimizerConfig = serde_json::from_str(r#"{"kind":"adam","lr":{"constant":0.001}}"#).unwrap();
    assert_eq!(c, OptimizerConfig::adam(1e-3));
    let c: OptimizerConfig = serde_json::from_str(r#"{"kind":"momentum","lr":0.05}"#).unwrap();
    assert_eq!(c, OptimizerConfig::Momentum { lr: Schedule::Constant(0.05), beta: 0.9 });
    let w: Schedule =
        serde_json::from_str(r#"{"warmup":{"steps":3,"init":0,"then":{"cosine":{"init":1,"end":0,"steps":9}}}}"#)
            .unwrap();
    assert_eq!(w, Schedule::cosine(1.0, 0.0, 9).with_warmup(3));
    assert!(serde_json::from_str::<Schedule>(r#"{"cosine":{"init":1,"steps":9}}"#).is_err());
    assert_eq!(c.with_lr(0.5).lr().value(0), 0.5);
    let bad = serde_json::from_str::<OptimizerConfig>(r#"{"kind":"adamm","lr":{"constant":0.1}}"#);
    assert!(bad.is_err());
}

#[test]
fn stateful_matches_transform() {
    let (g1, g2) = grads();
    let (u1, u2) = two_steps(&adam(0.01, 0.9, 0.999, 1e-8));
    let mut o = stateful(adam(0.01, 0.9, 0.999, 1e-8));
    let mut p = array![0.3, -0.7, 2.0];
    let v1 = o.update(g1.view(), p.view());
    p += &v1;
    let v2 = o.update(g2.view(), p.view());
    assert!(close(&u1, &v1) && close(&u2, &v2));
    let _: ArrayView1<f64> = p.view();
}
