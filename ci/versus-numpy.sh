#!/usr/bin/env bash
# parbench's dgemm against numpy's, side by side in one run.
#
#   ci/versus-numpy.sh [ROUNDS]      (default 3; SIZES="1000 2400" and REPEATS=5 override)
#
# For each size and each of 1 and 2 threads it alternates, ROUNDS times: parbench's dot
# kernel (`examples/dgemm.rs`: matrixmultiply, on --inner-threads 1 or 2), the same kernel
# through numpy's own OpenBLAS loaded with PARBENCH_BLAS, and numpy's `a @ b` (held to one
# BLAS thread with threadpoolctl for 1, numpy's default for 2). Each side's figure is its
# best repetition in GFLOP/s over all rounds, so both sides are timed the same way.
# It prints which kernel numpy runs (threadpoolctl's threadpool_info()), then a Markdown
# table. numpy comes from a venv under target/ that the script makes when needed; without
# numpy it says so and prints parbench's figures alone.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-3}"
sizes="${SIZES:-1000 2400}"
repeats="${REPEATS:-5}"
case "$rounds" in
    '' | *[!0-9]* | 0) echo "versus-numpy: ROUNDS '$rounds' must be a positive integer" >&2; exit 2 ;;
esac

cargo build --release --quiet --example dgemm
dgemm=target/release/examples/dgemm

venv=target/versus-numpy
python=""
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import numpy, threadpoolctl' 2>/dev/null; then
    python="$venv/bin/python"
elif python3 -m venv "$venv" >/dev/null 2>&1 &&
    "$venv/bin/pip" install --quiet numpy threadpoolctl >/dev/null 2>&1; then
    python="$venv/bin/python"
else
    echo "versus-numpy: numpy is not available (no venv or no PyPI here): skipping numpy" >&2
fi

numpy_gflops() { # size threads repeats
    "$python" - "$@" <<'PY'
import sys, time
import numpy as np
from threadpoolctl import threadpool_limits
n, threads, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(2017)
a, b = rng.random((n, n)), rng.random((n, n))
c = np.empty((n, n))
limit = threadpool_limits(1) if threads == 1 else None
np.matmul(a, b, out=c)
best = min(
    (lambda t0: (np.matmul(a, b, out=c), time.perf_counter() - t0)[1])(time.perf_counter())
    for _ in range(repeats)
)
print(f"{2 * n**3 / best / 1e9:.1f}")
PY
}

blas=""
if [ -n "$python" ]; then
    echo "numpy's BLAS (threadpoolctl.threadpool_info()):"
    "$python" -c '
import numpy, threadpoolctl
print("  numpy", numpy.__version__)
for p in threadpoolctl.threadpool_info():
    print("  {internal_api} {version}, architecture {architecture}, {num_threads} threads, {filepath}".format(**p))
'
    blas="$("$python" -c '
import numpy, threadpoolctl
print(next((p["filepath"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"), ""))
')"
fi

ours() { # size threads [blas]
    PARBENCH_BLAS="${3:-}" "$dgemm" "$1" "$2" "$repeats" | sed 's/.*gflops=//'
}
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 > b + 0) ? a : b }'; }
ratio() { [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || echo "-"; }

echo
echo "| n | threads | parbench (matrixmultiply) | parbench (numpy's OpenBLAS) | numpy | ratio | ratio (OpenBLAS) |"
echo "|---|---|---|---|---|---|---|"
for n in $sizes; do
    for threads in 1 2; do
        mm="" viablas="" np=""
        for _ in $(seq "$rounds"); do
            mm="$(max "$(ours "$n" "$threads")" "$mm")"
            if [ -n "$python" ]; then
                [ -n "$blas" ] && viablas="$(max "$(ours "$n" "$threads" "$blas")" "$viablas")"
                np="$(max "$(numpy_gflops "$n" "$threads" "$repeats")" "$np")"
            fi
        done
        echo "| $n | $threads | $mm | ${viablas:--} | ${np:--} | $(ratio "$mm" "$np") | $(if [ -n "$viablas" ]; then ratio "$viablas" "$np"; else echo -; fi) |"
    done
done
echo
echo "GFLOP/s, best of $repeats repetitions in each of $rounds alternating rounds; threads 2 is"
echo "parbench's --inner-threads 2 against numpy's default BLAS threads."
