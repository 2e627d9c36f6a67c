//! The dot workload's kernel alone, in GFLOP/s: what `ci/versus-numpy.sh` puts beside numpy.
//!
//! ```sh
//! cargo run --release --example dgemm -- SIZE INNER_THREADS REPEATS
//! ```
//!
//! It multiplies two SIZE x SIZE f64 matrices with `multiply_row_blocks`, the kernel every
//! dot task runs (matrixmultiply, or the BLAS named by `PARBENCH_BLAS`), once to warm up and
//! then REPEATS times, and prints one line: `kernel=... n=... threads=... gflops=...` with
//! the best repetition's GFLOP/s (2 n^3 operations over its wall time). The best, because
//! numpy's side is timed the same way and a noisy host only ever slows a repetition down.

use ndarray::Array2;
use parbench::workload::dot::{kernel_name, multiply_row_blocks};
use parbench::workload::Rng;
use std::process::ExitCode;
use std::time::Instant;

fn parse(args: &[String], i: usize, what: &str, max: usize) -> Result<usize, String> {
    let text = args
        .get(i)
        .ok_or_else(|| format!("missing {what}; usage: dgemm SIZE INNER_THREADS REPEATS"))?;
    match text.parse::<usize>() {
        Ok(v) if (1..=max).contains(&v) => Ok(v),
        _ => Err(format!("{what} '{text}' must be an integer in 1..={max}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| {
        Ok::<_, String>((
            parse(&args, 0, "SIZE", 8000)?,
            parse(&args, 1, "INNER_THREADS", 64)?,
            parse(&args, 2, "REPEATS", 1000)?,
        ))
    })();
    let (n, threads, repeats) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("dgemm: {e}");
            return ExitCode::from(2);
        }
    };
    let kernel = match kernel_name() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("dgemm: {e}");
            return ExitCode::from(2);
        }
    };
    let mut rng = Rng::new(2017, 0);
    let a = Array2::from_shape_fn((n, n), |_| rng.next_f64());
    let b = Array2::from_shape_fn((n, n), |_| rng.next_f64());
    let mut c = Array2::<f64>::zeros((n, n));
    let mut best = f64::INFINITY;
    for rep in 0..=repeats {
        let started = Instant::now();
        if let Err(e) = multiply_row_blocks(threads, a.view(), b.view(), c.view_mut()) {
            eprintln!("dgemm: cannot start an inner thread: {e}");
            return ExitCode::FAILURE;
        }
        let took = started.elapsed().as_secs_f64();
        if rep > 0 {
            best = best.min(took);
        }
    }
    std::hint::black_box(&c);
    let gflops = 2.0 * (n as f64).powi(3) / best / 1e9;
    println!("kernel={kernel:?} n={n} threads={threads} gflops={gflops:.1}");
    ExitCode::SUCCESS
}
