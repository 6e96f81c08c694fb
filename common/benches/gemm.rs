//! Dense f64 GEMM, 1024^3: ndarray (matrixmultiply, threading on) vs faer (2 threads).
//! Prints GFLOP/s (2 n^3 flops per product) and the fraction of this machine's peak.
//! `cargo bench -p common --bench gemm`
use std::hint::black_box;
use std::time::Instant;

use common::linalg::dense::{faer_mut, faer_ref, from_faer, gemm, to_faer};
use common::rng::{Seed, gaussian_mat};
use criterion::{Criterion, Throughput};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

const N: usize = 1024;

/// Nominal peak for 2 Zen 3 cores at base clock with AVX2 FMA: 2.45 GHz x 16 FLOP/cycle x 2 cores.
/// The cores boost above base, so the target is judged against the *measured* peak below.
const NOMINAL_GFLOPS: f64 = 78.4;

/// This machine's measured f64 peak: every hardware thread runs a loop of independent AVX2 FMAs
/// (12 accumulators of 4 lanes, enough to cover FMA latency x throughput), no memory traffic.
fn measured_peak_gflops() -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if !(std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")) {
            return None;
        }
        const ITERS: u64 = 200_000_000 / 48;
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fma_loop(iters: u64) -> f64 {
            use std::arch::x86_64::*;
            let a = _mm256_set1_pd(0.999_999_9);
            let b = _mm256_set1_pd(1e-9);
            // Twelve named accumulators (registers, not an array the compiler may spill).
            let (mut x0, mut x1, mut x2, mut x3) = (a, b, a, b);
            let (mut x4, mut x5, mut x6, mut x7) = (a, b, a, b);
            let (mut x8, mut x9, mut x10, mut x11) = (a, b, a, b);
            for _ in 0..iters {
                x0 = _mm256_fmadd_pd(x0, a, b);
                x1 = _mm256_fmadd_pd(x1, a, b);
                x2 = _mm256_fmadd_pd(x2, a, b);
                x3 = _mm256_fmadd_pd(x3, a, b);
                x4 = _mm256_fmadd_pd(x4, a, b);
                x5 = _mm256_fmadd_pd(x5, a, b);
                x6 = _mm256_fmadd_pd(x6, a, b);
                x7 = _mm256_fmadd_pd(x7, a, b);
                x8 = _mm256_fmadd_pd(x8, a, b);
                x9 = _mm256_fmadd_pd(x9, a, b);
                x10 = _mm256_fmadd_pd(x10, a, b);
                x11 = _mm256_fmadd_pd(x11, a, b);
            }
            let s = _mm256_add_pd(
                _mm256_add_pd(_mm256_add_pd(x0, x1), _mm256_add_pd(x2, x3)),
                _mm256_add_pd(
                    _mm256_add_pd(_mm256_add_pd(x4, x5), _mm256_add_pd(x6, x7)),
                    _mm256_add_pd(_mm256_add_pd(x8, x9), _mm256_add_pd(x10, x11)),
                ),
            );
            let mut out = [0.0f64; 4];
            unsafe { _mm256_storeu_pd(out.as_mut_ptr(), s) };
            out.iter().sum()
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let run = || {
            let t = Instant::now();
            let sums: Vec<f64> = std::thread::scope(|sc| {
                let hs: Vec<_> = (0..threads).map(|_| sc.spawn(|| unsafe { fma_loop(ITERS) })).collect();
                hs.into_iter().map(|h| h.join().expect("fma thread")).collect()
            });
            black_box(sums);
            // 12 accumulators x 4 lanes x 2 flops per FMA.
            (threads as u64 * ITERS * 12 * 4 * 2) as f64 / t.elapsed().as_secs_f64() / 1e9
        };
        run();
        Some((0..5).map(|_| run()).fold(0.0, f64::max))
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// Best of `reps` timed runs (the robust figure on a shared machine, as for the peak).
fn gflops(mut f: impl FnMut(), reps: usize) -> f64 {
    f(); // warm-up
    let best = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    2.0 * (N as f64).powi(3) / best / 1e9
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

    let nd = gflops(|| drop(black_box(a.dot(&b))), 10);
    let fr = gflops(|| matmul(&mut fc, Accum::Replace, &fa, &fb, 1.0, Par::rayon(2)), 10);
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    let peak = measured_peak_gflops().unwrap_or(NOMINAL_GFLOPS);
    println!(
        "GEMM {N}^3 f64 on {threads} hardware threads; measured FMA peak {peak:.1} GFLOP/s \
         (nominal at base clock {NOMINAL_GFLOPS}):"
    );
    println!("  ndarray (matrixmultiply, threading): {nd:6.1} GFLOP/s = {:4.0}% of peak", 100.0 * nd / peak);
    println!("  faer (Par::rayon(2)):                {fr:6.1} GFLOP/s = {:4.0}% of peak", 100.0 * fr / peak);
    println!(
        "  faster: {} by {:.0}%",
        if fr > nd { "faer" } else { "ndarray" },
        100.0 * (fr.max(nd) / fr.min(nd) - 1.0)
    );

    // The weight-gradient layout `A^T B` (A row-major, so A^T is column-major): faer on the
    // transposed view, vs `linalg::dense::gemm`, which copies such an operand row-major first.
    // Both write the same row-major ndarray output.
    let at = a.t();
    let mut c2 = ndarray::Array2::<f64>::zeros((N, N));
    let raw = gflops(
        || matmul(faer_mut(&mut c2.view_mut()), Accum::Replace, faer_ref(&at), faer_ref(&b.view()), 1.0, Par::rayon(2)),
        10,
    );
    let ours = gflops(|| gemm(&at, &b.view(), 0.0, &mut c2.view_mut()), 10);
    println!(
        "  A^T B (column-major left operand): faer on the view {raw:6.1} GFLOP/s, dense::gemm (copied \
         row-major) {ours:6.1} GFLOP/s = {:4.0}% of peak",
        100.0 * ours / peak
    );
}
