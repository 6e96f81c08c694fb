//! Parity of the device path with the CPU path: every check runs on the host twin always and on
//! CUDA when a GPU is probed (`test_devices!`), against `models::Mlp` / `linalg` in f64.
use super::host::Host;
use super::*;
use crate::linalg::LinOp;
use crate::models::{Activation, Loss, Mlp, Model, Problem, Targets};
use crate::rng::{Seed, gaussian_mat, gaussian_vec};
use ndarray::{Array1, Array2};

struct Case {
    mlp: Mlp,
    x: Array2<f64>,
    y: Targets,
    w: Array1<f64>,
    v: Array1<f64>,
}

fn case(sizes: &[usize], act: Activation, loss: Loss, bias: bool, n: usize, seed: u64) -> Case {
    let mlp = Mlp::new(sizes, act, bias, loss);
    let mut rng = Seed(seed).rng();
    let x = gaussian_mat(&mut rng, n, sizes[0], 1.0);
    let k = *sizes.last().unwrap();
    let y = match loss {
        Loss::Mse => Targets::Regression(gaussian_mat(&mut rng, n, k, 1.0)),
        _ => Targets::Classes((0..n).map(|i| (i * 7 + seed as usize) % k).collect()),
    };
    let w = mlp.init(&mut rng) + gaussian_vec(&mut rng, mlp.num_params(), 0.05);
    let v = gaussian_vec(&mut rng, mlp.num_params(), 1.0);
    Case { mlp, x, y, w, v }
}

/// `|a - b| / |b|` in the Euclidean norm.
fn rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    d / nb.max(1e-300)
}

/// The tolerance for a device result in precision `T` against the f64 CPU path: the issue's
/// 1e-10 (f64) and 1e-5 (f32) relative bounds, times a small factor for the depth of the
/// computation (errors add up over a handful of GEMMs and elementwise passes).
fn tol<T: Real>(depth: f64) -> f64 {
    T::PARITY_RTOL * depth
}

const ACTS: [Activation; 4] = [Activation::Relu, Activation::Tanh, Activation::Gelu, Activation::Linear];
const LOSSES: [Loss; 3] = [Loss::Mse, Loss::SoftmaxCe, Loss::StableMaxCe];

crate::test_devices!(mlp_forward_grad_hvp_gnvp_match_cpu, |be, R| {
    for (ci, (&act, &loss)) in ACTS.iter().flat_map(|a| LOSSES.iter().map(move |l| (a, l))).enumerate() {
        let bias = ci % 2 == 0;
        let c = case(&[5, 7, 6, 3], act, loss, bias, 23, 11 + ci as u64);
        let dev = DevMlp::<_, R>::new(be, &c.mlp, c.x.view(), &c.y).unwrap();
        let (w, v) = (dev.upload_params(c.w.view()).unwrap(), dev.upload_params(c.v.view()).unwrap());
        let what = format!("{act:?} {loss:?} bias={bias} {}", std::any::type_name::<R>());

        let f = dev.download(&dev.forward(&w).unwrap()).unwrap();
        let f_cpu = c.mlp.forward(c.w.view(), c.x.view());
        assert!(rel(&f, f_cpu.as_slice().unwrap()) < tol::<R>(10.0), "forward {what}");

        let (l, g) = dev.loss_grad(&w).unwrap();
        let (l_cpu, g_cpu) = c.mlp.loss_grad(c.w.view(), c.x.view(), &c.y);
        assert!((l - l_cpu).abs() <= tol::<R>(10.0) * l_cpu.abs().max(1.0), "loss {what}: {l} vs {l_cpu}");
        let g = dev.download(&g).unwrap();
        assert!(
            rel(&g, g_cpu.as_slice().unwrap()) < tol::<R>(30.0),
            "grad {what}: {}",
            rel(&g, g_cpu.as_slice().unwrap())
        );

        let mut hv = be.zeros::<R>(dev.num_params()).unwrap();
        dev.hvp(&w, &v, &mut hv).unwrap();
        let hv = dev.download(&hv).unwrap();
        let hv_cpu = c.mlp.hvp(c.w.view(), c.x.view(), &c.y, c.v.view());
        assert!(
            rel(&hv, hv_cpu.as_slice().unwrap()) < tol::<R>(100.0),
            "hvp {what}: {}",
            rel(&hv, hv_cpu.as_slice().unwrap())
        );

        let mut gv = be.zeros::<R>(dev.num_params()).unwrap();
        dev.gnvp(&w, &v, &mut gv).unwrap();
        let gv = dev.download(&gv).unwrap();
        let gv_cpu = c.mlp.gnvp(c.w.view(), c.x.view(), &c.y, c.v.view());
        assert!(
            rel(&gv, gv_cpu.as_slice().unwrap()) < tol::<R>(100.0),
            "gnvp {what}: {}",
            rel(&gv, gv_cpu.as_slice().unwrap())
        );
    }
});

crate::test_devices!(per_sample_grads_match_cpu, |be, R| {
    for (ci, &act) in ACTS.iter().enumerate() {
        let c = case(&[4, 6, 3], act, LOSSES[ci % 3], ci % 2 == 1, 9, 40 + ci as u64);
        let dev = DevMlp::<_, R>::new(be, &c.mlp, c.x.view(), &c.y).unwrap();
        let w = dev.upload_params(c.w.view()).unwrap();
        let ps = dev.download(&dev.per_sample_grads(&w).unwrap()).unwrap();
        let cpu = c.mlp.per_sample_grads(c.w.view(), c.x.view(), &c.y);
        assert!(rel(&ps, cpu.as_slice().unwrap()) < tol::<R>(30.0), "{act:?}: {}", rel(&ps, cpu.as_slice().unwrap()));
    }
});

crate::test_devices!(grad_stats_match_cpu_streaming_and_materialized, |be, R| {
    use crate::models::per_sample::{GradStats, mlp_grad_stats};
    for (ci, &act) in ACTS.iter().enumerate() {
        let bias = ci % 2 == 0;
        let c = case(&[4, 6, 5, 3], act, LOSSES[ci % 3], bias, 11, 70 + ci as u64);
        let dev = DevMlp::<_, R>::new(be, &c.mlp, c.x.view(), &c.y).unwrap();
        let w = dev.upload_params(c.w.view()).unwrap();
        let got = dev.grad_stats(&w, true).unwrap();
        let cpu = mlp_grad_stats(&c.mlp, c.w.view(), c.x.view(), &c.y, true);
        // The materialized reference: GradStats of the device's own n x p per-sample matrix.
        let ps = dev.download(&dev.per_sample_grads(&w).unwrap()).unwrap();
        let ps = Array2::from_shape_vec((c.x.nrows(), dev.num_params()), ps).unwrap();
        let rows = GradStats::from_rows(ps.view(), cpu.loss, true);
        assert_eq!(got.n, cpu.n);
        assert!((got.loss - cpu.loss).abs() < tol::<R>(30.0) * cpu.loss.abs().max(1.0), "{act:?} loss");
        for (what, reference) in [("cpu", &cpu), ("materialized", &rows)] {
            let pairs = [
                ("mean", &got.mean, &reference.mean),
                ("sq_norms", &got.sq_norms, &reference.sq_norms),
                ("inner", &got.inner, &reference.inner),
                ("coord_sumsq", got.coord_sumsq.as_ref().unwrap(), reference.coord_sumsq.as_ref().unwrap()),
            ];
            for (name, a, b) in pairs {
                let e = rel(a.as_slice().unwrap(), b.as_slice().unwrap());
                assert!(e < tol::<R>(100.0), "{act:?} {name} vs {what}: {e}");
            }
        }
        // Without coordinates nothing else changes.
        let lean = dev.grad_stats(&w, false).unwrap();
        assert!(lean.coord_sumsq.is_none());
        assert_eq!(lean.sq_norms, got.sq_norms);
        assert_eq!(lean.inner, got.inner);
    }
});

crate::test_devices!(mul_is_elementwise, |be, R| {
    let x: Vec<R> = (0..7).map(|i| R::from_f64(i as f64 - 2.5)).collect();
    let y: Vec<R> = (0..7).map(|i| R::from_f64(0.5 * i as f64 + 1.0)).collect();
    let (dx, dy) = (be.upload(&x).unwrap(), be.upload(&y).unwrap());
    let mut out = be.upload(&[R::from_f64(9.0); 8]).unwrap();
    be.mul(&mut out, &dx, &dy, 7).unwrap();
    let out = be.download(&out).unwrap();
    for i in 0..7 {
        assert_eq!(out[i].to_f64(), (x[i] * y[i]).to_f64());
    }
    assert_eq!(out[7].to_f64(), 9.0, "mul wrote past len");
});

crate::test_devices!(lanczos_matches_cpu_step_for_step, |be, R| {
    let c = case(&[4, 8, 3], Activation::Tanh, Loss::SoftmaxCe, true, 30, 5);
    let dev = DevMlp::<_, R>::new(be, &c.mlp, c.x.view(), &c.y).unwrap();
    let op = DevHessian::new(&dev, c.w.view(), false).unwrap();
    let m = 12;
    let lz = lanczos(be, &op, m, c.v.view(), true).unwrap();
    let problem = Problem::new(&c.mlp, c.x.view(), &c.y);
    let cpu = crate::linalg::lanczos(&problem.hessian_op(c.w.view()), m, c.v.view());
    assert_eq!(lz.steps(), cpu.steps());
    // The first few steps agree to the precision; later ones drift by rounding (Lanczos
    // amplifies it), so compare the top Ritz value, which converges early, at a looser bound.
    assert!(rel(&lz.alpha[..3], &cpu.alpha[..3]) < tol::<R>(1e3), "alpha {:?} vs {:?}", lz.alpha, cpu.alpha);
    let (top, top_cpu) = (*lz.ritz().0.last().unwrap(), *cpu.ritz().0.last().unwrap());
    assert!((top - top_cpu).abs() < tol::<R>(1e4) * top_cpu.abs(), "top Ritz {top} vs {top_cpu}");
    // The basis is orthonormal.
    let gram = lz.basis.t().dot(&lz.basis);
    let off = (&gram - &Array2::<f64>::eye(lz.steps())).iter().fold(0.0f64, |a, &x| a.max(x.abs()));
    assert!(off < tol::<R>(1e4), "basis not orthonormal: {off}");
});

crate::test_devices!(hutchinson_samples_match_cpu, |be, R| {
    let c = case(&[3, 5, 2], Activation::Gelu, Loss::StableMaxCe, true, 17, 8);
    let dev = DevMlp::<_, R>::new(be, &c.mlp, c.x.view(), &c.y).unwrap();
    let op = DevHessian::new(&dev, c.w.view(), false).unwrap();
    let seed = 0xC0FFEE;
    let samples = hutchinson(be, &op, 6, seed).unwrap();
    let problem = Problem::new(&c.mlp, c.x.view(), &c.y);
    let h = problem.hessian_op(c.w.view());
    for (i, s) in samples.iter().enumerate() {
        let z = Array1::from_shape_fn(h.dim(), |j| rademacher_sign(seed + i as u64, j as u64));
        let want = z.dot(&h.apply(z.view()));
        assert!((s - want).abs() < tol::<R>(100.0) * want.abs().max(1e-3), "probe {i}: {s} vs {want}");
    }
});

crate::test_devices!(reductions_and_vector_ops, |be, R| {
    let n = 100_003; // not a multiple of any launch size
    let x: Vec<R> = (0..n).map(|i| R::from_f64((0.37 * i as f64).sin())).collect();
    let y: Vec<R> = (0..n).map(|i| R::from_f64((0.11 * i as f64).cos())).collect();
    let (dx, mut dy) = (be.upload(&x).unwrap(), be.upload(&y).unwrap());
    let want: f64 = x.iter().zip(&y).map(|(a, b)| a.to_f64() * b.to_f64()).sum();
    let got = be.dot(&dx, 0, Some((&dy, 0)), n).unwrap().to_f64();
    assert!((got - want).abs() < tol::<R>(1e3) * (n as f64).sqrt(), "dot {got} vs {want}");
    let s = be.dot(&dx, 5, None, n - 5).unwrap().to_f64();
    let s_want: f64 = x[5..].iter().map(|a| a.to_f64()).sum();
    assert!((s - s_want).abs() < tol::<R>(1e3) * (n as f64).sqrt(), "sum {s} vs {s_want}");
    be.axpby(&mut dy, 1, R::from_f64(2.0), &dx, 0, R::from_f64(-1.0), n - 1).unwrap();
    let out = be.download(&dy).unwrap();
    assert_eq!(out[0], y[0]);
    for i in [1, 2, 500, n - 1] {
        let want = 2.0 * x[i - 1].to_f64() - y[i].to_f64();
        assert!((out[i].to_f64() - want).abs() < tol::<R>(10.0), "axpby at {i}");
    }
    let mut r = be.zeros::<R>(1000).unwrap();
    be.rademacher(&mut r, 0, 99, 1000).unwrap();
    let r = be.download(&r).unwrap();
    assert!(r.iter().enumerate().all(|(i, v)| v.to_f64() == rademacher_sign(99, i as u64)));
    let plus = r.iter().filter(|v| v.to_f64() > 0.0).count();
    assert!((400..600).contains(&plus), "Rademacher signs unbalanced: {plus}/1000");
});

crate::test_devices!(gemm_all_transposes_with_offsets, |be, R| {
    let mut rng = Seed(3).rng();
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let (m, n, k) = (5, 4, 3);
        let a = gaussian_mat(&mut rng, if ta { k } else { m }, if ta { m } else { k }, 1.0);
        let b = gaussian_mat(&mut rng, if tb { n } else { k }, if tb { k } else { n }, 1.0);
        let c0 = gaussian_mat(&mut rng, m, n, 1.0);
        // Column-major storage with padding (ld = rows + 2) after an offset of 3 elements.
        let store = |x: &Array2<f64>| {
            let ld = x.nrows() + 2;
            let mut v = vec![R::from_f64(f64::NAN); 3 + ld * x.ncols()];
            for ((i, j), &val) in x.indexed_iter() {
                v[3 + i + j * ld] = R::from_f64(val);
            }
            (v, ld)
        };
        let ((av, lda), (bv, ldb), (cv, ldc)) = (store(&a), store(&b), store(&c0));
        let g = GemmArgs {
            ta,
            tb,
            m,
            n,
            k,
            alpha: R::from_f64(0.5),
            aoff: 3,
            lda,
            boff: 3,
            ldb,
            beta: R::from_f64(2.0),
            coff: 3,
            ldc,
        };
        let (da, db, mut dc) = (be.upload(&av).unwrap(), be.upload(&bv).unwrap(), be.upload(&cv).unwrap());
        be.gemm(&g, &da, &db, &mut dc).unwrap();
        let out = be.download(&dc).unwrap();
        let opa = if ta { a.t().to_owned() } else { a.clone() };
        let opb = if tb { b.t().to_owned() } else { b.clone() };
        let want = opa.dot(&opb) * 0.5 + &c0 * 2.0;
        for ((i, j), &wv) in want.indexed_iter() {
            assert!((out[3 + i + j * ldc].to_f64() - wv).abs() < tol::<R>(100.0), "ta={ta} tb={tb} ({i},{j})");
        }
        // The padding rows are untouched.
        assert!(out[3 + m].to_f64().is_nan());
    }
});

#[test]
fn probe_without_a_gpu_is_a_clean_error() {
    // On a machine with a GPU this checks the success path instead.
    match cuda::Cuda::shared() {
        Ok(g) => assert!(!g.info.name.is_empty()),
        Err(why) => {
            assert!(!why.is_empty());
            assert!(crate::gpu::probe(crate::device::DeviceChoice::Cuda).is_err());
            let auto = crate::gpu::probe(crate::device::DeviceChoice::Auto).unwrap();
            assert_eq!(auto.device, crate::device::Device::Cpu);
            assert!(auto.note.contains(&why), "{}", auto.note);
        }
    }
}

#[test]
fn ptx_cache_key_covers_source_options_versions_and_arch() {
    let o = cuda::nvrtc_options("double", (9, 0));
    assert!(o.contains(&"--gpu-architecture=compute_90".to_string()) && o.contains(&"-DREAL=double".to_string()));
    let k = cuda::ptx_key(KERNELS_SRC, &o, (13, 0), (9, 0));
    assert_eq!(k, cuda::ptx_key(KERNELS_SRC, &o, (13, 0), (9, 0)));
    assert_ne!(k, cuda::ptx_key(&format!("{KERNELS_SRC} "), &o, (13, 0), (9, 0)));
    assert_ne!(k, cuda::ptx_key(KERNELS_SRC, &cuda::nvrtc_options("float", (9, 0)), (13, 0), (9, 0)));
    assert_ne!(k, cuda::ptx_key(KERNELS_SRC, &o, (13, 1), (9, 0)));
    assert_ne!(k, cuda::ptx_key(KERNELS_SRC, &o, (13, 0), (10, 0)));
}

#[test]
fn every_kernel_name_is_defined_in_the_source() {
    for name in KERNEL_NAMES {
        assert!(
            KERNELS_SRC.contains(&format!("extern \"C\" __global__ void {name}(")),
            "kernel {name} missing from mlp.cu"
        );
    }
}

#[test]
fn rejects_targets_of_the_wrong_shape() {
    let mlp = Mlp::new(&[2, 3, 2], Activation::Tanh, true, Loss::SoftmaxCe);
    let x = Array2::zeros((4, 2));
    assert!(DevMlp::<_, f64>::new(&Host, &mlp, x.view(), &Targets::Classes(vec![0, 1, 2, 0])).is_err());
    assert!(DevMlp::<_, f64>::new(&Host, &mlp, x.view(), &Targets::Classes(vec![0, 1])).is_err());
    assert!(DevMlp::<_, f64>::new(&Host, &mlp, Array2::zeros((4, 3)).view(), &Targets::Classes(vec![0; 4])).is_err());
}

/// The inputs of `kernels/emulate.cpp`.
fn inp<R: Real>(n: usize, salt: f64) -> Vec<R> {
    (0..n).map(|i| R::from_f64(2.0 * (1.3 + 0.7 * i as f64 + salt).sin())).collect()
}

/// What `kernels/emulate.cpp` prints, computed by the host twin.
fn twin_results<R: Real>() -> Vec<(String, Vec<f64>)> {
    let be = Host;
    let mut res: Vec<(String, Vec<f64>)> = Vec::new();
    let mut out = |name: String, v: &[R]| res.push((name, v.iter().map(|x| x.to_f64()).collect()));
    let (n, h, len) = (3usize, 4usize, 12usize);
    let mut z = inp::<R>(len, 0.0);
    let b = inp::<R>(h, 0.5);
    be.fill_bias(&mut z, &b, 0, n, h).unwrap();
    out("fill_bias".into(), &z);
    for (code, act) in ACTS.iter().map(|&a| (act_code(a), a)) {
        let zz = inp::<R>(len, 0.1 * code as f64);
        let (d, r) = (inp::<R>(len, 1.0), inp::<R>(len, 2.0));
        let mut aa = vec![R::default(); len];
        be.act_fwd(act, &zz, &mut aa).unwrap();
        out(format!("act_fwd{code}"), &aa);
        let mut d1 = d.clone();
        be.mul_d1(act, &mut d1, &zz, &aa).unwrap();
        out(format!("mul_d1{code}"), &d1);
        let mut ra = vec![R::default(); len];
        be.r_act(act, &mut ra, &r, &zz, &aa).unwrap();
        out(format!("r_act{code}"), &ra);
        let (mut rda, mut da, rz) = (r.clone(), d.clone(), inp::<R>(len, 3.0));
        be.r_bwd(act, &mut rda, &mut da, &zz, &aa, &rz).unwrap();
        out(format!("r_bwd_rda{code}"), &rda);
        out(format!("r_bwd_da{code}"), &da);
    }
    let mut cs = vec![R::default(); h + 2];
    be.col_sum(&mut cs, 2, &inp::<R>(len, 4.0), n, h).unwrap();
    out("col_sum".into(), &cs);
    for (code, loss) in LOSSES.iter().map(|&l| (loss_code(l), l)) {
        for soft in 0..2 {
            let f = inp::<R>(len, 5.0 + code as f64);
            let y: Vec<R> = (0..n * h)
                .map(|t| {
                    let (i, j) = (t / h, t % h);
                    R::from_f64(if soft == 1 {
                        0.25 + 0.1 * ((i + j) % 3) as f64
                    } else if (i + 1) % h == j {
                        1.0
                    } else {
                        0.0
                    })
                })
                .collect();
            let (mut g, mut rows, mut hv) = (vec![R::default(); len], vec![R::default(); n], vec![R::default(); len]);
            be.loss_grad(loss, &f, &y, n, h, &mut g, &mut rows).unwrap();
            out(format!("loss_grad_g{code}_{soft}"), &g);
            out(format!("loss_grad_rows{code}_{soft}"), &rows);
            be.loss_hvp(loss, &f, &y, &inp::<R>(len, 6.0), n, h, &mut hv).unwrap();
            out(format!("loss_hvp{code}_{soft}"), &hv);
        }
    }
    let (ho, hi, ld, off) = (2, 3, 9, 1);
    let (gg, aa) = (inp::<R>(n * ho, 7.0), inp::<R>(n * hi, 8.0));
    let mut o = vec![R::default(); off + n * ld];
    be.outer_rows(&mut o, off, ld, &gg, &aa, n, ho, hi).unwrap();
    out("outer_rows".into(), &o);
    let mut c = vec![R::default(); off + n * ld];
    be.copy_rows(&mut c, off, ld, &gg, n, ho).unwrap();
    out("copy_rows".into(), &c);
    let m = 1001;
    let (mut x, mut y) = (inp::<R>(m, 9.0), inp::<R>(m, 10.0));
    be.axpby(&mut y, 0, R::from_f64(2.5), &x, 0, R::from_f64(-0.5), m).unwrap();
    out("axpby".into(), &y);
    be.scale(&mut x, 0, R::from_f64(-1.5), m).unwrap();
    out("scale".into(), &x);
    let mut pr = vec![R::default(); m];
    be.mul(&mut pr, &x, &y, m).unwrap();
    out("mul".into(), &pr);
    let dot = be.dot(&x, 0, Some((&y, 0)), m).unwrap();
    out("dot".into(), &[dot]);
    let sum = be.dot(&x, 0, None, m).unwrap();
    out("sum".into(), &[sum]);
    let mut s = vec![R::default(); 64];
    be.rademacher(&mut s, 0, 12345, 64).unwrap();
    out("rademacher".into(), &s);
    res
}

/// Compile `kernels/mlp.cu` with g++ through `kernels/host_shim.h` and run every kernel body on
/// the host (one thread per launch); the results must match the Rust host twin, which the
/// parity tests above tie to the CPU models. This executes the CUDA source on machines without a
/// GPU (the launch plumbing, NVRTC and cuBLAS are exercised only where a GPU is probed).
#[test]
fn kernels_run_on_the_host_like_the_twin() {
    if std::process::Command::new("g++").arg("--version").output().is_err() {
        eprintln!("skipped: no g++ on this machine");
        return;
    }
    let kernels = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
    if !kernels.join("emulate.cpp").exists() {
        eprintln!("skipped: {} not found (binary moved off its source tree)", kernels.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (real, rtol) in [("double", 1e-13), ("float", 2e-6)] {
        let exe = dir.path().join(format!("emulate-{real}"));
        let build = std::process::Command::new("g++")
            .args(["-std=c++17", "-O1", "-Wall", "-Wno-unused-function", "-Wno-unused-variable", "-Werror"])
            .arg(format!("-DREAL={real}"))
            .arg("-I")
            .arg(&kernels)
            .arg(kernels.join("emulate.cpp"))
            .arg("-o")
            .arg(&exe)
            .output()
            .unwrap();
        assert!(build.status.success(), "g++ failed on mlp.cu ({real}):\n{}", String::from_utf8_lossy(&build.stderr));
        let run = std::process::Command::new(&exe).output().unwrap();
        assert!(run.status.success());
        let text = String::from_utf8(run.stdout).unwrap();
        let got: Vec<(String, Vec<f64>)> = text
            .lines()
            .map(|l| {
                let mut it = l.split_whitespace();
                let name = it.next().unwrap().to_string();
                (name, it.map(|v| v.parse::<f64>().unwrap()).collect())
            })
            .collect();
        let want = if real == "double" { twin_results::<f64>() } else { twin_results::<f32>() };
        assert_eq!(got.len(), want.len(), "{real}: line count");
        for ((gn, gv), (wn, wv)) in got.iter().zip(&want) {
            assert_eq!(gn, wn);
            assert_eq!(gv.len(), wv.len(), "{real} {gn}: length");
            let scale = wv.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (g, w)) in gv.iter().zip(wv).enumerate() {
                assert!((g - w).abs() <= rtol * scale, "{real} {gn}[{i}]: kernel {g} vs twin {w}");
            }
        }
    }
}

#[test]
fn curvature_op_on_each_device_matches_the_cpu_hessian() {
    let c = case(&[4, 6, 3], Activation::Tanh, Loss::SoftmaxCe, true, 20, 2);
    let want = c.mlp.hvp(c.w.view(), c.x.view(), &c.y, c.v.view());
    let want_g = c.mlp.gnvp(c.w.view(), c.x.view(), &c.y, c.v.view());
    let cpu =
        mlp_curvature(crate::device::Device::Cpu, &c.mlp, c.x.view(), &c.y, c.w.view(), Curvature::Hessian).unwrap();
    assert_eq!(cpu.apply(c.v.view()), want);
    let cpu_g = mlp_curvature(crate::device::Device::Cpu, &c.mlp, c.x.view(), &c.y, c.w.view(), Curvature::GaussNewton)
        .unwrap();
    assert_eq!(cpu_g.apply(c.v.view()), want_g);
    let ps = c.mlp.per_sample_grads(c.w.view(), c.x.view(), &c.y);
    let ps_cpu = mlp_per_sample_grads(crate::device::Device::Cpu, &c.mlp, c.x.view(), &c.y, c.w.view()).unwrap();
    assert_eq!(ps_cpu, ps);
    match mlp_per_sample_grads(crate::device::Device::Cuda, &c.mlp, c.x.view(), &c.y, c.w.view()) {
        Ok(g) => assert!(rel(g.as_slice().unwrap(), ps.as_slice().unwrap()) < 1e-10),
        Err(e) => assert!(e.to_string().contains("no usable GPU"), "{e}"),
    }
    let st = crate::models::per_sample::mlp_grad_stats(&c.mlp, c.w.view(), c.x.view(), &c.y, true);
    let st_cpu = mlp_grad_stats(crate::device::Device::Cpu, &c.mlp, c.x.view(), &c.y, c.w.view(), true).unwrap();
    assert_eq!(st_cpu, st);
    match mlp_grad_stats(crate::device::Device::Cuda, &c.mlp, c.x.view(), &c.y, c.w.view(), true) {
        Ok(g) => {
            assert!(rel(g.sq_norms.as_slice().unwrap(), st.sq_norms.as_slice().unwrap()) < 1e-10);
            assert!(rel(g.inner.as_slice().unwrap(), st.inner.as_slice().unwrap()) < 1e-10);
        }
        Err(e) => assert!(e.to_string().contains("no usable GPU"), "{e}"),
    }
    match mlp_curvature(crate::device::Device::Cuda, &c.mlp, c.x.view(), &c.y, c.w.view(), Curvature::Hessian) {
        Ok(op) => {
            let got = op.apply(c.v.view());
            assert!(rel(got.as_slice().unwrap(), want.as_slice().unwrap()) < 1e-10);
        }
        Err(e) => {
            assert!(cuda::Cuda::shared().is_err());
            assert!(e.to_string().contains("no usable GPU"), "{e}");
        }
    }
}

/// The real NVRTC compile of `kernels/mlp.cu` for sm_90 (H100/H200) in both precisions, where
/// libnvrtc is installed (it needs no GPU: CI fetches it, see `scripts/fetch-nvrtc.sh`); every
/// kernel must come out as a PTX entry.
#[test]
fn nvrtc_compiles_the_kernels_for_sm90() {
    for real in ["double", "float"] {
        match cuda::compile_kernels_only(real, (9, 0)) {
            Err(why) if why.contains("not found") => {
                eprintln!("skipped: {why}");
                return;
            }
            Err(why) => panic!("{why}"),
            Ok((ptx, version)) => {
                eprintln!("NVRTC {}.{} compiled mlp.cu ({real}): {} bytes of PTX", version.0, version.1, ptx.len());
                assert!(ptx.contains(".target sm_90"), "PTX target");
                for name in KERNEL_NAMES {
                    assert!(ptx.contains(&format!(".entry {name}(")), "{real}: no PTX entry for {name}");
                }
                // No accidental double arithmetic in the float kernels (slow on GPUs), and the
                // double kernels really are double.
                let f64_ops = ptx.lines().filter(|l| l.contains(".f64") && !l.trim_start().starts_with("//")).count();
                if real == "float" {
                    assert_eq!(f64_ops, 0, "float kernels contain {f64_ops} f64 instructions");
                } else {
                    assert!(f64_ops > 100, "double kernels: only {f64_ops} f64 instructions");
                }
            }
        }
    }
}
