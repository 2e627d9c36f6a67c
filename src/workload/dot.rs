//! `dot`: dense f64 matrix multiply with ndarray (backed by matrixmultiply), the seed's
//! `np.dot(a, b)`. `inner_threads` runs the kernel itself on K threads, as a multithreaded
//! BLAS does, so the seed's "numpy gains nothing from threads" can be reproduced.
//!
//! The K-thread kernel splits the rows of A and C into K blocks, one per thread, each block a
//! single-threaded matrixmultiply call. Each call starts its own K-1 helper threads (scoped,
//! about 15 us each, next to milliseconds of kernel), the way each caller of an OpenMP BLAS
//! gets its own team: W outer workers x K inner threads really run W x K threads, so
//! oversubscription shows as a slowdown, and K = 1 starts no thread at all.
//!
//! Measured here (n = 1000, 2 vCPUs, indicative): one thread reaches about 37-39 GFLOP/s, and
//! these row blocks at K = 2 up to 75 GFLOP/s (1.9x), ahead of the same blocks on a shared
//! rayon pool (73) and of matrixmultiply's own `threading` feature (68). That feature also
//! reads its thread count once per process from `MATMUL_NUM_THREADS`, so K could not vary
//! per workload, and it switches the default kernel to all cores.

use super::{inputs_by_index, Params, Rng, Workload, WorkloadInfo};
use crate::error::{Result, TaskError, UsageError};
use crate::measure::{checksum_bytes, TaskInput, TaskOutput};
use crate::task::{Ctx, MAX_WORKERS};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use std::borrow::Cow;
use std::sync::Arc;

/// Registry entry.
pub const INFO: WorkloadInfo = WorkloadInfo {
    name: "dot",
    about: "dense f64 matrix product of two size x size matrices (seed: numpy 3000^2)",
    hidden: false,
    defaults,
    quick,
    open,
    // Each task holds its product beside its two matrices, and its kernel runs K-1 more
    // threads.
    demand: |p| {
        check(p)?;
        Ok(crate::workload::Demand {
            threads_per_task: (p.inner_threads as u64).saturating_sub(1),
            input_bytes: input_bytes(p),
            bytes_per_task: 8 * p.size.saturating_mul(p.size),
            ..Default::default()
        })
    },
};

/// Bytes the batch's inputs hold: two size x size f64 matrices per task.
fn input_bytes(p: &Params) -> u64 {
    16u64
        .saturating_mul(p.size.saturating_mul(p.size))
        .saturating_mul(p.tasks as u64)
}

fn defaults() -> Params {
    Params {
        tasks: 4,
        size: 1000,
        ..Params::default()
    }
}

/// The bounds on the parameters, checked before anything is opened or counted.
fn check(params: &Params) -> Result<(), UsageError> {
    let n = params.size;
    if n == 0 || n > 8_000 {
        return Err(UsageError::new(format!(
            "dot matrix dimension {n} must be 1..=8000"
        )));
    }
    let input_bytes = input_bytes(params);
    if input_bytes > 8 << 30 {
        return Err(UsageError::new(format!(
            "dot inputs of {} x {n}^2 matrices need {input_bytes} bytes; the limit is 8 GiB",
            params.tasks
        )));
    }
    let inner = params.inner_threads;
    if inner == 0 || inner > MAX_WORKERS {
        return Err(UsageError::new(format!(
            "dot inner threads {inner} must be 1..={MAX_WORKERS}"
        )));
    }
    kernel_name()?;
    Ok(())
}

fn open(params: Params) -> Result<Arc<dyn Workload>> {
    check(&params)?;
    let n = params.size as usize;
    let inner = params.inner_threads;
    let slowdown = super::slowdown(INFO.name)?;
    Ok(Arc::new(Dot {
        params,
        n,
        inner,
        slowdown,
    }))
}

/// The dot workload.
#[derive(Debug)]
pub struct Dot {
    params: Params,
    n: usize,
    /// Threads inside each matrix product.
    inner: usize,
    /// Extra work factor from `PARBENCH_SLOWDOWN` (1 = none).
    slowdown: f64,
}

/// Views bytes as f64s without a copy when they are aligned (the allocator's usual case).
fn as_f64s(bytes: &[u8]) -> Cow<'_, [f64]> {
    // SAFETY: every bit pattern is a valid f64; align_to only yields a correctly aligned middle.
    let (head, mid, tail) = unsafe { bytes.align_to::<f64>() };
    if head.is_empty() && tail.is_empty() {
        Cow::Borrowed(mid)
    } else {
        Cow::Owned(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                .collect(),
        )
    }
}

fn f64s_to_bytes(values: &[f64]) -> Vec<u8> {
    // SAFETY: u8 has no alignment requirement and f64 has no padding.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
    .to_vec()
}

/// C = A B, single-threaded kernel: the BLAS named by [`BLAS_ENV`] when one is loaded and
/// the three matrices are row-major with unit column stride, matrixmultiply otherwise.
pub fn multiply(a: ArrayView2<f64>, b: ArrayView2<f64>, c: ArrayViewMut2<f64>) {
    let mut c = c;
    if let Ok(Some(blas)) = blas::get() {
        let row_major = |s: &[isize]| s.len() == 2 && s[1] == 1 && s[0] >= 1;
        if row_major(a.strides()) && row_major(b.strides()) && row_major(c.strides()) {
            let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
            let lda = a.strides()[0] as usize;
            let ldb = b.strides()[0] as usize;
            let ldc = c.strides()[0] as usize;
            // SAFETY: the pointers and leading dimensions describe the three views exactly.
            unsafe {
                blas.dgemm(
                    (m, n, k),
                    (a.as_ptr(), lda),
                    (b.as_ptr(), ldb),
                    (c.as_mut_ptr(), ldc),
                )
            };
            return;
        }
    }
    general_mat_mul(1.0, &a, &b, 0.0, &mut c);
}

/// Names a shared library with a CBLAS `dgemm` (an OpenBLAS, say numpy's own) for dot's
/// kernel, loaded at run time: the default build needs only the toolchain.
pub const BLAS_ENV: &str = "PARBENCH_BLAS";

/// Which kernel dot runs in this process: `matrixmultiply`, or the path of the BLAS loaded
/// from [`BLAS_ENV`]. Fails when that variable names a library that cannot be used.
pub fn kernel_name() -> Result<String, UsageError> {
    match blas::get() {
        Ok(None) => Ok("matrixmultiply".into()),
        Ok(Some(b)) => Ok(format!("BLAS {} ({})", b.path, b.symbol)),
        Err(e) => Err(UsageError::new(e.clone())),
    }
}

/// The optional run-time BLAS: `dlopen` of [`BLAS_ENV`], then the first CBLAS `dgemm` it
/// exports (plain, or OpenBLAS's 64-bit-integer and numpy's `scipy_` spellings). Its own
/// threads are set to one: dot's inner threads are the parallelism, as they are for
/// matrixmultiply.
mod blas {
    use std::ffi::{c_void, CStr, CString};
    use std::sync::OnceLock;

    const ROW_MAJOR: i32 = 101;
    const NO_TRANS: i32 = 111;

    type Lp64 = unsafe extern "C" fn(
        i32,
        i32,
        i32,
        i32,
        i32,
        i32,
        f64,
        *const f64,
        i32,
        *const f64,
        i32,
        f64,
        *mut f64,
        i32,
    );
    type Ilp64 = unsafe extern "C" fn(
        i32,
        i32,
        i32,
        i64,
        i64,
        i64,
        f64,
        *const f64,
        i64,
        *const f64,
        i64,
        f64,
        *mut f64,
        i64,
    );

    enum Dgemm {
        Lp64(Lp64),
        Ilp64(Ilp64),
    }

    /// A loaded BLAS.
    pub struct Blas {
        pub path: String,
        pub symbol: &'static str,
        dgemm: Dgemm,
    }

    /// The CBLAS dgemm symbols tried, in order, and whether their integers are 64-bit.
    const DGEMMS: [(&str, bool); 4] = [
        ("cblas_dgemm", false),
        ("cblas_dgemm64_", true),
        ("scipy_cblas_dgemm64_", true),
        ("scipy_cblas_dgemm", false),
    ];
    const SET_THREADS: [(&str, bool); 4] = [
        ("openblas_set_num_threads", false),
        ("openblas_set_num_threads64_", true),
        ("scipy_openblas_set_num_threads64_", true),
        ("scipy_openblas_set_num_threads", false),
    ];

    static BLAS: OnceLock<Result<Option<Blas>, String>> = OnceLock::new();

    /// The BLAS of this process, loaded on first use; `None` when the variable is unset.
    pub fn get() -> Result<Option<&'static Blas>, &'static String> {
        BLAS.get_or_init(|| match std::env::var_os(super::BLAS_ENV) {
            None => Ok(None),
            Some(p) if p.is_empty() => Ok(None),
            Some(p) => load(&p.to_string_lossy()).map(Some),
        })
        .as_ref()
        .map(Option::as_ref)
    }

    fn dlerror() -> String {
        // SAFETY: dlerror returns a thread-local C string or null.
        let e = unsafe { libc::dlerror() };
        if e.is_null() {
            "unknown error".into()
        } else {
            // SAFETY: non-null dlerror results are NUL-terminated.
            unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
        }
    }

    fn load(path: &str) -> Result<Blas, String> {
        let fail = |why: String| format!("{}={path}: {why}", super::BLAS_ENV);
        let c_path = CString::new(path).map_err(|_| fail("a NUL in the path".into()))?;
        // SAFETY: dlopen of a path we own; the handle is kept for the process's lifetime.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(fail(dlerror()));
        }
        let sym = |name: &str| -> *mut c_void {
            let c = CString::new(name).expect("no NUL in a symbol name");
            // SAFETY: dlsym on a live handle with a valid C string.
            unsafe { libc::dlsym(handle, c.as_ptr()) }
        };
        let (symbol, ilp64, f) = DGEMMS
            .iter()
            .map(|&(name, ilp64)| (name, ilp64, sym(name)))
            .find(|(_, _, f)| !f.is_null())
            .ok_or_else(|| {
                fail("exports no cblas_dgemm (nor an OpenBLAS spelling of it)".into())
            })?;
        // SAFETY: the symbol is CBLAS dgemm, whose C signature the two types spell out.
        let dgemm = unsafe {
            if ilp64 {
                Dgemm::Ilp64(std::mem::transmute::<*mut c_void, Ilp64>(f))
            } else {
                Dgemm::Lp64(std::mem::transmute::<*mut c_void, Lp64>(f))
            }
        };
        for (name, wide) in SET_THREADS {
            let f = sym(name);
            if f.is_null() {
                continue;
            }
            // SAFETY: OpenBLAS's set_num_threads takes one int of the library's width.
            unsafe {
                if wide {
                    std::mem::transmute::<*mut c_void, unsafe extern "C" fn(i64)>(f)(1);
                } else {
                    std::mem::transmute::<*mut c_void, unsafe extern "C" fn(i32)>(f)(1);
                }
            }
            break;
        }
        Ok(Blas {
            path: path.to_string(),
            symbol,
            dgemm,
        })
    }

    impl Blas {
        /// C (m x n) = A (m x k) B (k x n), all row-major with leading dimensions given.
        ///
        /// # Safety
        /// Each pointer must address its matrix with that leading dimension.
        pub unsafe fn dgemm(
            &self,
            (m, n, k): (usize, usize, usize),
            (a, lda): (*const f64, usize),
            (b, ldb): (*const f64, usize),
            (c, ldc): (*mut f64, usize),
        ) {
            let t = NO_TRANS;
            match self.dgemm {
                Dgemm::Lp64(f) => {
                    let i = |x: usize| x as i32;
                    f(
                        ROW_MAJOR,
                        t,
                        t,
                        i(m),
                        i(n),
                        i(k),
                        1.0,
                        a,
                        i(lda),
                        b,
                        i(ldb),
                        0.0,
                        c,
                        i(ldc),
                    )
                }
                Dgemm::Ilp64(f) => {
                    let i = |x: usize| x as i64;
                    f(
                        ROW_MAJOR,
                        t,
                        t,
                        i(m),
                        i(n),
                        i(k),
                        1.0,
                        a,
                        i(lda),
                        b,
                        i(ldb),
                        0.0,
                        c,
                        i(ldc),
                    )
                }
            }
        }
    }
}

/// C = A B on `threads` threads: the rows of A and C are split into that many blocks, the
/// calling thread multiplies the first and a scoped helper thread each of the others. With
/// one thread (or one row) no thread is started. Fails only if a helper cannot be started.
pub fn multiply_row_blocks(
    threads: usize,
    a: ArrayView2<f64>,
    b: ArrayView2<f64>,
    mut c: ArrayViewMut2<f64>,
) -> std::io::Result<()> {
    let rows = a.nrows().div_ceil(threads.max(1)).max(1);
    let mut blocks = a
        .axis_chunks_iter(Axis(0), rows)
        .zip(c.axis_chunks_iter_mut(Axis(0), rows));
    let Some((a_first, c_first)) = blocks.next() else {
        return Ok(());
    };
    std::thread::scope(|s| {
        for (i, (a_block, c_block)) in blocks.enumerate() {
            std::thread::Builder::new()
                .name(format!("parbench-dot-inner-{}", i + 1))
                .spawn_scoped(s, move || multiply(a_block, b, c_block))?;
        }
        multiply(a_first, b, c_first);
        Ok(())
    })
}

impl Workload for Dot {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn inputs(&self) -> Result<Vec<TaskInput>> {
        let cells = self.n * self.n;
        Ok(inputs_by_index(self.params.tasks, |index| {
            let mut rng = Rng::new(self.params.seed, index as u64);
            let values: Vec<f64> = (0..2 * cells).map(|_| rng.next_f64()).collect();
            f64s_to_bytes(&values)
        }))
    }

    fn run(&self, input: &TaskInput, ctx: &Ctx) -> Result<TaskOutput, TaskError> {
        let n = self.n;
        if input.data.len() != 2 * n * n * 8 {
            return Err(TaskError::new(format!(
                "dot input has {} bytes, expected two {n}x{n} f64 matrices",
                input.data.len()
            )));
        }
        let values = as_f64s(&input.data);
        let (a, b) = values.split_at(n * n);
        let a = ArrayView2::from_shape((n, n), a).map_err(|e| TaskError::new(e.to_string()))?;
        let b = ArrayView2::from_shape((n, n), b).map_err(|e| TaskError::new(e.to_string()))?;
        let mut c = vec![0.0f64; n * n];
        let c_view =
            ArrayViewMut2::from_shape((n, n), &mut c).map_err(|e| TaskError::new(e.to_string()))?;
        // The native kernel runs with the simulated GIL released, as numpy's does.
        ctx.release(|| multiply_row_blocks(self.inner, a, b, c_view))
            .map_err(|e| TaskError::new(format!("cannot start an inner kernel thread: {e}")))?;
        let payload = f64s_to_bytes(&c);
        if self.slowdown > 1.0 {
            // Extra work, the same result: the product of the leading m x m blocks, with
            // m^3 = (slowdown - 1) n^3, so the extra FLOPs are the asked share. A block keeps
            // the kernel's efficiency; a few extra rows of the full product would not (packing
            // all of B costs as much as the product of a few rows). It writes into `c`, whose
            // result is already copied out: a buffer of its own changed what the allocator
            // returns to the system between tasks, and the page faults saved made a 5% slower
            // head 11% faster on dot/serial/1 (measured in a calibration here).
            let m = ((self.slowdown - 1.0).cbrt() * n as f64).round() as usize;
            let m = m.clamp(1, n);
            let s_view = ArrayViewMut2::from_shape((m, m), &mut c[..m * m])
                .map_err(|e| TaskError::new(e.to_string()))?;
            let (a_block, b_block) = (
                a.slice(ndarray::s![..m, ..m]),
                b.slice(ndarray::s![..m, ..m]),
            );
            ctx.release(|| multiply(a_block, b_block, s_view));
            std::hint::black_box(&c);
        }
        Ok(TaskOutput {
            checksum: checksum_bytes(&payload),
            units: 2 * (n as u64).pow(3),
            payload: payload.into(),
        })
    }
}

/// Quick profile: the same work divided by [`super::QUICK_DIVISOR`], so the dimension
/// shrinks by its cube root.
fn quick(p: &mut Params) {
    let scale = (super::QUICK_DIVISOR as f64).cbrt();
    p.size = ((p.size as f64 / scale).round() as u64).max(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_all(inner_threads: usize) -> Vec<TaskOutput> {
        let w = open(Params {
            tasks: 2,
            size: 33,
            inner_threads,
            ..defaults()
        })
        .unwrap();
        let inputs = w.inputs().unwrap();
        inputs
            .iter()
            .map(|i| w.run(i, &Ctx::plain(0)).unwrap())
            .collect()
    }

    #[test]
    fn product_matches_naive() {
        let n = 5;
        let a: Vec<f64> = (0..n * n).map(|x| x as f64).collect();
        let b: Vec<f64> = (0..n * n).map(|x| (x % 7) as f64 - 3.0).collect();
        let mut c = vec![0.0; n * n];
        multiply(
            ArrayView2::from_shape((n, n), &a).unwrap(),
            ArrayView2::from_shape((n, n), &b).unwrap(),
            ArrayViewMut2::from_shape((n, n), &mut c).unwrap(),
        );
        for i in 0..n {
            for j in 0..n {
                let want: f64 = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
                assert_eq!(c[i * n + j], want);
            }
        }
    }

    #[test]
    fn inner_threads_give_identical_outputs() {
        let single = run_all(1);
        assert_eq!(single, run_all(3));
        // More threads than rows: some blocks are empty and never started.
        assert_eq!(single, run_all(50));
    }

    #[test]
    fn inner_threads_out_of_range_are_refused() {
        for inner_threads in [0, MAX_WORKERS + 1] {
            let err = open(Params {
                inner_threads,
                ..defaults()
            })
            .err()
            .unwrap();
            assert!(err.to_string().contains("inner threads"), "{err}");
        }
    }
}
