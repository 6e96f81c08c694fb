//! Dense f64 GEMM, 1024^3: ndarray (matrixmultiply, threading on) vs faer (2 threads).
//! Prints GFLOP/s (2 n^3 flops per product) and the fraction of this machine's peak.
//! `cargo bench -p common --bench gemm`
use std::hint::black_box;
use std::time::Instant;

use common::linalg::dense::{from_faer, to_faer};
use common::rng::{Seed, gaussian_mat};
use criterion::{Criterion, Throughput};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

const N: usize = 1024;

/// Peak for 2 Zen 3 cores with AVX2 FMA: 2.45 GHz x 16 FLOP/cycle x 2 cores.
const PEAK_GFLOPS: f64 = 78.4;

fn gflops(mut f: impl FnMut(), reps: usize) -> f64 {
    f(); // warm-up
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    let s = t.elapsed().as_secs_f64() / reps as f64;
    2.0 * (N as f64).powi(3) / s / 1e9
}

fn main() {
    let a = gaussian_mat(&mut Seed(1).rng(), N, N, 1.0);
    let b = gaussian_mat(&mut Seed(2).rng(), N, N, 1.0);
    let (fa, fb) = (to_faer(a.view()), to_faer(b.view()));
    let mut fc = Mat::<f64>::zeros(N, N);

    // The two agree.
    matmul(&mut fc, Accum::Replace, &fa, &fb, 1.0, Par::rayon(2));
    let diff = (&from_faer(fc.as_ref()) - &a.dot(&b)).iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(diff < 1e-9, "faer and ndarray disagree by {diff}");

    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let mut g = c.benchmark_group("gemm_1024");
    g.throughput(Throughput::Elements(2 * (N as u64).pow(3)));
    g.bench_function("ndarray", |bch| bch.iter(|| black_box(a.dot(&b))));
    g.bench_function("faer_2threads", |bch| bch.iter(|| matmul(&mut fc, Accum::Replace, &fa, &fb, 1.0, Par::rayon(2))));
    g.finish();

    let nd = gflops(|| drop(black_box(a.dot(&b))), 5);
    let fr = gflops(|| matmul(&mut fc, Accum::Replace, &fa, &fb, 1.0, Par::rayon(2)), 5);
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("GEMM {N}^3 f64 on {threads} hardware threads (peak ~{PEAK_GFLOPS} GFLOP/s for 2 Zen 3 cores):");
    println!("  ndarray (matrixmultiply, threading): {nd:6.1} GFLOP/s = {:4.0}% of peak", 100.0 * nd / PEAK_GFLOPS);
    println!("  faer (Par::rayon(2)):                {fr:6.1} GFLOP/s = {:4.0}% of peak", 100.0 * fr / PEAK_GFLOPS);
    println!(
        "  faster: {} by {:.0}%",
        if fr > nd { "faer" } else { "ndarray" },
        100.0 * (fr.max(nd) / fr.min(nd) - 1.0)
    );
}
