//! Shared memory for large task inputs: the process pool's way around copying them.
//!
//! The parent writes a job's large inputs once into a memfd (one segment per job, cached
//! across pools and batches of that job), each at a page-aligned offset. A `Task` frame then
//! names the segment, the parent's descriptor for it and the input's place; the worker opens
//! the same memory through `/proc/<parent>/fd/<fd>`, maps it read-only and pre-faulted
//! (`MAP_POPULATE`) once, and its tasks read their inputs from the mapping, uncopied. This is
//! what the article's dot did with fork-inherited globals, without a `fork()` of a
//! multi-threaded parent. Small inputs keep the pipe: a frame is cheaper than a page.

use crate::measure::TaskInput;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Inputs of at least this many bytes go through shared memory; smaller ones through the
/// pipe.
pub const SHARED_MIN: usize = 64 * 1024;

const PAGE: usize = 4096;

/// A job's large inputs in one memfd.
pub(super) struct Segment {
    /// Unique in this process (never 0, which means "no segment" in a frame).
    pub(super) id: u64,
    pub(super) fd: OwnedFd,
    /// Where each task's input is, `None` for one that travels in the pipe.
    places: Vec<Option<(usize, usize)>>,
    /// The job's inputs this segment holds: kept alive, so the pointer identifying the job
    /// cannot be reused by another job while it is cached.
    inputs: Arc<Vec<TaskInput>>,
}

impl Segment {
    /// `(offset, len)` of task `task`'s input, when it is in the segment.
    pub(super) fn place(&self, task: usize) -> Option<(usize, usize)> {
        self.places.get(task).copied().flatten()
    }
}

/// The last segment made: a run starts a fresh pool per block, and each finds its job's
/// segment here instead of writing the inputs again.
static LAST: Mutex<Option<Arc<Segment>>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The segment holding `inputs`' large inputs, made on first use; `None` when none is large.
pub(super) fn segment_for(inputs: &Arc<Vec<TaskInput>>) -> io::Result<Option<Arc<Segment>>> {
    if !inputs.iter().any(|i| i.data.len() >= SHARED_MIN) {
        return Ok(None);
    }
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(seg) = last.as_ref().filter(|s| Arc::ptr_eq(&s.inputs, inputs)) {
        return Ok(Some(Arc::clone(seg)));
    }
    // Drop the previous job's memory before making the next one's.
    *last = None;
    let seg = Arc::new(write_segment(inputs)?);
    *last = Some(Arc::clone(&seg));
    Ok(Some(seg))
}

fn write_segment(inputs: &Arc<Vec<TaskInput>>) -> io::Result<Segment> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let name = CString::new(format!("parbench-inputs-{id}")).expect("no NUL in the name");
    // SAFETY: memfd_create takes a valid C string and returns a fresh descriptor we own.
    let raw = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut places = Vec::with_capacity(inputs.len());
    let mut end = 0usize;
    for input in inputs.iter() {
        let len = input.data.len();
        if len < SHARED_MIN {
            places.push(None);
            continue;
        }
        places.push(Some((end, len)));
        end += len.next_multiple_of(PAGE);
    }
    let file = std::fs::File::from(fd.try_clone()?);
    file.set_len(end as u64)?;
    use std::os::unix::fs::FileExt;
    for (input, place) in inputs.iter().zip(&places) {
        if let Some((offset, _)) = place {
            file.write_all_at(&input.data, *offset as u64)?;
        }
    }
    Ok(Segment {
        id,
        fd,
        places,
        inputs: Arc::clone(inputs),
    })
}

/// A read-only shared mapping, unmapped when the last task holding its bytes is done.
pub(super) struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and lives until drop; sharing a pointer to it is sound.
unsafe impl Send for Mapping {}
// SAFETY: as above: nothing writes through it.
unsafe impl Sync for Mapping {}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable bytes until drop.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping exactly what mmap returned.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

/// Maps the parent's segment, open in the parent as descriptor `fd` (the worker's side).
pub(super) fn map_parent_segment(fd: u64) -> io::Result<Mapping> {
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() };
    let path = format!("/proc/{parent}/fd/{fd}");
    let file =
        std::fs::File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    map_file(&file)
}

fn map_file(file: &std::fs::File) -> io::Result<Mapping> {
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    if len == 0 {
        return Ok(Mapping {
            ptr: std::ptr::null_mut(),
            len: 0,
        });
    }
    // SAFETY: a fresh read-only shared mapping of a file we hold open; the kernel picks
    // the address. MAP_POPULATE faults every page in now, not in the timed tasks.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            file.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(Mapping { ptr, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(sizes: &[usize]) -> Arc<Vec<TaskInput>> {
        Arc::new(
            sizes
                .iter()
                .enumerate()
                .map(|(index, &n)| TaskInput {
                    index,
                    data: (0..n)
                        .map(|i| (i * 31 + index) as u8)
                        .collect::<Vec<u8>>()
                        .into(),
                })
                .collect(),
        )
    }

    #[test]
    fn large_inputs_land_page_aligned_and_intact_small_ones_stay_out() {
        let job = inputs(&[10, SHARED_MIN, 3 * SHARED_MIN + 5]);
        let seg = segment_for(&job).unwrap().expect("two inputs are large");
        assert_eq!(seg.place(0), None);
        let map = map_file(&std::fs::File::from(seg.fd.try_clone().unwrap())).unwrap();
        for task in [1, 2] {
            let (offset, len) = seg.place(task).unwrap();
            assert_eq!(offset % PAGE, 0);
            assert_eq!(&map.as_ref()[offset..offset + len], &job[task].data[..]);
        }
        // The same job finds the same segment; another job gets its own.
        assert_eq!(segment_for(&job).unwrap().unwrap().id, seg.id);
        let other = inputs(&[SHARED_MIN]);
        assert_ne!(segment_for(&other).unwrap().unwrap().id, seg.id);
        assert!(segment_for(&inputs(&[8, 100])).unwrap().is_none());
    }
}
