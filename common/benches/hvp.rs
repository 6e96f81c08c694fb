//! One full-batch gradient vs one exact Hessian-vector product (R-operator) on an MLP
//! 64-256-256-10 with softmax cross-entropy on the 1797 shipped digits (standardised), in f64.
//! Target: HVP <= 3x gradient. `benches/compare/run.sh` times this and the same HVP in JAX (CPU,
//! jit) side by side and prints the ratio.
//!
//! Before criterion's own runs, a summary line per activation prints the median ms per gradient
//! and per HVP, their ratio, and check values (loss, |grad|, v.Hv) at a deterministic point that
//! `compare/hvp_jax.py` reproduces, so the two implementations can be compared number for number.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use common::data::{Shipped, load_shipped};
use common::models::{Activation, Loss, Mlp, Model, Targets};
use criterion::{Criterion, criterion_group};
use ndarray::{Array1, Array2};
use std::hint::black_box;
use std::time::Instant;

const SIZES: [usize; 4] = [64, 256, 256, 10];

fn data() -> (Array2<f64>, Targets) {
    let d = load_shipped(Shipped::Digits).expect("data/digits.csv.gz").standardize();
    let y = Targets::Classes(d.classes());
    (d.x, y)
}

/// Deterministic parameters that the JAX script builds identically: layer `l`'s flat entries
/// `w_k = sqrt(c / fan_in) * sin(1 + 0.7 k)` (`k` the index within the layer, weights then
/// biases; biases scaled by 0.1), `c` = 2 for ReLU and 1 for tanh; direction
/// `v_k = cos(0.3 k)` normalised.
fn point(m: &Mlp) -> (Array1<f64>, Array1<f64>) {
    let c = if m.act == Activation::Relu { 2.0 } else { 1.0 };
    let mut w = Array1::zeros(m.num_params());
    for l in 0..m.num_layers() {
        let std = (c / m.sizes[l] as f64).sqrt();
        let (mut wm, b) = m.layer_mut(w.view_mut(), l);
        for (k, x) in wm.iter_mut().enumerate() {
            *x = std * (1.0 + 0.7 * k as f64).sin();
        }
        let nw = m.sizes[l] * m.sizes[l + 1];
        if let Some(mut b) = b {
            for (k, x) in b.iter_mut().enumerate() {
                *x = 0.1 * std * (1.0 + 0.7 * (nw + k) as f64).sin();
            }
        }
    }
    let v = Array1::from_shape_fn(m.num_params(), |k| (0.3 * k as f64).cos());
    let nv = v.dot(&v).sqrt();
    (w, v / nv)
}

/// (median, min) ms of `f` and of `g` over `reps` runs, alternating the two so that background
/// load falls on both alike (the min is the robust figure on a shared machine).
fn timings(reps: usize, mut f: impl FnMut(), mut g: impl FnMut()) -> ((f64, f64), (f64, f64)) {
    f();
    g();
    let time = |h: &mut dyn FnMut()| {
        let s = Instant::now();
        h();
        s.elapsed().as_secs_f64() * 1e3
    };
    let (mut tf, mut tg): (Vec<f64>, Vec<f64>) = (0..reps).map(|_| (time(&mut f), time(&mut g))).unzip();
    tf.sort_by(f64::total_cmp);
    tg.sort_by(f64::total_cmp);
    ((tf[reps / 2], tf[0]), (tg[reps / 2], tg[0]))
}

fn summary() {
    let (x, y) = data();
    for act in [Activation::Tanh, Activation::Relu] {
        let m = Mlp::new(&SIZES, act, true, Loss::SoftmaxCe);
        let (w, v) = point(&m);
        let (l, g) = m.loss_grad(w.view(), x.view(), &y);
        let hv = m.hvp(w.view(), x.view(), &y, v.view());
        let ((tg, tg_min), (th, th_min)) = timings(
            31,
            || {
                black_box(m.loss_grad(black_box(w.view()), x.view(), &y));
            },
            || {
                black_box(m.hvp(black_box(w.view()), x.view(), &y, v.view()));
            },
        );
        let act_name = format!("{act:?}").to_lowercase();
        println!(
            "rust mlp 64-256-256-10 {act_name} softmax-ce n=1797 f64: median grad {tg:.2} ms, hvp {th:.2} ms, \
             hvp/grad {:.2}; min grad {tg_min:.2} ms, hvp {th_min:.2} ms, hvp/grad {:.2} \
             | loss {l:.12} |grad| {:.12e} v.Hv {:.12e}",
            th / tg,
            th_min / tg_min,
            g.dot(&g).sqrt(),
            v.dot(&hv)
        );
    }
}

fn benches_hvp(c: &mut Criterion) {
    let (x, y) = data();
    for act in [Activation::Tanh, Activation::Relu] {
        let m = Mlp::new(&SIZES, act, true, Loss::SoftmaxCe);
        let (w, v) = point(&m);
        let name = format!("{act:?}").to_lowercase();
        c.bench_function(&format!("mlp_digits_{name}/grad"), |b| {
            b.iter(|| m.loss_grad(black_box(w.view()), x.view(), &y))
        });
        c.bench_function(&format!("mlp_digits_{name}/hvp"), |b| {
            b.iter(|| m.hvp(black_box(w.view()), x.view(), &y, black_box(v.view())))
        });
        c.bench_function(&format!("mlp_digits_{name}/gnvp"), |b| {
            b.iter(|| m.gnvp(black_box(w.view()), x.view(), &y, black_box(v.view())))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = benches_hvp
}

fn main() {
    // `cargo test --benches` runs benches in test mode: skip the timing summary there.
    // `--summary`: the summary lines only (what `compare/run.sh` reads).
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--test" || a == "--list") {
        summary();
    }
    if args.iter().any(|a| a == "--summary") {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
