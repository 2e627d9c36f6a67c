//! Shared memory for large task inputs: the process pool's way around copying them.
//!
//! The parent writes a job's large inputs once into a memfd (one segment per job, cached
//! across pools and batches of that job), each at a page-aligned offset. A `Task` frame then
//! names the segment, the parent's descriptor for it and the input's place; the worker opens
//! the same memory through `/proc/<parent>/fd/<fd>`, maps it read-only and pre-faulted
//! (`MAP_POPULATE`) once, and its tasks read their inputs from the mapping, uncopied. This is
//! what the article's dot did with fork-inherited globals, without a `fork()` of a
//! multi-threaded parent. Small inputs keep the pipe: a frame is cheaper than a page.
//!
//! Large outputs take the way back: a worker writes each large payload into a memfd slot
//! of its own ([`OutSlots`]); its `Done` frame names the slot's descriptor and the length,
//! and the parent hands its own mapping of that slot on as the task's payload, uncopied
//! ([`WorkerOutputs`]). The slot stays leased until the parent drops that payload, which it
//! tells the worker in a `Release` frame ahead of the worker's next task; the worker writes
//! into a free slot, or makes one when all are leased. Copying each output out of the slot
//! cost the parent 0.5 ms of CPU in a batch of dot's quick sizes (four 1.26 MB products),
//! taken from the two cores the workers were computing on.

use crate::measure::{Bytes, TaskInput};
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
    let file = memfd(&format!("parbench-inputs-{id}"), end)?;
    use std::os::unix::fs::FileExt;
    for (input, place) in inputs.iter().zip(&places) {
        if let Some((offset, _)) = place {
            file.write_all_at(&input.data, *offset as u64)?;
        }
    }
    Ok(Segment {
        id,
        fd: OwnedFd::from(file),
        places,
        inputs: Arc::clone(inputs),
    })
}

/// A shared mapping, unmapped when dropped (the worker's inputs: when the last task
/// holding its bytes is done).
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

/// Opens descriptor `fd` of process `pid` (a memfd it shares) for reading.
fn open_other(pid: u32, fd: u64) -> io::Result<std::fs::File> {
    let path = format!("/proc/{pid}/fd/{fd}");
    std::fs::File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))
}

/// Maps the parent's segment, open in the parent as descriptor `fd` (the worker's side).
pub(super) fn map_parent_segment(fd: u64) -> io::Result<Mapping> {
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() };
    map_file(&open_other(parent as u32, fd)?, false)
}

/// A new memfd of `len` bytes.
fn memfd(name: &str, len: usize) -> io::Result<std::fs::File> {
    let name = CString::new(name).expect("no NUL in the name");
    // SAFETY: memfd_create takes a valid C string and returns a fresh descriptor we own.
    let raw = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nobody else.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) });
    file.set_len(len as u64)?;
    Ok(file)
}

/// The worker's output slots, each leased from the `Done` naming it until the parent says
/// the payload it holds is dropped (a `Release` frame).
#[derive(Default)]
pub(super) struct OutSlots {
    slots: Vec<OutSlot>,
}

struct OutSlot {
    file: std::fs::File,
    map: Mapping,
    leased: bool,
}

impl OutSlots {
    /// Writes `payload` into a free slot (grown to fit; a new one when every slot is leased),
    /// leases it and returns its descriptor.
    pub(super) fn put(&mut self, payload: &[u8]) -> io::Result<u64> {
        let free = self.slots.iter().position(|s| !s.leased);
        let i = match free {
            Some(i) if self.slots[i].map.len >= payload.len() => i,
            Some(i) => {
                // Grown: the parent maps it again when a payload no longer fits its mapping.
                let len = payload.len().next_multiple_of(PAGE);
                let slot = &mut self.slots[i];
                slot.map = Mapping {
                    ptr: std::ptr::null_mut(),
                    len: 0,
                };
                slot.file.set_len(len as u64)?;
                slot.map = map_file(&slot.file, true)?;
                i
            }
            None => {
                let len = payload.len().next_multiple_of(PAGE);
                let file = memfd(&format!("parbench-output-{}", self.slots.len()), len)?;
                let map = map_file(&file, true)?;
                self.slots.push(OutSlot {
                    file,
                    map,
                    leased: false,
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[i];
        // SAFETY: the mapping is writable, at least `payload.len()` bytes long, and only this
        // thread writes it; the parent reads it only after the Done frame naming it, and
        // until it releases the slot nothing writes it again.
        unsafe {
            std::ptr::copy_nonoverlapping(
                payload.as_ptr(),
                slot.map.ptr.cast::<u8>(),
                payload.len(),
            )
        };
        slot.leased = true;
        Ok(slot.file.as_raw_fd() as u64)
    }

    /// The parent dropped the payload in slot `fd`: it may be written again.
    pub(super) fn release(&mut self, fd: u64) {
        if let Some(slot) = self
            .slots
            .iter_mut()
            .find(|s| s.file.as_raw_fd() as u64 == fd)
        {
            slot.leased = false;
        }
    }

    /// Slots made so far (leased or free).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }
}

/// The parent's mappings of one worker's output slots, by the worker's descriptor, and the
/// slots whose payloads were dropped since the worker was last told.
#[derive(Default)]
pub(super) struct WorkerOutputs {
    maps: Vec<(u64, std::fs::File, Arc<Mapping>)>,
    released: Arc<Mutex<Vec<u64>>>,
}

/// A payload in a worker's output slot, as a task's output holds it: dropping the last
/// handle tells the worker (through [`WorkerOutputs::released`]) that it may reuse the slot.
struct Lease {
    map: Arc<Mapping>,
    len: usize,
    fd: u64,
    released: Arc<Mutex<Vec<u64>>>,
}

impl AsRef<[u8]> for Lease {
    fn as_ref(&self) -> &[u8] {
        &(*self.map).as_ref()[..self.len]
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.released
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(self.fd);
    }
}

impl WorkerOutputs {
    /// The first `len` bytes of worker `pid`'s slot `fd`, uncopied: the bytes stay in the
    /// worker's shared memory, leased until the last handle to them is dropped.
    pub(super) fn take(&mut self, pid: u32, fd: u64, len: usize) -> io::Result<Bytes> {
        let at = match self.maps.iter().position(|(f, _, _)| *f == fd) {
            Some(at) => at,
            None => {
                let file = open_other(pid, fd)?;
                let map = map_file(&file, false)?;
                self.maps.push((fd, file, Arc::new(map)));
                self.maps.len() - 1
            }
        };
        if self.maps[at].2.len < len {
            // The worker grew the slot since: map it again, whole. Payloads still held keep
            // the old mapping alive.
            let map = map_file(&self.maps[at].1, false)?;
            self.maps[at].2 = Arc::new(map);
        }
        let map = &self.maps[at].2;
        if map.len < len {
            return Err(io::Error::other(format!(
                "an output of {len} bytes in a slot of {}",
                map.len
            )));
        }
        let lease = Lease {
            map: Arc::clone(map),
            len,
            fd,
            released: Arc::clone(&self.released),
        };
        Ok(Bytes::shared(Arc::new(lease), 0..len))
    }

    /// The slots whose payloads were dropped since the last call, to tell the worker.
    pub(super) fn released(&self) -> Vec<u64> {
        std::mem::take(&mut *self.released.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn map_file(file: &std::fs::File, writable: bool) -> io::Result<Mapping> {
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    if len == 0 {
        return Ok(Mapping {
            ptr: std::ptr::null_mut(),
            len: 0,
        });
    }
    let prot = if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    // SAFETY: a fresh shared mapping of a file we hold open; the kernel picks the address.
    // MAP_POPULATE faults every page in now, not in the timed tasks.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
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
        let map = map_file(&std::fs::File::from(seg.fd.try_clone().unwrap()), false).unwrap();
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

    #[test]
    fn a_held_output_is_never_overwritten_and_a_released_slot_is_reused() {
        let mut slots = OutSlots::default();
        let mut outputs = WorkerOutputs::default();
        let pid = std::process::id();
        let small: Vec<u8> = (0..SHARED_MIN).map(|i| i as u8).collect();
        let big: Vec<u8> = (0..5 * SHARED_MIN + 3).map(|i| (i / 7) as u8).collect();
        let a = slots.put(&small).unwrap();
        let held = outputs.take(pid, a, small.len()).unwrap();
        // While the parent holds the first payload, later outputs go to other slots.
        let b = slots.put(&big).unwrap();
        assert_ne!(a, b);
        let second = outputs.take(pid, b, big.len()).unwrap();
        assert_eq!(&second[..], &big[..]);
        drop(second);
        assert_eq!(outputs.released(), vec![b]);
        slots.release(b);
        assert_eq!(slots.put(&small).unwrap(), b, "the released slot is reused");
        assert_eq!(&held[..], &small[..], "the held payload is intact");
        assert_eq!(slots.len(), 2);
        // Released and written again bigger: the slot grows and the parent maps it again.
        drop(held);
        assert_eq!(outputs.released(), vec![a]);
        assert!(outputs.released().is_empty(), "each release is told once");
        slots.release(a);
        assert_eq!(slots.put(&big).unwrap(), a);
        assert_eq!(&outputs.take(pid, a, big.len()).unwrap()[..], &big[..]);
        assert!(outputs.take(pid, a, 64 * big.len()).is_err());
    }
}
