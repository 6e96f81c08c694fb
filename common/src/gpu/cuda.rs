//! The CUDA backend: cudarc with the driver API, NVRTC and cuBLAS loaded at run time
//! (`dynamic-loading`), so the workspace builds and runs on machines with no CUDA at all.
//!
//! **Probe.** [`Cuda::shared`] opens the GPU once per process and never panics: it checks that
//! `libcuda` exists (cudarc panics on a missing library), then runs everything else inside
//! `catch_unwind` with a silent panic hook (a stub `libcuda` or a driver older than the bindings
//! panics on the first missing symbol): driver version >= the bindings' 13.0, context on device 0,
//! NVRTC present with major 13, cuBLAS handle, both kernel modules compiled and loaded, and a
//! smoke test that runs one kernel, one reduction and one GEMM per precision against the host
//! twin (so every driver symbol the backend uses has been resolved before any real work).
//!
//! **Kernels.** `common/kernels/mlp.cu`, compiled by NVRTC for the probed architecture
//! (`compute_XY`) with `-DREAL=float` and `-DREAL=double`. PTX is cached on disk under
//! `<cache>/ptx/`, keyed by sha256 of the source, the options, the NVRTC version and the
//! architecture; a failed compile reports NVRTC's log.
use super::{Backend, GemmArgs, GpuError, GpuResult, KERNEL_NAMES, KERNELS_SRC, Real, act_code, loss_code};
use crate::models::{Activation, Loss};
use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// What the probe found, for the manifest and `gpu-check`.
#[derive(Clone, Debug)]
pub struct GpuInfo {
    /// The device's name.
    pub name: String,
    /// Compute capability `(major, minor)`, e.g. (9, 0) for `sm_90`.
    pub compute_capability: (i32, i32),
    /// CUDA version the driver supports, e.g. (13, 0).
    pub driver_cuda: (i32, i32),
    /// NVRTC version `(major, minor)`.
    pub nvrtc: (i32, i32),
    /// Total device memory in GiB (2^30 bytes).
    pub memory_gib: f64,
}

impl std::fmt::Display for GpuInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (sm_{}{}, {:.0} GiB), driver CUDA {}.{}, NVRTC {}.{}",
            self.name,
            self.compute_capability.0,
            self.compute_capability.1,
            self.memory_gib,
            self.driver_cuda.0,
            self.driver_cuda.1,
            self.nvrtc.0,
            self.nvrtc.1
        )
    }
}

/// The CUDA version of the bindings compiled in (the `cuda-13000` feature).
pub const BINDINGS_CUDA: (i32, i32) = (13, 0);

/// One precision's loaded kernels.
struct Kernels {
    _module: Arc<CudaModule>,
    f: HashMap<&'static str, CudaFunction>,
}

impl Kernels {
    fn get(&self, name: &str) -> &CudaFunction {
        self.f.get(name).unwrap_or_else(|| panic!("kernel {name} not loaded"))
    }
}

/// The opened GPU (device 0).
pub struct Cuda {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: Mutex<cudarc::cublas::CudaBlas>,
    k32: Kernels,
    k64: Kernels,
    /// What the probe found.
    pub info: GpuInfo,
}

/// The driver's error code by name (`CUDA_ERROR_NO_DEVICE`, ...). cudarc's `Display` asks the
/// driver for a description, which itself panics on a stub library; the code's name does not.
fn code(e: cudarc::driver::DriverError) -> String {
    format!("{:?}", e.0)
}

fn drv(what: &'static str) -> impl Fn(cudarc::driver::DriverError) -> GpuError {
    move |e| GpuError::Driver { what, msg: code(e) }
}

const BLOCK: u32 = 256;
const REDUCE_BLOCKS: usize = 256;

/// A grid-stride launch covering `len` elements.
fn cfg(len: usize) -> LaunchConfig {
    let blocks = len.div_ceil(BLOCK as usize).clamp(1, 8192) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}

/// Run `f` with panics caught and the panic message silenced; a panic becomes an error string.
fn guarded<R>(f: impl FnOnce() -> Result<R, String>) -> Result<R, String> {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(prev);
    match r {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("the CUDA libraries failed to load ({msg})"))
        }
    }
}

/// Where compiled PTX is cached: `$REPRO_CACHE_DIR`, else `$XDG_CACHE_HOME/repro`, else
/// `$HOME/.cache/repro`, else the system temp dir.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("REPRO_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("repro");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".cache/repro");
    }
    std::env::temp_dir().join("repro-cache")
}

/// NVRTC options for one precision on one architecture.
pub fn nvrtc_options(real: &str, cc: (i32, i32)) -> Vec<String> {
    vec![format!("--gpu-architecture=compute_{}{}", cc.0, cc.1), format!("-DREAL={real}"), "--std=c++17".into()]
}

/// The cache key of a compiled module: sha256 of source, options, NVRTC version, architecture.
pub fn ptx_key(src: &str, options: &[String], nvrtc: (i32, i32), cc: (i32, i32)) -> String {
    let mut h = Sha256::new();
    h.update(src.as_bytes());
    h.update(options.join("\u{1f}").as_bytes());
    h.update(format!("nvrtc {}.{} cc {}.{}", nvrtc.0, nvrtc.1, cc.0, cc.1).as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// NVRTC's version, e.g. (13, 0). Call only after checking that the library is present.
fn nvrtc_version() -> Result<(i32, i32), String> {
    let (mut maj, mut min) = (0i32, 0i32);
    // SAFETY: plain out-parameter call.
    let rc = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut maj, &mut min) };
    if rc != cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(format!("nvrtcVersion failed: {rc:?}"));
    }
    Ok((maj, min))
}

/// Compile the kernels for one precision with NVRTC (no cache).
fn compile(real: &str, cc: (i32, i32)) -> GpuResult<cudarc::nvrtc::Ptx> {
    let name = format!("common/kernels/mlp.cu (REAL={real}, compute_{}{})", cc.0, cc.1);
    let opts = cudarc::nvrtc::CompileOptions {
        options: nvrtc_options(real, cc),
        name: Some("mlp.cu".into()),
        ..Default::default()
    };
    cudarc::nvrtc::compile_ptx_with_opts(KERNELS_SRC, opts).map_err(|e| match e {
        cudarc::nvrtc::CompileError::CompileError { log, .. } => {
            GpuError::Compile { name, log: log.to_string_lossy().into() }
        }
        other => GpuError::Compile { name, log: format!("{other:?}") },
    })
}

/// Compile the kernels with NVRTC for `cc` without a GPU or a driver (NVRTC needs neither):
/// the PTX, or why not. Lets machines with NVRTC but no GPU (CI) check the real compile.
pub fn compile_kernels_only(real: &str, cc: (i32, i32)) -> Result<(String, (i32, i32)), String> {
    // SAFETY: dlopen probe only.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err("NVRTC (libnvrtc.so) not found".into());
    }
    guarded(|| {
        let version = nvrtc_version()?;
        let ptx = compile(real, cc).map_err(|e| e.to_string())?;
        Ok((ptx.to_src(), version))
    })
}

/// Compile (or load from the disk cache) the kernels for one precision.
fn compile_cached(real: &str, cc: (i32, i32), nvrtc: (i32, i32)) -> GpuResult<cudarc::nvrtc::Ptx> {
    let key = ptx_key(KERNELS_SRC, &nvrtc_options(real, cc), nvrtc, cc);
    let dir = cache_dir().join("ptx");
    let path = dir.join(format!("mlp-{real}-{}.ptx", &key[..16]));
    if let Ok(src) = std::fs::read_to_string(&path) {
        return Ok(cudarc::nvrtc::Ptx::from_src(src));
    }
    let ptx = compile(real, cc)?;
    // Cache atomically; a failure to cache is not an error.
    if std::fs::create_dir_all(&dir).is_ok() {
        let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), &key[..16]));
        if std::fs::write(&tmp, ptx.to_src()).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(ptx)
}

static SHARED: OnceLock<Result<Arc<Cuda>, String>> = OnceLock::new();

impl Cuda {
    /// The process-wide GPU, probed on first use; `Err` says why none can be used.
    pub fn shared() -> Result<Arc<Cuda>, String> {
        Self::probed().clone()
    }

    /// [`Cuda::shared`] as a `'static` borrow (the GPU lives for the whole process).
    pub fn global() -> Result<&'static Cuda, String> {
        Self::probed().as_ref().map(|g| &**g).map_err(Clone::clone)
    }

    fn probed() -> &'static Result<Arc<Cuda>, String> {
        SHARED.get_or_init(|| Cuda::open().map(Arc::new))
    }

    fn open() -> Result<Cuda, String> {
        if std::env::var_os("REPRO_NO_CUDA").is_some() {
            return Err("REPRO_NO_CUDA is set".into());
        }
        // SAFETY: only tries to dlopen the library by its usual names.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err("no NVIDIA driver library (libcuda.so) on this machine".into());
        }
        guarded(|| {
            let mut v = 0i32;
            // SAFETY: plain out-parameter call.
            unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut v) }
                .result()
                .map_err(|e| format!("cuDriverGetVersion failed: {}", code(e)))?;
            let driver_cuda = (v / 1000, (v % 1000) / 10);
            if driver_cuda < BINDINGS_CUDA {
                return Err(format!(
                    "the driver supports CUDA {}.{}, older than this build's bindings ({}.{})",
                    driver_cuda.0, driver_cuda.1, BINDINGS_CUDA.0, BINDINGS_CUDA.1
                ));
            }
            let count = CudaContext::device_count().map_err(|e| format!("the driver reports {}", code(e)))?;
            if count < 1 {
                return Err("the driver sees no CUDA device".into());
            }
            let ctx = CudaContext::new(0).map_err(|e| format!("cannot create a context on device 0: {}", code(e)))?;
            let name = ctx.name().map_err(code)?;
            let cc = ctx.compute_capability().map_err(code)?;
            let (_, total) = cudarc::driver::result::mem_get_info().map_err(code)?;
            // SAFETY: dlopen probe only.
            if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                return Err("NVRTC (libnvrtc.so) not found: the kernels cannot be compiled".into());
            }
            let (maj, min) = nvrtc_version()?;
            if maj != BINDINGS_CUDA.0 {
                return Err(format!("NVRTC {maj}.{min} does not match this build's CUDA {} bindings", BINDINGS_CUDA.0));
            }
            // SAFETY: dlopen probe only.
            if !unsafe { cudarc::cublas::sys::is_culib_present() } {
                return Err("cuBLAS (libcublas.so) not found".into());
            }
            let stream = ctx.default_stream();
            // One stream only: cudarc's per-buffer events are not needed.
            // SAFETY: every operation of this backend is ordered on `stream`.
            unsafe { ctx.disable_event_tracking() };
            let blas = cudarc::cublas::CudaBlas::new(stream.clone()).map_err(|e| format!("cuBLAS handle: {e}"))?;
            let load = |real: &str| -> Result<Kernels, String> {
                let ptx = compile_cached(real, cc, (maj, min)).map_err(|e| e.to_string())?;
                let module = ctx.load_module(ptx).map_err(|e| format!("loading the {real} kernels: {}", code(e)))?;
                let mut f = HashMap::new();
                for name in KERNEL_NAMES {
                    f.insert(name, module.load_function(name).map_err(|e| format!("kernel {name}: {}", code(e)))?);
                }
                Ok(Kernels { _module: module, f })
            };
            let k32 = load("float")?;
            let k64 = load("double")?;
            let info = GpuInfo {
                name,
                compute_capability: cc,
                driver_cuda,
                nvrtc: (maj, min),
                memory_gib: total as f64 / (1u64 << 30) as f64,
            };
            let gpu = Cuda { ctx, stream, blas: Mutex::new(blas), k32, k64, info };
            gpu.smoke_test::<f32>().map_err(|e| format!("smoke test (f32) failed: {e}"))?;
            gpu.smoke_test::<f64>().map_err(|e| format!("smoke test (f64) failed: {e}"))?;
            Ok(gpu)
        })
    }

    /// One elementwise kernel, one reduction and one GEMM against the host twin.
    fn smoke_test<T: Real>(&self) -> Result<(), String> {
        use super::host::Host;
        let a: Vec<T> = (0..6).map(|i| T::from_f64(i as f64 - 2.5)).collect();
        let b: Vec<T> = (0..6).map(|i| T::from_f64(0.5 * i as f64 + 1.0)).collect();
        let g = GemmArgs {
            ta: false,
            tb: true,
            m: 2,
            n: 2,
            k: 3,
            alpha: T::from_f64(1.0),
            aoff: 0,
            lda: 2,
            boff: 0,
            ldb: 2,
            beta: T::default(),
            coff: 0,
            ldc: 2,
        };
        let (mut ch, mut cd) = (vec![T::default(); 4], self.zeros::<T>(4).map_err(|e| e.to_string())?);
        Host.gemm(&g, &a, &b, &mut ch).map_err(|e| e.to_string())?;
        let (da, db) = (self.upload(&a).map_err(|e| e.to_string())?, self.upload(&b).map_err(|e| e.to_string())?);
        self.gemm(&g, &da, &db, &mut cd).map_err(|e| e.to_string())?;
        let mut th = vec![T::default(); 6];
        let mut td = self.zeros::<T>(6).map_err(|e| e.to_string())?;
        Host.act_fwd(Activation::Tanh, &a, &mut th).map_err(|e| e.to_string())?;
        self.act_fwd(Activation::Tanh, &da, &mut td).map_err(|e| e.to_string())?;
        let sd = self.dot(&da, 0, Some((&db, 0)), 6).map_err(|e| e.to_string())?.to_f64();
        let sh = Host.dot(&a, 0, Some((&b, 0)), 6).map_err(|e| e.to_string())?.to_f64();
        let got: Vec<f64> = self
            .download(&cd)
            .map_err(|e| e.to_string())?
            .into_iter()
            .chain(self.download(&td).map_err(|e| e.to_string())?)
            .map(T::to_f64)
            .chain([sd])
            .collect();
        let want: Vec<f64> = ch.into_iter().chain(th).map(T::to_f64).chain([sh]).collect();
        for (g, w) in got.iter().zip(&want) {
            if (g - w).abs() > 1e3 * T::PARITY_RTOL * w.abs().max(1.0) {
                return Err(format!("device {got:?} vs host {want:?}"));
            }
        }
        Ok(())
    }

    fn k<T: Real>(&self) -> &Kernels {
        if T::C_NAME == "double" { &self.k64 } else { &self.k32 }
    }

    /// The underlying stream (for timing with events or synchronizing).
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The context (device 0).
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }
}

/// Launch `name` from `$self`'s kernels for `$t` with a grid-stride config over `$len` elements.
macro_rules! launch {
    ($self:expr, $t:ty, $name:expr, $cfg:expr, $($arg:expr),+ $(,)?) => {{
        let f = $self.k::<$t>().get($name);
        let mut lb = $self.stream.launch_builder(f);
        $( lb.arg($arg); )+
        // SAFETY: each kernel's arguments match its signature in mlp.cu (same order and types:
        // device pointers, i32 codes, T scalars, usize lengths) and every pointer covers the
        // elements the kernel touches (lengths are checked by the callers' asserts).
        unsafe { lb.launch($cfg) }.map(|_| ()).map_err(drv($name))
    }};
}

impl Backend for Cuda {
    type Buf<T: Real> = CudaSlice<T>;

    fn label(&self) -> String {
        format!("cuda: {}", self.info)
    }
    fn upload<T: Real>(&self, host: &[T]) -> GpuResult<CudaSlice<T>> {
        self.stream.clone_htod(host).map_err(drv("upload"))
    }
    fn download<T: Real>(&self, buf: &CudaSlice<T>) -> GpuResult<Vec<T>> {
        self.stream.clone_dtoh(buf).map_err(drv("download"))
    }
    fn zeros<T: Real>(&self, len: usize) -> GpuResult<CudaSlice<T>> {
        self.stream.alloc_zeros::<T>(len.max(1)).map_err(drv("alloc"))
    }
    fn len<T: Real>(&self, buf: &CudaSlice<T>) -> usize {
        buf.len()
    }
    fn synchronize(&self) -> GpuResult<()> {
        self.stream.synchronize().map_err(drv("synchronize"))
    }

    fn gemm<T: Real>(
        &self,
        g: &GemmArgs<T>,
        a: &CudaSlice<T>,
        b: &CudaSlice<T>,
        c: &mut CudaSlice<T>,
    ) -> GpuResult<()> {
        g.check(a.len(), b.len(), c.len());
        if g.m == 0 || g.n == 0 {
            return Ok(());
        }
        use cudarc::cublas::sys::cublasOperation_t::{CUBLAS_OP_N, CUBLAS_OP_T};
        let op = |t: bool| if t { CUBLAS_OP_T } else { CUBLAS_OP_N };
        let i = |x: usize| i32::try_from(x).map_err(|_| GpuError::Unsupported(format!("GEMM dimension {x} > i32")));
        let cfg = cudarc::cublas::GemmConfig {
            transa: op(g.ta),
            transb: op(g.tb),
            m: i(g.m)?,
            n: i(g.n)?,
            k: i(g.k)?,
            alpha: g.alpha,
            lda: i(g.lda)?,
            ldb: i(g.ldb)?,
            beta: g.beta,
            ldc: i(g.ldc)?,
        };
        let (av, bv) = (a.slice(g.aoff..), b.slice(g.boff..));
        let mut cv = c.slice_mut(g.coff..);
        // cuBLAS runs on the calling thread's current context (rayon workers call this too).
        self.ctx.bind_to_thread().map_err(drv("bind context"))?;
        let blas = self.blas.lock().unwrap_or_else(|p| p.into_inner());
        T::cublas_gemm(&blas, cfg, &av, &bv, &mut cv).map_err(|e| GpuError::Blas(e.to_string()))
    }

    fn fill_bias<T: Real>(
        &self,
        z: &mut CudaSlice<T>,
        b: &CudaSlice<T>,
        boff: usize,
        n: usize,
        h: usize,
    ) -> GpuResult<()> {
        assert!(z.len() >= n * h, "fill_bias: output too short");
        assert!(boff + h <= b.len(), "fill_bias: bias out of bounds");
        let bv = b.slice(boff..);
        launch!(self, T, "fill_bias", cfg(n * h), z, &bv, &n, &h)
    }
    fn act_fwd<T: Real>(&self, act: Activation, z: &CudaSlice<T>, a: &mut CudaSlice<T>) -> GpuResult<()> {
        let (code, len) = (act_code(act), a.len());
        assert!(z.len() >= len);
        launch!(self, T, "act_fwd", cfg(len), &code, z, a, &len)
    }
    fn mul_d1<T: Real>(
        &self,
        act: Activation,
        d: &mut CudaSlice<T>,
        z: &CudaSlice<T>,
        a: &CudaSlice<T>,
    ) -> GpuResult<()> {
        let (code, len) = (act_code(act), d.len());
        assert!(z.len() >= len && a.len() >= len);
        launch!(self, T, "mul_d1", cfg(len), &code, d, z, a, &len)
    }
    fn r_act<T: Real>(
        &self,
        act: Activation,
        ra: &mut CudaSlice<T>,
        r: &CudaSlice<T>,
        z: &CudaSlice<T>,
        a: &CudaSlice<T>,
    ) -> GpuResult<()> {
        let (code, len) = (act_code(act), ra.len());
        assert!(r.len() >= len && z.len() >= len && a.len() >= len);
        launch!(self, T, "r_act", cfg(len), &code, ra, r, z, a, &len)
    }
    fn r_bwd<T: Real>(
        &self,
        act: Activation,
        rda: &mut CudaSlice<T>,
        da: &mut CudaSlice<T>,
        z: &CudaSlice<T>,
        a: &CudaSlice<T>,
        rz: &CudaSlice<T>,
    ) -> GpuResult<()> {
        let (code, len) = (act_code(act), rda.len());
        assert!(da.len() >= len && z.len() >= len && a.len() >= len && rz.len() >= len);
        launch!(self, T, "r_bwd", cfg(len), &code, rda, da, z, a, rz, &len)
    }
    fn col_sum<T: Real>(
        &self,
        out: &mut CudaSlice<T>,
        off: usize,
        g: &CudaSlice<T>,
        n: usize,
        h: usize,
    ) -> GpuResult<()> {
        assert!(off + h <= out.len() && g.len() >= n * h);
        let mut ov = out.slice_mut(off..);
        launch!(self, T, "col_sum", cfg(h), &mut ov, g, &n, &h)
    }
    fn loss_grad<T: Real>(
        &self,
        loss: Loss,
        f: &CudaSlice<T>,
        y: &CudaSlice<T>,
        n: usize,
        k: usize,
        g: &mut CudaSlice<T>,
        rows: &mut CudaSlice<T>,
    ) -> GpuResult<()> {
        assert!(f.len() >= n * k && y.len() >= n * k && g.len() >= n * k && rows.len() >= n);
        let code = loss_code(loss);
        launch!(self, T, "loss_grad", cfg(n), &code, f, y, &n, &k, g, rows)
    }
    fn loss_hvp<T: Real>(
        &self,
        loss: Loss,
        f: &CudaSlice<T>,
        y: &CudaSlice<T>,
        r: &CudaSlice<T>,
        n: usize,
        k: usize,
        out: &mut CudaSlice<T>,
    ) -> GpuResult<()> {
        assert!(f.len() >= n * k && y.len() >= n * k && r.len() >= n * k && out.len() >= n * k);
        let code = loss_code(loss);
        launch!(self, T, "loss_hvp", cfg(n), &code, f, y, r, &n, &k, out)
    }
    fn outer_rows<T: Real>(
        &self,
        out: &mut CudaSlice<T>,
        off: usize,
        ld: usize,
        g: &CudaSlice<T>,
        a: &CudaSlice<T>,
        n: usize,
        ho: usize,
        hi: usize,
    ) -> GpuResult<()> {
        assert!(n == 0 || off + (n - 1) * ld + ho * hi <= out.len());
        assert!(g.len() >= n * ho && a.len() >= n * hi);
        let mut ov = out.slice_mut(off..);
        launch!(self, T, "outer_rows", cfg(n * ho * hi), &mut ov, &ld, g, a, &n, &ho, &hi)
    }
    fn copy_rows<T: Real>(
        &self,
        out: &mut CudaSlice<T>,
        off: usize,
        ld: usize,
        g: &CudaSlice<T>,
        n: usize,
        h: usize,
    ) -> GpuResult<()> {
        assert!(n == 0 || off + (n - 1) * ld + h <= out.len());
        assert!(g.len() >= n * h);
        let mut ov = out.slice_mut(off..);
        launch!(self, T, "copy_rows", cfg(n * h), &mut ov, &ld, g, &n, &h)
    }
    fn axpby<T: Real>(
        &self,
        y: &mut CudaSlice<T>,
        yoff: usize,
        a: T,
        x: &CudaSlice<T>,
        xoff: usize,
        b: T,
        len: usize,
    ) -> GpuResult<()> {
        assert!(yoff + len <= y.len() && xoff + len <= x.len());
        let mut yv = y.slice_mut(yoff..);
        let xv = x.slice(xoff..);
        launch!(self, T, "axpby", cfg(len), &mut yv, &a, &xv, &b, &len)
    }
    fn mul<T: Real>(&self, out: &mut CudaSlice<T>, x: &CudaSlice<T>, y: &CudaSlice<T>, len: usize) -> GpuResult<()> {
        assert!(len <= out.len() && len <= x.len() && len <= y.len());
        launch!(self, T, "mul", cfg(len), out, x, y, &len)
    }
    fn scale<T: Real>(&self, x: &mut CudaSlice<T>, off: usize, a: T, len: usize) -> GpuResult<()> {
        assert!(off + len <= x.len());
        let mut xv = x.slice_mut(off..);
        launch!(self, T, "scale", cfg(len), &mut xv, &a, &len)
    }
    fn dot<T: Real>(
        &self,
        x: &CudaSlice<T>,
        xoff: usize,
        y: Option<(&CudaSlice<T>, usize)>,
        len: usize,
    ) -> GpuResult<T> {
        assert!(xoff + len <= x.len());
        let mut partial = self.zeros::<T>(REDUCE_BLOCKS)?;
        let mut out = self.zeros::<T>(1)?;
        let xv = x.slice(xoff..);
        let has_y = i32::from(y.is_some());
        let yv = match y {
            Some((yb, yoff)) => {
                assert!(yoff + len <= yb.len());
                yb.slice(yoff..)
            }
            None => x.slice(xoff..),
        };
        let grid = LaunchConfig { grid_dim: (REDUCE_BLOCKS as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
        launch!(self, T, "reduce_dot", grid, &xv, &yv, &has_y, &len, &mut partial)?;
        let one = LaunchConfig { grid_dim: (1, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
        let m = REDUCE_BLOCKS;
        launch!(self, T, "reduce_final", one, &partial, &m, &mut out)?;
        Ok(self.download(&out)?[0])
    }
    fn rademacher<T: Real>(&self, x: &mut CudaSlice<T>, off: usize, seed: u64, len: usize) -> GpuResult<()> {
        assert!(off + len <= x.len());
        let mut xv = x.slice_mut(off..);
        launch!(self, T, "rademacher", cfg(len), &mut xv, &seed, &len)
    }
    fn copy<T: Real>(
        &self,
        dst: &mut CudaSlice<T>,
        doff: usize,
        src: &CudaSlice<T>,
        soff: usize,
        len: usize,
    ) -> GpuResult<()> {
        assert!(doff + len <= dst.len() && soff + len <= src.len());
        let sv = src.slice(soff..soff + len);
        let mut dv = dst.slice_mut(doff..doff + len);
        self.stream.memcpy_dtod(&sv, &mut dv).map_err(drv("copy"))
    }
}
