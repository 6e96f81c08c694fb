//! GPU check: probe, parity on a real model, cuBLAS GEMM throughput and the HVP speed-up over the
//! CPU path. Built by `scripts/gpu-check.sh` (which also runs the `gpu::` parity tests); without a
//! GPU it prints why and exits 0 after the CPU-side numbers.
//!
//! `cargo run --release -p common --example gpu_check`
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use common::data::{Shipped, load_shipped};
use common::gpu::cuda::Cuda;
use common::gpu::{Backend, DevHessian, DevMlp, GemmArgs, Real, lanczos};
use common::models::{Activation, Loss, Mlp, Model, Targets};
use common::rng::{Seed, gaussian_mat, gaussian_vec};
use ndarray::{Array1, Array2};
use std::time::Instant;

/// H200 SXM peak (NVIDIA datasheet): FP64 tensor core 67 TFLOP/s (34 without), FP32 67 TFLOP/s.
const PEAK_F64_TC: f64 = 67.0;
const PEAK_F32: f64 = 67.0;

fn best_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    d / b.iter().map(|y| y * y).sum::<f64>().sqrt().max(1e-300)
}

fn gemm_tflops<T: Real>(gpu: &Cuda, n: usize) -> f64 {
    let a = gpu.upload(&vec![T::from_f64(0.5); n * n]).expect("upload");
    let b = gpu.upload(&vec![T::from_f64(0.25); n * n]).expect("upload");
    let mut c = gpu.zeros::<T>(n * n).expect("alloc");
    let g = GemmArgs {
        ta: false,
        tb: false,
        m: n,
        n,
        k: n,
        alpha: T::from_f64(1.0),
        aoff: 0,
        lda: n,
        boff: 0,
        ldb: n,
        beta: T::default(),
        coff: 0,
        ldc: n,
    };
    let ms = best_ms(5, || {
        gpu.gemm(&g, &a, &b, &mut c).expect("gemm");
        gpu.synchronize().expect("sync");
    });
    let c00 = gpu.download(&c).expect("download")[0].to_f64();
    assert!((c00 - 0.125 * n as f64).abs() < 1e-3 * n as f64, "GEMM result wrong: {c00}");
    2.0 * (n as f64).powi(3) / (ms * 1e-3) / 1e12
}

/// One model: CPU HVP time, GPU HVP time (f64 and f32) and the GPU's parity with the CPU.
fn hvp_case(gpu: Option<&Cuda>, name: &str, mlp: &Mlp, x: &Array2<f64>, y: &Targets, cpu_reps: usize) {
    let w = mlp.init(&mut Seed(1).rng());
    let v = gaussian_vec(&mut Seed(2).rng(), mlp.num_params(), 1.0);
    let mut hv_cpu = Array1::zeros(0);
    let cpu_ms = best_ms(cpu_reps, || hv_cpu = mlp.hvp(w.view(), x.view(), y, v.view()));
    let threads = rayon::current_num_threads();
    println!("hvp {name} (p = {}, n = {}): CPU path {cpu_ms:.2} ms ({threads} threads)", mlp.num_params(), x.nrows());
    let Some(gpu) = gpu else { return };
    fn run<T: Real>(
        gpu: &Cuda,
        mlp: &Mlp,
        x: &Array2<f64>,
        y: &Targets,
        w: &Array1<f64>,
        v: &Array1<f64>,
    ) -> (f64, Vec<f64>) {
        let dev = DevMlp::<_, T>::new(gpu, mlp, x.view(), y).expect("upload");
        let (dw, dv) = (dev.upload_params(w.view()).unwrap(), dev.upload_params(v.view()).unwrap());
        let mut out = gpu.zeros::<T>(dev.num_params()).unwrap();
        let ms = best_ms(10, || {
            dev.hvp(&dw, &dv, &mut out).expect("hvp");
            gpu.synchronize().unwrap();
        });
        (ms, dev.download(&out).unwrap())
    }
    let (ms64, hv64) = run::<f64>(gpu, mlp, x, y, &w, &v);
    let (ms32, hv32) = run::<f32>(gpu, mlp, x, y, &w, &v);
    let (e64, e32) = (rel(&hv64, hv_cpu.as_slice().unwrap()), rel(&hv32, hv_cpu.as_slice().unwrap()));
    println!(
        "  GPU f64 {ms64:.3} ms (x{:.0} vs CPU), rel. err {e64:.1e} [{}]; GPU f32 {ms32:.3} ms (x{:.0}), rel. err {e32:.1e} [{}]",
        cpu_ms / ms64,
        if e64 < 1e-10 { "ok" } else { "FAIL" },
        cpu_ms / ms32,
        if e32 < 1e-4 { "ok" } else { "FAIL" },
    );
}

fn main() {
    println!("== probe");
    let gpu = match Cuda::shared() {
        Ok(g) => {
            println!("GPU: {}", g.info);
            Some(g)
        }
        Err(why) => {
            println!("no usable GPU: {why}");
            println!("(CPU numbers only; nothing GPU-side is verified by this run)");
            None
        }
    };
    let gpu = gpu.as_deref();

    if let Some(gpu) = gpu {
        println!("== cuBLAS GEMM");
        for n in [4096, 8192] {
            let t64 = gemm_tflops::<f64>(gpu, n);
            let t32 = gemm_tflops::<f32>(gpu, n);
            println!(
                "GEMM {n}^3: f64 {t64:.1} TFLOP/s ({:.0}% of {PEAK_F64_TC} FP64 tensor-core peak), f32 {t32:.1} TFLOP/s ({:.0}% of {PEAK_F32})",
                100.0 * t64 / PEAK_F64_TC,
                100.0 * t32 / PEAK_F32
            );
        }
    }

    println!("== HVP, GPU vs CPU path");
    let digits = load_shipped(Shipped::Digits).expect("data/digits.csv.gz (set REPRO_DATA_DIR)").standardize();
    let y = Targets::Classes(digits.classes());
    let small = Mlp::new(&[64, 256, 256, 10], Activation::Tanh, true, Loss::SoftmaxCe);
    hvp_case(gpu, "mlp 64-256-256-10 tanh, digits", &small, &digits.x, &y, 10);
    let n = 8192;
    let xw = gaussian_mat(&mut Seed(3).rng(), n, 784, 1.0);
    let yw = Targets::Classes((0..n).map(|i| (i * 7) % 10).collect());
    let wide = Mlp::new(&[784, 2048, 2048, 10], Activation::Relu, true, Loss::SoftmaxCe);
    hvp_case(gpu, "mlp 784-2048-2048-10 relu, n = 8192 synthetic", &wide, &xw, &yw, 1);

    if let Some(gpu) = gpu {
        println!("== device Lanczos (vectors stay on the GPU)");
        let dev = DevMlp::<_, f64>::new(gpu, &wide, xw.view(), &yw).expect("upload");
        let w = wide.init(&mut Seed(1).rng());
        let op = DevHessian::new(&dev, w.view(), false).expect("upload");
        let v0 = gaussian_vec(&mut Seed(4).rng(), wide.num_params(), 1.0);
        let steps = 60;
        let t = Instant::now();
        let lz = lanczos(gpu, &op, steps, v0.view(), false).expect("lanczos");
        let s = t.elapsed().as_secs_f64();
        let top = lz.ritz().0.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "{} Lanczos steps on p = {} in {s:.2} s ({:.1} ms/step), top Ritz value {top:.6e}",
            lz.steps(),
            wide.num_params(),
            1e3 * s / lz.steps() as f64
        );
    }
    println!("== done");
}
