# parbench's CPython worker: runs the article's own task code on the inputs parbench sends,
# with concurrent.futures, and reports every task's start, stop and result.
#
# Embedded in the parbench binary and run as `python -c SCRIPT MODE ...`; nothing is on disk.
#   probe                              print one JSON line about this interpreter and exit
#   serve KIND WORKERS SWITCH_S        serve batches over stdin/stdout (KIND: serial, threads,
#                                      processes, interpreters)
#
# Protocol (parbench -> worker, on stdin): one JSON line per message; a `load` line is
# followed by the raw bytes of its blobs, back to back.
#   {"op": "load", "workload": W, "params": {...}, "sizes": [n0, n1, ...]}  then the blobs
#   {"op": "run"}
# Replies (worker -> parbench, on the original stdout; stray prints go to stderr):
#   {"op": "ready", "pid": P}                       after start-up
#   {"op": "loaded"}                                the job is in memory, the pool warm
#   {"op": "start", "task": i}                      a task began (serial and threads only)
#   {"op": "task", "task": i, "ok": b, "value": v, "error": e, "start": ns, "stop": ns,
#    "worker": lane, "pid": p}                      a task finished (times: CLOCK_MONOTONIC)
#   {"op": "done"}                                  the batch is over
#   {"op": "fatal", "error": e}                     the worker cannot go on

import concurrent.futures as cf
import json
import os
import platform
import signal
import sys
import threading
import time

MASK64 = (1 << 64) - 1


# ---- the article's tasks -------------------------------------------------------------

def task_cpu(n):
    count = 0
    for i in range(n):
        count += i
    return count & MASK64


def task_io(arg):
    path, text, fsync = arg
    with open(path, "wt") as f:
        written = f.write(text)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    return written


def task_api(arg):
    import urllib.request

    url, timeout = arg
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


# dot's matrices are module globals, inherited by forked pool processes as in the article.
MATRICES = []


def task_dot(index):
    import numpy

    a, b = MATRICES[index]
    c = numpy.dot(a, b)
    # The row sums of the product: parbench checks them against A (B 1).
    return c.sum(axis=1).tobytes()


TASKS = {"cpu": task_cpu, "io": task_io, "api": task_api, "dot": task_dot}


# ---- faults a test injects: PARBENCH_PY_FAULT=kill|hang|garbage:TASK:MARKER ---------------
# The fault fires once: the first process to create MARKER fires it.

def maybe_fault(index):
    spec = os.environ.get("PARBENCH_PY_FAULT")
    if not spec:
        return
    kind, task, marker = spec.split(":", 2)
    if int(task) != index:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "hang":
        time.sleep(1e9)
    elif kind == "garbage" and OUT is not None:
        with OUT_LOCK:
            OUT.write("this is not a protocol line\n")
            OUT.flush()


# Tasks whose parameters inject a panic (the fault suite's Fault::Panic): they raise.
PANICS = set()


def run_task(workload, index, arg):
    """Runs one task where it is called (a thread or a pool process) and times it there."""
    start = time.monotonic_ns()
    try:
        maybe_fault(index)
        if index in PANICS:
            raise RuntimeError(f"injected panic in task {index}")
        value, error = TASKS[workload](arg), None
    except BaseException as e:  # a task's failure is its result, never the worker's
        value, error = None, f"{type(e).__name__}: {e}"
    stop = time.monotonic_ns()
    return index, value, error, start, stop, threading.get_ident(), os.getpid()


def started_then_run(workload, index, arg):
    send({"op": "start", "task": index})
    return run_task(workload, index, arg)


# ---- the interpreter's description --------------------------------------------------------

def probe():
    info = {
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "gil_enabled": sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True,
        "switch_interval_s": sys.getswitchinterval(),
        "interpreters": hasattr(cf, "InterpreterPoolExecutor"),
        "numpy": None,
        "numpy_error": None,
        "blas": None,
        "blas_threads": None,
    }
    try:
        import numpy

        info["numpy"] = numpy.__version__
        info["blas"], info["blas_threads"] = blas_of(numpy)
    except Exception as e:
        info["numpy_error"] = f"{type(e).__name__}: {e}"
    return info


def blas_of(numpy):
    """The BLAS numpy uses and its thread count, as far as this interpreter can tell."""
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                name = f"{pool.get('internal_api')} {pool.get('version')} {pool.get('architecture')}"
                return name, pool.get("num_threads")
    except Exception:
        pass
    name = None
    try:
        deps = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name = f"{deps.get('name')} {deps.get('version')}"
    except Exception:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return name, int(os.environ[var])
    return name, os.cpu_count()


# ---- serving --------------------------------------------------------------------------

OUT = None
OUT_LOCK = threading.Lock()


def send(message):
    line = json.dumps(message, separators=(",", ":")) + "\n"
    with OUT_LOCK:
        OUT.write(line)
        OUT.flush()


def read_exact(stream, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            raise EOFError("parbench closed the pipe in the middle of a load")
        got += k
    return bytes(buf)


def pool_process_init():
    # Die with the worker: a pool process must never outlive it.
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def noop():
    return os.getpid()


class Server:
    def __init__(self, kind, workers):
        self.kind = kind
        self.workers = workers
        self.pool = None
        self.job = None
        self.lanes = {}

    def lane(self, key):
        return self.lanes.setdefault(key, len(self.lanes) % self.workers)

    def new_pool(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.lanes = {}
        if self.kind == "threads":
            self.pool = cf.ThreadPoolExecutor(self.workers)
        elif self.kind == "processes":
            import multiprocessing
            from concurrent.futures import process

            # fork, as in the article: the pool processes inherit dot's matrices.
            context = multiprocessing.get_context("fork")
            # The whole batch goes into the call queue when it is submitted. By default the
            # queue holds W + 1 tasks and the manager thread of this process refills it as
            # results come in; with the W workers keeping every core busy that thread waits
            # to be scheduled, and a worker sat idle for its next task (5 ms of a 38 ms cpu
            # batch on 2 cores here). The constant is read only while the pool is built.
            depth = process.EXTRA_QUEUED_CALLS
            process.EXTRA_QUEUED_CALLS = max(depth, len(self.job[1]) if self.job else 0)
            try:
                self.pool = cf.ProcessPoolExecutor(
                    self.workers, mp_context=context, initializer=pool_process_init
                )
            finally:
                process.EXTRA_QUEUED_CALLS = depth
        elif self.kind == "interpreters":
            self.pool = cf.InterpreterPoolExecutor(self.workers)
        else:
            self.pool = None
            return
        # Warm: every worker started before the first timed batch.
        for f in [self.pool.submit(noop) for _ in range(self.workers)]:
            f.result()

    def load(self, message, blobs):
        workload = message["workload"]
        params = message["params"]
        PANICS.clear()
        PANICS.update(i for i, fault in params["faults"] if fault == "panic")
        if workload == "cpu":
            args = [int.from_bytes(b[:8], "little") for b in blobs]
        elif workload == "io":
            directory = params["endpoint"]
            args = [
                (os.path.join(directory, f"task-{i}.txt"), b.decode("ascii"), params["fsync"])
                for i, b in enumerate(blobs)
            ]
        elif workload == "api":
            import urllib.request  # noqa: F401  (imported here, outside the timed batch)

            timeout = params["timeout_ms"] / 1000.0
            args = [(params["endpoint"] + b.decode("ascii"), timeout) for b in blobs]
        elif workload == "dot":
            import numpy

            n = params["size"]
            MATRICES.clear()
            for b in blobs:
                values = numpy.frombuffer(b, dtype="<f8")
                MATRICES.append((values[: n * n].reshape(n, n), values[n * n :].reshape(n, n)))
            args = list(range(len(blobs)))
        else:
            raise ValueError(f"no Python version of workload {workload!r}")
        self.job = (workload, args)
        # A fresh pool for a new job: forked processes see the new globals.
        self.new_pool()

    def report(self, result):
        index, value, error, start, stop, ident, pid = result
        if isinstance(value, (bytes, bytearray)):
            value = value.hex()
        send({
            "op": "task", "task": index, "ok": error is None, "value": value, "error": error,
            "start": start, "stop": stop, "worker": self.lane((ident, pid)), "pid": pid,
        })

    def run(self):
        workload, args = self.job
        if self.pool is None:
            for i, arg in enumerate(args):
                self.report(started_then_run(workload, i, arg))
        else:
            # Threads say when each task starts, so a worker that dies names what it ran.
            fn = started_then_run if self.kind == "threads" else run_task
            futures = {self.pool.submit(fn, workload, i, arg): i for i, arg in enumerate(args)}
            broken = False
            for f in cf.as_completed(futures):
                try:
                    self.report(f.result())
                except BaseException as e:
                    broken = True
                    send({"op": "task", "task": futures[f], "ok": False, "value": None,
                          "error": f"{type(e).__name__}: {e}", "start": None, "stop": None,
                          "worker": None, "pid": None})
            if broken:
                # The pool lost a process: replace the whole pool before the next batch.
                self.new_pool()
        send({"op": "done"})


def watch_parent(parent):
    # parbench gone (even by SIGKILL): take the whole process group down with us.
    while True:
        time.sleep(0.2)
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)


def serve(kind, workers, switch_s):
    global OUT
    sys.setswitchinterval(switch_s)
    OUT = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    server = Server(kind, workers)
    stdin = sys.stdin.buffer
    send({"op": "ready", "pid": os.getpid()})
    while True:
        line = stdin.readline()
        if not line:
            return
        message = json.loads(line)
        op = message["op"]
        if op == "load":
            blobs = [read_exact(stdin, n) for n in message["sizes"]]
            server.load(message, blobs)
            send({"op": "loaded"})
        elif op == "run":
            server.run()
        elif op == "quit":
            if server.pool is not None:
                server.pool.shutdown(wait=True, cancel_futures=True)
            return
        else:
            raise ValueError(f"unknown message {op!r}")


def reset_stop_signals():
    # parbench starts this process without a pre-exec hook (a fork of the measuring parent
    # would write-protect its pages), so a stop signal that parbench's own parent ignored
    # is still ignored here. Put back what a fresh interpreter would have: its Ctrl-C
    # handler for SIGINT, the default for SIGTERM and SIGHUP. The signal mask is reset by
    # the spawn itself.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(
                sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
            )


def main():
    reset_stop_signals()
    mode = sys.argv[1]
    if mode == "probe":
        print(json.dumps(probe()))
    elif mode == "serve":
        try:
            serve(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        except BaseException as e:
            if OUT is not None:
                try:
                    send({"op": "fatal", "error": f"{type(e).__name__}: {e}"})
                except Exception:
                    pass
            raise
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
