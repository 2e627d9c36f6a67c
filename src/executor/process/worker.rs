//! The worker side: `parbench worker`, one task at a time over stdin/stdout frames.

use super::pipes::{poll_awake, pollfd, AWAKE};
use super::protocol::{self, FrameReader, Kind, ReadError};
use super::shm::{map_parent_segment, Mapping, OutSlots, SHARED_MIN};
use crate::executor::{execute, Ctx};
use crate::measure::{monotonic_ns, Bytes, TaskInput, Usage};
use crate::workload::{self, Params, Workload};
use std::cell::Cell;
use std::fs::File;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// Set by the pool to its own pid: the worker asks the kernel to kill it when that parent
/// dies (`PR_SET_PDEATHSIG`), so a crashed or SIGKILLed parent leaves no orphans.
pub const PARENT_ENV: &str = "PARBENCH_WORKER_PARENT";

/// Test-only misbehaviour, for the fault tests: `garbage-hello` (garbage instead of the
/// hello frame), `silent-hello` (never says hello; waits for stdin to close), `garbage:N`
/// (garbage instead of task N's reply), `close:N` (exit without replying when task N
/// arrives), `stop:N` (stop itself with SIGSTOP when task N arrives: a stalled worker).
/// Never set it outside tests.
pub const FAULT_ENV: &str = "PARBENCH_WORKER_FAULT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Misbehave {
    GarbageHello,
    SilentHello,
    Garbage(usize),
    Close(usize),
    Stop(usize),
}

fn misbehaviour() -> Result<Option<Misbehave>, String> {
    let Ok(spec) = std::env::var(FAULT_ENV) else {
        return Ok(None);
    };
    let bad = || {
        format!(
            "{FAULT_ENV}={spec}: expected garbage-hello, silent-hello, garbage:N, close:N \
             or stop:N"
        )
    };
    match spec.as_str() {
        "garbage-hello" => return Ok(Some(Misbehave::GarbageHello)),
        "silent-hello" => return Ok(Some(Misbehave::SilentHello)),
        _ => {}
    }
    let (what, task) = spec.split_once(':').ok_or_else(bad)?;
    let task: usize = task.parse().map_err(|_| bad())?;
    match what {
        "garbage" => Ok(Some(Misbehave::Garbage(task))),
        "close" => Ok(Some(Misbehave::Close(task))),
        "stop" => Ok(Some(Misbehave::Stop(task))),
        _ => Err(bad()),
    }
}

thread_local! {
    /// True while a task runs: its panic is caught and shipped to the parent as the task's
    /// error, so printing it here as well would only be noise.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Entry point of `parbench worker`. Returns the process exit code: 0 when the parent closed
/// the pipe (a clean shutdown), 1 on a broken protocol, 2 when started by hand.
pub fn worker_main() -> i32 {
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(libc::STDIN_FILENO) } == 1 {
        eprintln!(
            "parbench worker is an internal mode: the process executor starts it and talks to \
             it over pipes. Use `parbench run --executor process` instead."
        );
        return 2;
    }
    // Both survive exec; the parent starts workers without a pre_exec hook (spawn.rs).
    crate::interrupt::default_actions_in_child();
    if let Err(msg) = take_cores().and_then(|()| die_with_parent()) {
        eprintln!("parbench worker: {msg}");
        return 1;
    }
    let fault = match misbehaviour() {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("parbench worker: {msg}");
            return 2;
        }
    };
    let (input, output) = match take_pipes() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("parbench worker: cannot set up its pipes: {e}");
            return 1;
        }
    };
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_TASK.with(Cell::get) {
            default_hook(info);
        }
    }));
    match serve(input, output, fault) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("parbench worker {}: {msg}", std::process::id());
            1
        }
    }
}

/// The cores a worker runs on, set by the pool: a comma-separated list of core numbers.
pub const CORES_ENV: &str = "PARBENCH_WORKER_CORES";

/// `cores` as [`CORES_ENV`] carries them.
pub fn cores_env(cores: &[usize]) -> String {
    cores
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Moves this process onto the cores in [`CORES_ENV`], if set. A refused pin (a core taken
/// away by a cgroup since the run started) leaves the worker where the OS puts it, as
/// `Placement::place_current` does for a thread: it still runs, only unplaced.
fn take_cores() -> Result<(), String> {
    let Ok(list) = std::env::var(CORES_ENV) else {
        return Ok(());
    };
    let cores = list
        .split(',')
        .map(|c| c.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| format!("{CORES_ENV}={list} is not a list of core numbers"))?;
    if !cores.is_empty() {
        let set = crate::system::cpu_set(&cores);
        // SAFETY: sched_setaffinity reads `set`, a plain value of the size given.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    }
    Ok(())
}

/// Asks for SIGKILL when the parent dies, then checks it has not died already.
fn die_with_parent() -> Result<(), String> {
    let Ok(parent) = std::env::var(PARENT_ENV) else {
        return Ok(());
    };
    let parent: libc::pid_t = parent
        .parse()
        .map_err(|_| format!("{PARENT_ENV}={parent} is not a pid"))?;
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    // SAFETY: getppid cannot fail.
    if unsafe { libc::getppid() } != parent {
        return Err("its parent is already gone".into());
    }
    Ok(())
}

/// Moves the protocol pipes off descriptors 0 and 1, and puts /dev/null and stderr there, so
/// a stray `println!` in a workload cannot corrupt the frames.
fn take_pipes() -> std::io::Result<(File, OwnedFd)> {
    let dup = |fd: libc::c_int| -> std::io::Result<OwnedFd> {
        // SAFETY: F_DUPFD_CLOEXEC returns a fresh descriptor that we then own.
        let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if new < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `new` is a valid descriptor owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(new) })
    };
    let input = dup(libc::STDIN_FILENO)?;
    let output = dup(libc::STDOUT_FILENO)?;
    let null = File::open("/dev/null")?;
    // SAFETY: dup2 onto the standard descriptors; both sources are open.
    unsafe {
        if libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), libc::STDIN_FILENO) < 0
            || libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((File::from(input), output))
}

/// This worker's usage so far, as a frame's words.
fn usage() -> [u64; Usage::WORDS] {
    Usage::of_process().to_words()
}

/// The parent's shared-memory segment this worker has mapped: its id and the mapping.
type Shared = Option<(u64, Arc<Mapping>)>;

/// A task's input: the frame's tail, or a window of the parent's segment named by the
/// frame's words (mapped on first use, and again only when the segment changes).
fn task_input(words: &[u64], tail: Vec<u8>, shared: &mut Shared) -> Result<Bytes, String> {
    let (segment, fd, offset, len) = (words[2], words[3], words[4] as usize, words[5] as usize);
    if segment == 0 {
        return Ok(tail.into());
    }
    if shared.as_ref().map(|(id, _)| *id) != Some(segment) {
        // The old mapping goes first: two jobs' inputs need not fit at once.
        *shared = None;
        let map = map_parent_segment(fd)
            .map_err(|e| format!("cannot map the parent's shared inputs: {e}"))?;
        *shared = Some((segment, Arc::new(map)));
    }
    let (_, map) = shared.as_ref().expect("mapped above");
    if offset
        .checked_add(len)
        .is_none_or(|end| end > (**map).as_ref().len())
    {
        return Err(format!(
            "input at {offset}+{len} is outside the shared segment ({} bytes)",
            (**map).as_ref().len()
        ));
    }
    let memory: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::clone(map) as _;
    Ok(Bytes::shared(memory, offset..offset + len))
}

/// The workload the worker has open, and the parameters it was opened with.
struct Opened {
    name: String,
    params: Params,
    workload: Result<Arc<dyn Workload>, String>,
}

fn serve(mut input: File, output: OwnedFd, fault: Option<Misbehave>) -> Result<(), String> {
    let out = output.as_fd();
    let mut zero_copy = true;
    let send = |head: &[u8], tail: &[u8], zc: &mut bool| {
        protocol::write_all(out, head, tail, zc).map_err(|e| format!("cannot write a reply: {e}"))
    };
    const GARBAGE: &[u8] = b"this is not a parbench frame, it is garbage\n";
    if fault == Some(Misbehave::GarbageHello) {
        send(GARBAGE, &[], &mut zero_copy)?;
    } else if fault == Some(Misbehave::SilentHello) {
        // Say nothing; leave when the parent gives up and closes the pipe (or kills us).
        let _ = std::io::copy(&mut input, &mut std::io::sink());
        return Ok(());
    } else {
        let pid = u64::from(std::process::id());
        send(
            &protocol::head(
                Kind::Hello,
                &[&[protocol::VERSION, pid][..], &usage()].concat(),
                0,
            ),
            &[],
            &mut zero_copy,
        )?;
    }
    let mut reader = FrameReader::default();
    let mut opened: Option<Opened> = None;
    let mut shared: Shared = None;
    let mut slots = OutSlots::default();
    // The last payload sent with vmsplice: the pipe may still refer to its pages, so it is
    // only freed once the parent sends its next frame (it has read the reply whole by then).
    let mut _last_payload = crate::measure::Bytes::default();
    loop {
        // The parent's next frame usually follows a reply within microseconds: wait for it
        // awake rather than put this vCPU to sleep (see `AWAKE`).
        if !reader.has_staged() {
            poll_awake(&mut [pollfd(input.as_fd(), libc::POLLIN)], AWAKE);
        }
        let frame = match reader.read(&mut input) {
            Ok(frame) => frame,
            Err(ReadError::Closed { mid_frame: false }) => return Ok(()),
            Err(e) => return Err(format!("the parent {e}")),
        };
        _last_payload = Default::default();
        match frame.kind {
            Kind::Release => slots.release(frame.words[0]),
            Kind::Open => {
                let (name, params): (String, Params) = serde_json::from_slice(&frame.tail)
                    .map_err(|e| format!("bad Open frame: {e}"))?;
                let same = opened
                    .as_ref()
                    .is_some_and(|o| o.name == name && o.params == params);
                if !same {
                    // Close the old workload before opening the next one.
                    drop(opened.take());
                    let workload = workload::open(&name, params.clone()).map_err(|e| e.to_string());
                    opened = Some(Opened {
                        name,
                        params,
                        workload,
                    });
                }
            }
            Kind::Task => {
                let index = frame.words[0] as usize;
                let lane = frame.words[1] as usize;
                match fault {
                    Some(Misbehave::Garbage(t)) if t == index => {
                        send(GARBAGE, &[], &mut zero_copy)?;
                        continue;
                    }
                    Some(Misbehave::Close(t)) if t == index => return Ok(()),
                    Some(Misbehave::Stop(t)) if t == index => {
                        // SAFETY: raise only signals this process.
                        unsafe { libc::raise(libc::SIGSTOP) };
                    }
                    _ => {}
                }
                let start = monotonic_ns();
                let input = task_input(&frame.words, frame.tail, &mut shared);
                let task = TaskInput {
                    index,
                    data: input.clone().unwrap_or_else(|_| Vec::new().into()),
                };
                let result = match (opened.as_ref().map(|o| &o.workload), input) {
                    (_, Err(e)) => Err(e),
                    (Some(Ok(w)), Ok(_)) => {
                        IN_TASK.with(|f| f.set(true));
                        let r = execute(w.as_ref(), &task, &Ctx::plain(lane));
                        IN_TASK.with(|f| f.set(false));
                        r.map_err(|e| e.message)
                    }
                    (Some(Err(e)), _) => Err(format!("worker cannot open the workload: {e}")),
                    (None, _) => Err("worker got a task before any workload".to_string()),
                };
                let stop = monotonic_ns();
                if let Some(buf) = task.data.into_vec() {
                    reader.recycle(buf);
                }
                let index = index as u64;
                match result {
                    Ok(output) => {
                        let payload = output.payload;
                        // A large payload goes into shared memory; the pipe is the fallback.
                        let slot = (payload.len() >= SHARED_MIN)
                            .then(|| slots.put(&payload).ok())
                            .flatten();
                        let (slot, tail) = match slot {
                            Some(fd) => (fd, &[][..]),
                            None => (protocol::NO_SLOT, &payload[..]),
                        };
                        let words = [index, start, stop, output.checksum, output.units, slot];
                        let len = payload.len() as u64;
                        let head = protocol::head(
                            Kind::Done,
                            &[&words[..], &[len], &usage()].concat(),
                            tail.len(),
                        );
                        send(&head, tail, &mut zero_copy)?;
                        _last_payload = payload;
                    }
                    Err(message) => {
                        let head = protocol::head(
                            Kind::Failed,
                            &[&[index, start, stop][..], &usage()].concat(),
                            message.len(),
                        );
                        send(&head, message.as_bytes(), &mut zero_copy)?;
                    }
                }
            }
            other => return Err(format!("unexpected {other:?} frame from the parent")),
        }
    }
}
