//! What the machine offers: cores, core pinning, CPU time.

use crate::error::{Error, UsageError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Cores this process may run on: the affinity mask (so `--cpus` counts), and cgroup CPU
/// quotas, as std's `available_parallelism` reads both on Linux.
pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The cores in the calling thread's affinity mask, ascending. After [`pin_to_cpus`] every
/// thread has the same mask, so this is the run's set of cores, for the JSON record.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; sched_getaffinity writes into it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return (0..available_cores()).collect();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: cpu < CPU_SETSIZE, inside the set.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Number of cores the kernel knows of, online or not: a core number at or above it does
/// not exist on this machine.
pub fn configured_cpus() -> usize {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}

/// A set of core numbers, as `--cpus` takes it (`0`, `0,1`, `0-3,6`) and as the JSON record
/// shows it: ascending, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CpuList(pub Vec<usize>);

impl FromStr for CpuList {
    type Err = UsageError;

    fn from_str(s: &str) -> Result<Self, UsageError> {
        parse_cpu_list(s).map(CpuList)
    }
}

impl fmt::Display for CpuList {
    /// Consecutive cores are shown as ranges: `0-3,6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                i += 1;
                end = self.0[i];
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

/// Parses a core list such as `0`, `0,1`, `0-1` or `0-3,6` into ascending, distinct core
/// numbers. Only the syntax is checked here; [`pin_to_cpus`] checks the cores exist.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, UsageError> {
    let bad = |why: String| UsageError::new(format!("invalid core list '{s}': {why}"));
    let number = |t: &str| {
        let t = t.trim();
        t.parse::<usize>()
            .map_err(|_| bad(format!("'{t}' is not a core number")))
            .and_then(|n| {
                if n < libc::CPU_SETSIZE as usize {
                    Ok(n)
                } else {
                    Err(bad(format!(
                        "core {n} is beyond the kernel's limit of {}",
                        libc::CPU_SETSIZE
                    )))
                }
            })
    };
    if s.trim().is_empty() {
        return Err(bad("it is empty; give cores like 0,1 or 0-1".into()));
    }
    let mut cores = Vec::new();
    for item in s.split(',') {
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(bad(format!("range {a}-{b} runs backwards")));
                }
                cores.extend(a..=b);
            }
            None => cores.push(number(item)?),
        }
    }
    cores.sort_unstable();
    cores.dedup();
    Ok(cores)
}

/// A `cpu_set_t` holding `cpus` (those beyond the set's size are left out).
pub fn cpu_set(cpus: &[usize]) -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
        // SAFETY: cpu < CPU_SETSIZE, inside the set.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    set
}

/// The core the calling thread runs on now.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu has no arguments and no memory effects.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// Where a pool's workers run.
///
/// On a busy machine of few cores the OS often puts a worker that another worker woke on
/// the waker's own core, while the other core idles, and leaves it there for milliseconds:
/// measured here, both of rayon's 2 workers started on one core in 48 of 123 batches, a
/// pool whose caller wakes every worker in 4 of 66. `Spread` gives each worker a core of its
/// own, as a perfect executor would use them, so that executors are compared on the work
/// they do and not on where the OS happened to wake them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Placement {
    /// Workers run where the OS puts them (they inherit the starting thread's cores).
    #[default]
    Os,
    /// Worker i runs on core `cores[i % cores.len()]`: one core each while W <= cores, and
    /// W / cores workers per core above.
    Spread(Vec<usize>),
}

/// The cores the calling thread may use, when there is more than one to choose from: what
/// [`Placement::spread`] spreads workers over, and the first of them is where a sweep runs
/// its baseline.
pub fn run_cores() -> Option<Vec<usize>> {
    Some(allowed_cpus()).filter(|cores| cores.len() > 1)
}

impl Placement {
    /// Spread over [`run_cores`], or [`Placement::Os`] on one core.
    pub fn spread() -> Self {
        run_cores().map_or(Placement::Os, Placement::Spread)
    }

    /// The cores workers are spread over, if placed.
    pub fn cores(&self) -> Option<&[usize]> {
        match self {
            Placement::Os => None,
            Placement::Spread(cores) => Some(cores).filter(|c| !c.is_empty()).map(Vec::as_slice),
        }
    }

    /// The core of worker `worker`, if placed.
    pub fn core_of(&self, worker: usize) -> Option<usize> {
        self.cores().map(|cores| cores[worker % cores.len()])
    }

    /// Puts the calling thread, worker `worker`, on its core. A refused pin (a core taken
    /// away by a cgroup since the run started) leaves the thread where the OS puts it: the
    /// worker still runs, only unplaced.
    pub fn place_current(&self, worker: usize) {
        if let Some(core) = self.core_of(worker) {
            let _ = set_thread_cpus(&[core]);
        }
    }
}

/// Keeps the calling thread on some cores until dropped, then gives it back the cores it
/// had. Threads and processes it starts meanwhile inherit the narrower set.
pub struct ThreadPin {
    previous: Vec<usize>,
}

impl ThreadPin {
    /// Pins the calling thread to `cpus`.
    pub fn to(cpus: &[usize]) -> std::io::Result<ThreadPin> {
        let previous = allowed_cpus();
        set_thread_cpus(cpus)?;
        Ok(ThreadPin { previous })
    }
}

impl Drop for ThreadPin {
    fn drop(&mut self) {
        let _ = set_thread_cpus(&self.previous);
    }
}

fn set_thread_cpus(cpus: &[usize]) -> std::io::Result<()> {
    let set = cpu_set(cpus);
    // SAFETY: set is a valid cpu_set_t of the size we pass; 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Pins the whole process, every thread that exists now and every thread and child process
/// started later (they inherit the mask), to `cpus`, with `sched_setaffinity`. Call it before
/// any pool starts. A core that does not exist, or that the process may not use (a cgroup
/// cpuset), is a [`UsageError`].
pub fn pin_to_cpus(cpus: &[usize]) -> Result<(), Error> {
    if cpus.is_empty() {
        return Err(UsageError::new("no cores to pin to").into());
    }
    let exist = configured_cpus();
    if let Some(missing) = cpus.iter().find(|&&c| c >= exist) {
        return Err(UsageError::new(format!(
            "core {missing} does not exist: this machine has cores {}",
            CpuList((0..exist).collect())
        ))
        .into());
    }
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: cpu < configured_cpus() <= CPU_SETSIZE, inside the set.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    let set_for = |tid: libc::pid_t| {
        // SAFETY: set is a valid cpu_set_t of the size we pass.
        let rc = unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let wanted = CpuList(cpus.to_vec());
    // The calling thread first: if the mask is refused, nothing has changed yet.
    set_for(0).map_err(|e| match e.raw_os_error() {
        Some(libc::EINVAL) => Error::from(UsageError::new(format!(
            "cores {wanted} are not available to this process (it may use {})",
            CpuList(allowed_cpus())
        ))),
        _ => Error::io("sched_setaffinity", e),
    })?;
    // Then every other thread already running (servers, pools started before us).
    let tasks =
        std::fs::read_dir("/proc/self/task").map_err(|e| Error::io("/proc/self/task", e))?;
    for entry in tasks.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        match set_for(tid) {
            // A thread that exited since the listing has nothing left to pin.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => return Err(Error::io(format!("/proc/self/task/{tid}"), e)),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// CPU seconds (user + sys) used so far by this process, all threads.
pub fn process_cpu_s() -> f64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU seconds (user + sys, all threads) used so far by a live process, read from
/// `/proc/<pid>/stat`. `getrusage(RUSAGE_CHILDREN)` only counts children that have exited,
/// so this is how a pool reads its running workers. `None` if the process is gone.
pub fn pid_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu_ticks(&stat).map(|ticks| ticks as f64 / clock_ticks_per_s())
}

/// utime + stime, in clock ticks, from the text of a `/proc/<pid>/stat` file.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces or ')'; fields after
    // the last ')' start at field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// Largest allocation the allocator serves from its arenas rather than a fresh mapping.
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// Free memory at the top of a heap that the allocator keeps rather than returns.
pub const TRIM_THRESHOLD: usize = 256 << 20;

/// Fixes glibc's mmap and trim thresholds, once, before any thread starts; every parbench
/// process calls it (the CLI, its worker processes, the Criterion suite). By default glibc
/// moves them as the process allocates and frees: a 1.3 MB dot output is a fresh mapping,
/// with a page fault per page on every task, until the first such free raises the threshold;
/// after that it may come from an arena. Which of the two a process is in depends on its
/// history, so it lasted a whole run: measured here on dot (2026-12-07, four runs each,
/// interleaved), the spread of each executor's eff/ceil over the runs was 0.05-0.19 with
/// the moving thresholds and 0.014-0.045 with them fixed. A no-op off glibc.
pub fn steady_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of the allocator's tunables; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int);
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn spread_placement_takes_the_cores_in_turn() {
        let p = Placement::Spread(vec![2, 5]);
        let cores: Vec<_> = (0..5).map(|w| p.core_of(w)).collect();
        assert_eq!(cores, vec![Some(2), Some(5), Some(2), Some(5), Some(2)]);
        assert_eq!(Placement::Os.core_of(0), None);
        assert_eq!(Placement::Spread(Vec::new()).core_of(3), None);
        assert_eq!(p.cores(), Some(&[2, 5][..]));
        assert_eq!(Placement::Os.cores(), None);
    }

    use super::*;

    #[test]
    fn parses_lists_and_ranges() {
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list("0,1").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list("0-1").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list(" 6, 0-3 ,2").unwrap(), vec![0, 1, 2, 3, 6]);
        assert_eq!("3-3".parse::<CpuList>().unwrap(), CpuList(vec![3]));
    }

    #[test]
    fn rejects_bad_lists_with_the_reason() {
        for (input, why) in [
            ("", "empty"),
            ("0,,1", "'' is not a core number"),
            ("a", "'a' is not a core number"),
            ("-1", "'' is not a core number"),
            ("3-1", "runs backwards"),
            ("0-", "'' is not a core number"),
            ("99999", "beyond the kernel's limit"),
        ] {
            let err = parse_cpu_list(input).unwrap_err().to_string();
            assert!(err.contains(why), "{input:?}: {err}");
        }
    }

    #[test]
    fn displays_ranges_compactly() {
        assert_eq!(CpuList(vec![0, 1, 2, 3, 6]).to_string(), "0-3,6");
        assert_eq!(CpuList(vec![1, 3]).to_string(), "1,3");
        assert_eq!(CpuList(vec![]).to_string(), "");
        let list = CpuList(vec![0, 2, 3]);
        assert_eq!(list.to_string().parse::<CpuList>().unwrap(), list);
        assert_eq!(serde_json::to_string(&list).unwrap(), "[0,2,3]");
    }

    #[test]
    fn nonexistent_core_is_a_usage_error() {
        let err = pin_to_cpus(&[configured_cpus()]).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err}");
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(matches!(pin_to_cpus(&[]), Err(Error::Usage(_))));
    }

    #[test]
    fn stat_parsing_handles_odd_command_names() {
        // Fields 3..=15 after the name: state, ppid, pgrp, session, tty, tpgid, flags,
        // minflt, cminflt, majflt, cmajflt, utime=250, stime=50.
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(300));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn own_cpu_time_is_readable_and_a_dead_pid_is_none() {
        let mine = pid_cpu_s(std::process::id()).unwrap();
        assert!(mine >= 0.0);
        // Reaped children have no /proc entry.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(pid_cpu_s(pid), None);
    }

    /// Environment variable that makes [`pinning_in_a_child_process`] do the pinning: the
    /// test re-runs itself in a child so the test runner's own mask is never touched.
    const CHILD_ENV: &str = "PARBENCH_TEST_PIN_CHILD";

    #[test]
    fn pinning_in_a_child_process() {
        let target = *allowed_cpus().last().unwrap();
        if std::env::var_os(CHILD_ENV).is_some() {
            // A thread started before pinning must be pinned too: the whole process moves.
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let (back, done) = std::sync::mpsc::channel();
            let early = std::thread::spawn(move || {
                rx.recv().unwrap();
                back.send(allowed_cpus()).unwrap();
            });
            pin_to_cpus(&[target]).unwrap();
            assert_eq!(allowed_cpus(), vec![target]);
            assert_eq!(available_cores(), 1);
            tx.send(()).unwrap();
            assert_eq!(done.recv().unwrap(), vec![target]);
            early.join().unwrap();
            let later = std::thread::spawn(allowed_cpus).join().unwrap();
            assert_eq!(later, vec![target]);
            // Child processes inherit the mask.
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let out = std::process::Command::new("grep")
                .args(["Cpus_allowed_list", "/proc/self/status"])
                .output()
                .unwrap();
            let child_line = String::from_utf8(out.stdout).unwrap();
            assert_eq!(child_line.trim(), format!("Cpus_allowed_list:\t{target}"));
            assert!(status.contains(&child_line));
            return;
        }
        let before = allowed_cpus();
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "system::tests::pinning_in_a_child_process",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The child really ran the test (a filter typo would run nothing and pass).
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
        assert_eq!(allowed_cpus(), before, "the test runner itself was pinned");
    }
}
