//! Operating-system limits a run needs: checked once, before any pool, server or input
//! exists; and, when the OS refuses anyway in the middle of a run, named as the cause of the
//! error the run ends with, instead of the symptom a client saw.
//!
//! Before: [`check`] works out what each configuration needs at its peak (descriptors,
//! processes and threads, memory, ephemeral ports) from the workload's [`Demand`] and the
//! executor's [`Footprint`], reads the limits ([`Host`]), raises a soft limit where the hard
//! one allows it, and otherwise refuses in one line naming the limit, what the run needs and
//! what to do (exit 2).
//!
//! During: a failed task samples this process's descriptors
//! ([`crate::refusal::watch_failure`]), a server reports the connections it could not accept
//! ([`crate::refusal::note_refusal`]) (both below the workloads that call them), and [`explain`] puts the cause
//! found in front of the run's error.

use crate::error::{Error, UsageError};
use crate::refusal::suggest;
pub use crate::refusal::{cause, note_refusal, open_fds, watch_failure, Rlimit};
pub use crate::workload::Demand;
use crate::workload::Params;

/// What an executor of W workers holds in this process and starts beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Descriptors of the pool whatever its size (async: its runtime's driver).
    pub fds: u64,
    /// Descriptors per worker in this process (process: its two pipes).
    pub fds_per_worker: u64,
    /// Threads or processes per worker (a worker process with one thread counts once).
    pub tasks_per_worker: u64,
    /// Tasks run in worker processes: their descriptors are the workers', and each worker
    /// holds a copy of the input it runs.
    pub out_of_process: bool,
}

impl Footprint {
    /// Runs tasks on the calling thread.
    pub const INLINE: Footprint = Footprint {
        fds: 0,
        fds_per_worker: 0,
        tasks_per_worker: 0,
        out_of_process: false,
    };
    /// One thread per worker in this process.
    pub const THREADS: Footprint = Footprint {
        tasks_per_worker: 1,
        ..Footprint::INLINE
    };
    /// One worker process per worker, fed through a pipe each way: the shape of every pool
    /// of processes, the CPython executors' included.
    pub const PROCESSES: Footprint = Footprint {
        fds: 0,
        fds_per_worker: 2,
        tasks_per_worker: 1,
        out_of_process: true,
    };
}

/// The footprint of an executor by name: the one place that knows the executors' shapes
/// for these checks. A name missing here (a new executor) counts as one thread per worker;
/// a pool of processes should be added as [`Footprint::PROCESSES`].
pub fn footprint(executor: &str) -> Footprint {
    match executor {
        "serial" => Footprint::INLINE,
        "process" | "py-processes" | "py-interpreters" => Footprint::PROCESSES,
        // A tokio runtime: its IO driver and waker, measured as 4 descriptors.
        "async" => Footprint {
            fds: 4,
            ..Footprint::THREADS
        },
        _ => Footprint::THREADS,
    }
}

/// Descriptors the program itself opens beside any configuration: standard streams, the
/// stop self-pipe, a server's listener and runtime, the serial baseline's connection. A
/// serial api run peaked at 13 here; the rest is margin.
pub const PROGRAM_FDS: u64 = 24;
/// Threads the program runs beside any configuration: main, the stop watcher, the spawner,
/// the serial baseline's helpers.
pub const PROGRAM_THREADS: u64 = 8;
/// Address space a thread reserves: its stack (2 MiB for Rust's threads) and guard, rounded
/// up.
pub const THREAD_ADDRESS_SPACE: u64 = 3 << 20;

/// One configuration of a run, as the checks see it.
#[derive(Debug, Clone)]
pub struct Config {
    /// `workload/executor/workers`, for the message.
    pub label: String,
    /// What the workload asks.
    pub demand: Demand,
    /// What the executor holds.
    pub footprint: Footprint,
    /// Workers.
    pub workers: u64,
    /// Tasks per batch.
    pub tasks: u64,
}

impl Config {
    /// The configuration `executor` x `workers` of `workload` with `params`; an error when
    /// the workload is unknown or its parameters are out of its bounds.
    pub fn new(
        workload: &str,
        params: &Params,
        executor: &str,
        workers: usize,
    ) -> Result<Self, UsageError> {
        let demand = (crate::workload::find(workload)?.demand)(params)?;
        Ok(Config {
            label: format!("{workload}/{executor}/{workers}"),
            demand,
            footprint: footprint(executor),
            workers: workers as u64,
            tasks: params.tasks as u64,
        })
    }

    /// Tasks in flight that descriptors, threads and ports are counted for: the pool's
    /// capacity, W, whatever `--tasks` is, so a configuration is checked for what its W
    /// workers can hold at once (a run of fewer tasks than workers is refused too).
    fn in_flight(&self) -> u64 {
        self.workers
    }

    /// Tasks in flight that memory is counted for: there are only `tasks` inputs to copy and
    /// bodies to hold.
    fn holding(&self) -> u64 {
        self.workers.min(self.tasks)
    }

    /// Descriptors at the peak, with what they are for.
    fn fds(&self) -> (u64, Vec<String>) {
        let (d, f, n) = (&self.demand, &self.footprint, self.in_flight());
        let here = if f.out_of_process { 0 } else { d.fds_per_task };
        parts(&[
            (here * n, "for the tasks in flight"),
            (d.server_fds_per_task * n, "for the server's connections"),
            (f.fds + f.fds_per_worker * self.workers, "for the pool"),
        ])
    }

    /// Processes and threads started at the peak.
    fn tasks(&self) -> (u64, Vec<String>) {
        let (d, f, n) = (&self.demand, &self.footprint, self.in_flight());
        parts(&[
            (f.tasks_per_worker * self.workers, "workers"),
            (
                d.server_threads + d.server_threads_per_task * n,
                "server threads",
            ),
            (d.threads_per_task * n, "threads inside the tasks"),
        ])
    }

    /// Threads in this process at the peak, for the address space they reserve.
    fn threads_here(&self) -> u64 {
        let (d, f, n) = (&self.demand, &self.footprint, self.in_flight());
        let workers = if f.out_of_process {
            0
        } else {
            f.tasks_per_worker * self.workers + d.threads_per_task * n
        };
        PROGRAM_THREADS + workers + d.server_threads + d.server_threads_per_task * n
    }

    /// Bytes held at the peak.
    fn memory(&self) -> (u64, Vec<String>) {
        let (d, f, n) = (&self.demand, &self.footprint, self.holding());
        let per_input = d.input_bytes / self.tasks.max(1);
        let copies = if f.out_of_process { per_input * n } else { 0 };
        let (total, list) = parts_with(
            &[
                (d.input_bytes, "inputs"),
                (d.bytes_per_task * n, "for the tasks in flight"),
                (copies, "copied to the workers"),
            ],
            bytes,
        );
        (total, list)
    }

    fn ports(&self) -> u64 {
        self.demand.ports_per_task * self.in_flight()
    }
}

/// Sums the non-zero parts and names each: "512 for the tasks in flight".
fn parts(items: &[(u64, &str)]) -> (u64, Vec<String>) {
    parts_with(items, |n| n.to_string())
}

fn parts_with(items: &[(u64, &str)], show: fn(u64) -> String) -> (u64, Vec<String>) {
    let total = items
        .iter()
        .map(|(n, _)| n)
        .fold(0u64, |a, n| a.saturating_add(*n));
    let list = items
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{} {what}", show(*n)))
        .collect();
    (total, list)
}

/// "1.5 GiB", "300 MiB", "12 KiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size {
            return format!("{:.1} {unit}", n as f64 / size as f64);
        }
    }
    format!("{n} bytes")
}

/// The limits that bind a run, as read from this process and the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// RLIMIT_NOFILE (`ulimit -n`).
    pub nofile: Rlimit,
    /// Descriptors this process holds already (inherited ones included).
    pub fds_open: u64,
    /// RLIMIT_NPROC (`ulimit -u`), `None` when the kernel does not enforce it for this user
    /// (root, or CAP_SYS_RESOURCE or CAP_SYS_ADMIN).
    pub nproc: Option<Rlimit>,
    /// Processes and threads this user runs already (counted only when `nproc` binds).
    pub user_tasks: u64,
    /// MemAvailable plus SwapFree, if /proc/meminfo says.
    pub memory: Option<u64>,
    /// RLIMIT_AS (`ulimit -v`).
    pub address_space: Rlimit,
    /// This process's address space now.
    pub vm_size: u64,
    /// Ports in net.ipv4.ip_local_port_range, if readable.
    pub ports: Option<u64>,
}

impl Host {
    /// Reads every limit.
    pub fn read() -> Host {
        let nproc = nproc_enforced().then(|| Rlimit::read(libc::RLIMIT_NPROC));
        let user_tasks = match nproc {
            Some(limit) if limit.soft != u64::MAX => user_tasks(),
            _ => 0,
        };
        Host {
            nofile: Rlimit::read(libc::RLIMIT_NOFILE),
            fds_open: open_fds().unwrap_or(0),
            nproc,
            user_tasks,
            memory: meminfo(&["MemAvailable:", "SwapFree:"]),
            address_space: Rlimit::read(libc::RLIMIT_AS),
            vm_size: status_kib("VmSize:").unwrap_or(0),
            ports: port_range(),
        }
    }
}

/// A field of /proc/self/status in KiB, as bytes.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, field)
}

fn kib_field(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix(field))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// The sum of these /proc/meminfo fields, in bytes.
fn meminfo(fields: &[&str]) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    fields.iter().map(|f| kib_field(&text, f)).sum()
}

/// How many ports net.ipv4.ip_local_port_range gives connect(2) to choose from.
fn port_range() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|s| s.parse::<u64>().ok());
    let (low, high) = (it.next()??, it.next()??);
    Some(high.saturating_sub(low) + 1)
}

/// The kernel skips RLIMIT_NPROC for root and for CAP_SYS_RESOURCE or CAP_SYS_ADMIN.
fn nproc_enforced() -> bool {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } == 0 {
        return false;
    }
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_SYS_RESOURCE: u32 = 24;
    let effective = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&hex, 16).ok()
        })
        .unwrap_or(0);
    effective & ((1 << CAP_SYS_ADMIN) | (1 << CAP_SYS_RESOURCE)) == 0
}

/// Processes and threads whose real user is ours: what RLIMIT_NPROC counts.
fn user_tasks() -> u64 {
    // SAFETY: getuid cannot fail.
    let me = unsafe { libc::getuid() }.to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
        .filter(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next())
                == Some(me.as_str())
        })
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|l| l.trim().parse::<u64>().ok())
        })
        .sum()
}

/// The configurations of a sweep (each workload's baseline included) and the ceiling probe's
/// spinners: one per core of each distinct c, kept for the whole run.
pub fn of_sweep(
    cfg: &crate::engine::sweep::SweepConfig,
) -> crate::error::Result<(Vec<Config>, u64)> {
    let baseline = crate::executor::baseline().name;
    let mut configs = Vec::new();
    for workload in &cfg.workloads {
        let params = cfg.overrides.params_for(workload)?;
        configs.push(Config::new(workload, &params, baseline, 1)?);
        for (executor, workers) in cfg.points() {
            configs.push(Config::new(workload, &params, &executor, workers)?);
        }
    }
    let mut cs: Vec<u64> = cfg
        .points()
        .iter()
        .map(|(e, n)| crate::executor::workers_of(e, *n).min(cfg.cores).max(1) as u64)
        .collect();
    cs.sort_unstable();
    cs.dedup();
    Ok((configs, cs.iter().sum()))
}

/// A soft limit to raise before the run: (resource, new soft limit).
pub type Raise = (libc::__rlimit_resource_t, u64);

/// The peak of `configs` against `host`: the soft limits to raise (each within its hard
/// limit), or the first limit the run cannot fit in, as the one-line message. Pure, so every
/// branch is tested with made-up hosts. `probe_threads` are the ceiling probe's spinners,
/// which live for the whole run.
pub fn verdict(
    configs: &[Config],
    host: &Host,
    probe_threads: u64,
) -> Result<Vec<Raise>, UsageError> {
    let mut raises = Vec::new();
    let Some(worst) = configs.iter().max_by_key(|c| c.fds().0) else {
        return Ok(raises);
    };

    let (fds, list) = worst.fds();
    let need = host.fds_open + PROGRAM_FDS + fds;
    if let Some(raise) = fit(host.nofile, need).map_err(|soft| {
        UsageError::new(format!(
            "file descriptors: {} needs about {need} open at once ({}, {} for the program), \
             but the limit is {soft} (ulimit -n); raise it (`ulimit -n {}`) or use fewer \
             workers",
            worst.label,
            list.join(", "),
            host.fds_open + PROGRAM_FDS,
            suggest(need)
        ))
    })? {
        raises.push((libc::RLIMIT_NOFILE, raise));
    }

    if let Some(limit) = host.nproc {
        let worst = configs
            .iter()
            .max_by_key(|c| c.tasks().0)
            .expect("not empty");
        let (tasks, list) = worst.tasks();
        let run = PROGRAM_THREADS + probe_threads + tasks;
        let need = host.user_tasks + run;
        if let Some(raise) = fit(limit, need).map_err(|soft| {
            UsageError::new(format!(
                "processes and threads: {} starts about {run} ({}, {} for the program) and \
                 this user runs {} already, but the limit is {soft} (ulimit -u); raise it \
                 (`ulimit -u {}`) or use fewer workers",
                worst.label,
                list.join(", "),
                PROGRAM_THREADS + probe_threads,
                host.user_tasks,
                suggest(need)
            ))
        })? {
            raises.push((libc::RLIMIT_NPROC, raise));
        }
    }

    let worst = configs
        .iter()
        .max_by_key(|c| c.memory().0)
        .expect("not empty");
    let (memory, list) = worst.memory();
    if let Some(available) = host.memory.filter(|a| memory > *a) {
        return Err(UsageError::new(format!(
            "memory: {} holds about {} ({}), but {} is available (MemAvailable + SwapFree); \
             use fewer or smaller tasks (--tasks, --size)",
            worst.label,
            bytes(memory),
            list.join(", "),
            bytes(available)
        )));
    }
    let worst = configs
        .iter()
        .max_by_key(|c| c.memory().0 + c.threads_here() * THREAD_ADDRESS_SPACE)
        .expect("not empty");
    let threads = (worst.threads_here() + probe_threads) * THREAD_ADDRESS_SPACE;
    let need = host.vm_size + worst.memory().0 + threads;
    if let Some(raise) = fit(host.address_space, need).map_err(|soft| {
        UsageError::new(format!(
            "address space: {} needs about {} ({} of data, {} of thread stacks, {} mapped \
             already), but the limit is {} (ulimit -v); raise it (`ulimit -v unlimited`) or \
             use fewer or smaller tasks",
            worst.label,
            bytes(need),
            bytes(worst.memory().0),
            bytes(threads),
            bytes(host.vm_size),
            bytes(soft)
        ))
    })? {
        raises.push((libc::RLIMIT_AS, raise));
    }

    let worst = configs.iter().max_by_key(|c| c.ports()).expect("not empty");
    if let Some(range) = host.ports.filter(|range| worst.ports() > *range) {
        return Err(UsageError::new(format!(
            "ephemeral ports: {} opens {} connections at once, each from a new local port, but \
             net.ipv4.ip_local_port_range has {range}; widen the range, or use --server \
             keepalive (connections are reused) or fewer workers",
            worst.label,
            worst.ports()
        )));
    }
    Ok(raises)
}

/// `Ok(None)` when `need` fits the soft limit, `Ok(Some(new soft))` when it fits only the hard
/// one, `Err(soft)` when it fits neither.
fn fit(limit: Rlimit, need: u64) -> Result<Option<u64>, u64> {
    if need <= limit.soft {
        Ok(None)
    } else if need <= limit.hard {
        Ok(Some(suggest(need).min(limit.hard)))
    } else {
        Err(limit.soft)
    }
}

/// Checks the run's configurations against this host's limits before any work starts,
/// raising soft limits where the hard ones allow. `probe_threads` are the ceiling probe's
/// spinners, which live for the whole run.
pub fn check(configs: &[Config], probe_threads: u64) -> Result<(), UsageError> {
    for (resource, soft) in verdict(configs, &Host::read(), probe_threads)? {
        let limit = Rlimit::read(resource);
        let new = libc::rlimit {
            rlim_cur: soft,
            rlim_max: if limit.hard == u64::MAX {
                libc::RLIM_INFINITY
            } else {
                limit.hard
            },
        };
        // SAFETY: setrlimit reads one rlimit we own; it only raises the soft limit of this
        // process (and of the workers it will start) within the hard one.
        if unsafe { libc::setrlimit(resource, &new) } != 0 {
            return Err(UsageError::new(format!(
                "cannot raise a resource limit to {soft} for this run: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

/// The error a run ends with, with the limit that caused it in front when one was found: a
/// refusal recorded during the run, or an exhaustion errno in the error's own text. "3999 of
/// 4000 tasks failed: ... unexpected EOF" becomes "out of file descriptors: this process had
/// 256 open of its limit of 256 ...: 3999 of 4000 tasks failed: ...".
pub fn explain(error: Error) -> anyhow::Error {
    match cause(&error.to_string()) {
        Some(cause) => anyhow::Error::from(error).context(cause),
        None => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roomy() -> Host {
        Host {
            nofile: Rlimit {
                soft: 1024,
                hard: 1024,
            },
            fds_open: 5,
            nproc: Some(Rlimit {
                soft: 4096,
                hard: 4096,
            }),
            user_tasks: 100,
            memory: Some(8 << 30),
            address_space: Rlimit::UNLIMITED,
            vm_size: 100 << 20,
            ports: Some(28_000),
        }
    }

    fn api(executor: &str, workers: usize, server: crate::workload::ServerKind) -> Config {
        let params = Params {
            tasks: 4000,
            server,
            ..crate::workload::defaults("api").unwrap()
        };
        Config::new("api", &params, executor, workers).unwrap()
    }

    use crate::workload::ServerKind::{Keepalive, Mockito};

    #[test]
    fn descriptors_count_clients_servers_and_pipes() {
        // Issue 25: `ulimit -n 256` and 512 async workers against mockito.
        let mut host = roomy();
        host.nofile = Rlimit {
            soft: 256,
            hard: 256,
        };
        let err = verdict(&[api("async", 512, Mockito)], &host, 2).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("file descriptors: api/async/512 needs about 1057"),
            "{text}"
        );
        assert!(text.contains("512 for the tasks in flight, 512 for the server's connections, 4 for the pool, 29 for the program"), "{text}");
        assert!(
            text.contains("the limit is 256 (ulimit -n); raise it (`ulimit -n 2048`)"),
            "{text}"
        );
        // The process pool: the server's sockets here, two pipes a worker, clients elsewhere.
        let text = verdict(&[api("process", 512, Keepalive)], &host, 2)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("512 for the server's connections, 1024 for the pool"),
            "{text}"
        );
        // A hard limit with room: the soft one is raised instead.
        host.nofile.hard = 4096;
        assert_eq!(
            verdict(&[api("async", 512, Mockito)], &host, 2).unwrap(),
            vec![(libc::RLIMIT_NOFILE, 2048)]
        );
        // Counted at the pool's capacity: 512 workers can hold 512 requests, whatever --tasks.
        let few = Params {
            tasks: 16,
            ..crate::workload::defaults("api").unwrap()
        };
        host.nofile.hard = 256;
        let text = verdict(&[Config::new("api", &few, "async", 512).unwrap()], &host, 2)
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("file descriptors: api/async/512 needs about 1057"),
            "{text}"
        );
        // Within the soft limit: nothing to do.
        assert_eq!(
            verdict(&[api("threads", 64, Mockito)], &roomy(), 2).unwrap(),
            vec![]
        );
    }

    #[test]
    fn processes_and_threads_count_what_the_user_runs_already() {
        let mut host = roomy();
        host.nproc = Some(Rlimit {
            soft: 200,
            hard: 200,
        });
        let cpu = Params {
            tasks: 256,
            ..crate::workload::defaults("cpu").unwrap()
        };
        let text = verdict(
            &[Config::new("cpu", &cpu, "process", 128).unwrap()],
            &host,
            2,
        )
        .unwrap_err()
        .to_string();
        assert!(text.starts_with("processes and threads: cpu/process/128 starts about 138 (128 workers, 10 for the program) and this user runs 100 already, but the limit is 200 (ulimit -u)"), "{text}");
        // Mockito answers each request on a thread of its own.
        let text = verdict(&[api("threads", 64, Mockito)], &host, 2)
            .unwrap_err()
            .to_string();
        assert!(text.contains("64 workers, 65 server threads"), "{text}");
        // Not enforced (root): not checked.
        host.nproc = None;
        assert!(verdict(&[api("threads", 64, Mockito)], &host, 2).is_ok());
    }

    #[test]
    fn memory_counts_inputs_and_the_workers_copies() {
        let mut host = roomy();
        host.memory = Some(1 << 30);
        let io = Params {
            tasks: 8,
            size: 256 << 20,
            ..crate::workload::defaults("io").unwrap()
        };
        let text = verdict(&[Config::new("io", &io, "process", 4).unwrap()], &host, 2)
            .unwrap_err()
            .to_string();
        assert_eq!(
            text,
            "memory: io/process/4 holds about 3.0 GiB (2.0 GiB inputs, 1.0 GiB copied to the \
             workers), but 1.0 GiB is available (MemAvailable + SwapFree); use fewer or \
             smaller tasks (--tasks, --size)"
        );
        // The address space (ulimit -v) counts what is mapped already and the stacks too.
        let mut host = roomy();
        host.address_space = Rlimit {
            soft: 2 << 30,
            hard: 2 << 30,
        };
        let text = verdict(&[Config::new("io", &io, "threads", 4).unwrap()], &host, 2)
            .unwrap_err()
            .to_string();
        assert!(text.starts_with("address space: io/threads/4 needs about 2.1 GiB (2.0 GiB of data, 42.0 MiB of thread stacks, 100.0 MiB mapped already), but the limit is 2.0 GiB (ulimit -v)"), "{text}");
    }

    #[test]
    fn new_connections_need_a_port_each_keepalive_does_not() {
        let mut host = roomy();
        host.nofile = Rlimit::UNLIMITED;
        host.ports = Some(1000);
        let text = verdict(&[api("async", 1024, Mockito)], &host, 2)
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("ephemeral ports: api/async/1024 opens 1024 connections at once"),
            "{text}"
        );
        assert!(text.contains("ip_local_port_range has 1000"), "{text}");
        assert!(verdict(&[api("async", 1024, Keepalive)], &host, 2).is_ok());
    }

    #[test]
    fn the_cause_is_named_before_the_symptom() {
        let err = Error::workload("api", "cannot accept: Too many open files (os error 24)");
        let text = format!("{:#}", explain(err));
        assert!(
            text.starts_with("out of file descriptors (ulimit -n): workload api: "),
            "{text}"
        );
    }

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(bytes(1536 << 10), "1.5 MiB");
        assert_eq!(bytes(12), "12 bytes");
    }
}
