//! What a task sees of the executor running it: the hooks of the simulated GIL and the
//! worker lane. It sits below both `executor` and `workload`, so neither imports the other
//! for it.

/// Largest worker count accepted: above this a run measures the OS, not the executor.
pub const MAX_WORKERS: usize = 1024;

/// Default per-task timeout of the process executors: a stalled worker is killed after it.
pub const DEFAULT_TASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Hooks an executor offers to the code of a task. Only the simulated GIL implements them;
/// for every other executor they are a `None` check that costs nothing.
pub trait Interpreter: Sync {
    /// A check point in "interpreted" code: the holder may be asked to drop the lock here.
    fn checkpoint(&self);
    /// Releases the lock before a blocking call or a native kernel.
    fn release(&self);
    /// Takes the lock back after it.
    fn acquire(&self);
}

/// What a task sees of the executor running it.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// Worker lane, 0..W.
    pub worker: usize,
    interpreter: Option<&'a dyn Interpreter>,
}

impl<'a> Ctx<'a> {
    /// A context with no interpreter: the plain Rust world.
    pub fn plain(worker: usize) -> Self {
        Ctx {
            worker,
            interpreter: None,
        }
    }

    /// A context whose task runs "interpreted" under `interpreter`.
    pub fn interpreted(worker: usize, interpreter: &'a dyn Interpreter) -> Self {
        Ctx {
            worker,
            interpreter: Some(interpreter),
        }
    }

    /// Check point for long loops in interpreted code.
    #[inline]
    pub fn checkpoint(&self) {
        if let Some(i) = self.interpreter {
            i.checkpoint();
        }
    }

    /// Runs `f` with the interpreter's lock released, as CPython does around blocking
    /// syscalls and numpy does around its native kernels. The lock is taken back even if
    /// `f` panics.
    pub fn release<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Reacquire<'b>(&'b dyn Interpreter);
        impl Drop for Reacquire<'_> {
            fn drop(&mut self) {
                self.0.acquire();
            }
        }
        match self.interpreter {
            None => f(),
            Some(i) => {
                i.release();
                let _guard = Reacquire(i);
                f()
            }
        }
    }
}
