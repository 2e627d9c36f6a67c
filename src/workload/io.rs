//! `io`: each task writes a large random lowercase text to its own file in a private
//! temporary directory, then flushes it (fsync optional, off as in the seed). The text is
//! task input, so an out-of-process executor must ship it, as Python pickles it.

use super::{inputs_by_index, BoxFuture, Params, Rng, Workload, WorkloadInfo};
use crate::error::{Error, Result, TaskError, UsageError};
use crate::measure::{combine_checksums, TaskInput, TaskOutput};
use crate::task::Ctx;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Registry entry.
pub const INFO: WorkloadInfo = WorkloadInfo {
    name: "io",
    about: "write a random lowercase text per task to its own temp file (seed: 12 x 50 MB)",
    hidden: false,
    defaults,
    quick: super::quick_linear,
    open,
    // Each task holds its file open while it writes it.
    demand: |p| {
        check(p)?;
        Ok(crate::workload::Demand {
            fds_per_task: 1,
            input_bytes: input_bytes(p),
            ..Default::default()
        })
    },
};

/// Bytes the batch's inputs hold: one text of `size` bytes per task.
fn input_bytes(p: &Params) -> u64 {
    p.size.saturating_mul(p.tasks as u64)
}

fn defaults() -> Params {
    Params {
        tasks: 12,
        size: 16 << 20,
        ..Params::default()
    }
}

/// Largest file per task, and largest total of inputs held in memory.
const MAX_SIZE: u64 = 1 << 30;
const MAX_TOTAL: u64 = 8 << 30;

/// The bounds on the parameters, checked before anything is opened or counted.
fn check(params: &Params) -> Result<(), UsageError> {
    if params.size == 0 || params.size > MAX_SIZE {
        return Err(UsageError::new(format!(
            "io size {} must be 1..={MAX_SIZE} bytes per file",
            params.size
        )));
    }
    if input_bytes(params) > MAX_TOTAL {
        return Err(UsageError::new(format!(
            "io inputs of {} x {} bytes exceed {MAX_TOTAL} bytes in memory",
            params.tasks, params.size
        )));
    }
    Ok(())
}

fn open(mut params: Params) -> Result<Arc<dyn Workload>> {
    check(&params)?;
    let (dir, owned) = match &params.endpoint {
        Some(path) => (PathBuf::from(path), None),
        None => {
            // Private to this user: other users must not read or swap the payload files.
            let tmp = tempfile::Builder::new()
                .prefix("parbench-io-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .map_err(|e| {
                    Error::workload(
                        INFO.name,
                        format!("cannot create a temporary directory: {e}"),
                    )
                })?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    if !dir.is_dir() {
        return Err(Error::workload(
            INFO.name,
            format!("{} is not a directory", dir.display()),
        ));
    }
    params.endpoint = Some(dir.display().to_string());
    // Removed by the stop watcher if a signal cannot end the run normally in time.
    let registered = owned
        .as_ref()
        .map(|t| crate::interrupt::register_temp(t.path()));
    Ok(Arc::new(Io {
        params,
        dir,
        _owned: owned,
        _registered: registered,
    }))
}

/// The io workload. The directory is removed when the workload that made it is dropped.
#[derive(Debug)]
pub struct Io {
    params: Params,
    dir: PathBuf,
    _owned: Option<tempfile::TempDir>,
    // Dropped after `_owned` has removed the directory.
    _registered: Option<crate::interrupt::TempGuard>,
}

impl Io {
    /// The directory the tasks write into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// `len` random lowercase letters, eight per 64-bit draw.
pub fn lowercase_text(seed: u64, stream: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed, stream);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let r = rng.next_u64();
        for k in 0..8 {
            if out.len() == len {
                break;
            }
            // 8 bits -> 0..26 by multiply-shift: no division in the hot loop.
            out.push(b'a' + ((((r >> (k * 8)) & 0xff) * 26) >> 8) as u8);
        }
    }
    out
}

impl Workload for Io {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn inputs(&self) -> Result<Vec<TaskInput>> {
        let len = usize::try_from(self.params.size)
            .map_err(|_| Error::workload(INFO.name, "size does not fit in memory"))?;
        Ok(inputs_by_index(self.params.tasks, |index| {
            lowercase_text(self.params.seed, index as u64, len)
        }))
    }

    fn run(&self, input: &TaskInput, ctx: &Ctx) -> Result<TaskOutput, TaskError> {
        let path = self.dir.join(format!("task-{}.txt", input.index));
        let fail = |what: &str, e: std::io::Error| {
            TaskError::new(format!("{what} {}: {e}", path.display()))
        };
        // The syscalls run with the simulated GIL released, as CPython's file writes do.
        ctx.release(|| {
            let mut file = std::fs::File::create(&path).map_err(|e| fail("cannot create", e))?;
            file.write_all(&input.data)
                .map_err(|e| fail("cannot write", e))?;
            file.flush().map_err(|e| fail("cannot flush", e))?;
            if self.params.fsync {
                file.sync_all().map_err(|e| fail("cannot fsync", e))?;
            }
            Ok(())
        })?;
        let written = input.data.len() as u64;
        Ok(TaskOutput {
            checksum: combine_checksums([input.index as u64, written]),
            units: written,
            payload: Default::default(),
        })
    }

    /// Under the async executor the write runs through `tokio::task::block_in_place`: the
    /// runtime hands this worker's other tasks to a fresh thread while the syscalls block, as
    /// `spawn_blocking` would, without copying the 16 MiB payload into an owned buffer.
    fn run_async<'a>(
        &'a self,
        input: &'a TaskInput,
        worker: usize,
    ) -> BoxFuture<'a, Result<TaskOutput, TaskError>> {
        Box::pin(async move {
            let ctx = Ctx::plain(worker);
            let multi_thread = tokio::runtime::Handle::try_current()
                .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
                .unwrap_or(false);
            if multi_thread {
                tokio::task::block_in_place(|| self.run(input, &ctx))
            } else {
                self.run(input, &ctx)
            }
        })
    }

    /// Waits: on the disk (io) or the network (api).
    fn waits(&self) -> bool {
        true
    }

    fn bytes_per_task(&self) -> Option<u64> {
        Some(self.params.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_lowercase_and_deterministic() {
        let a = lowercase_text(1, 2, 1000);
        assert_eq!(a.len(), 1000);
        assert!(a.iter().all(|c| c.is_ascii_lowercase()));
        assert_eq!(a, lowercase_text(1, 2, 1000));
        assert_ne!(a, lowercase_text(1, 3, 1000));
        // All 26 letters appear in a long enough text.
        let mut seen = [false; 26];
        a.iter().for_each(|c| seen[(c - b'a') as usize] = true);
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn tempdir_removed_on_drop() {
        let w = open(Params {
            tasks: 1,
            size: 10,
            ..defaults()
        })
        .unwrap();
        let dir = PathBuf::from(w.params().endpoint.clone().unwrap());
        assert!(dir.is_dir());
        drop(w);
        assert!(!dir.exists());
    }
}
