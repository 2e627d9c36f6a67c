#!/usr/bin/env bash
# Load on the two mock API servers (mockito, and our keep-alive server): each runs alone in a
# child process and gets 10,000 requests with 1,024 in flight (examples/load.rs). Reports
# requests held at once, refused and failed, the server's peak descriptors, threads and
# memory, and whether anything still listens afterwards.
#
#   ci/load.sh [OUT.md]        # default: results/load-YYYY-MM-DD.md
#
# REQUESTS, IN_FLIGHT and LATENCY_MS override the load. Bounded: a fixed count, a timeout
# on every request and on the whole run (15 min), loopback only. Exit 1 when a request did
# not succeed or a port was left listening.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${REQUESTS:-10000}
in_flight=${IN_FLIGHT:-1024}
latency_ms=${LATENCY_MS:-20}
out=${1:-results/load-$(date +%F).md}

cargo build --release --quiet --example load
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
timeout 900 target/release/examples/load --requests "$requests" --in-flight "$in_flight" \
  --latency-ms "$latency_ms" >"$report" || status=$?

{
  echo "# Load on the mock API servers, $(date -u '+%F %H:%M UTC')"
  echo
  echo "\`ci/load.sh\`: $requests requests, $in_flight in flight, server latency $latency_ms ms;"
  echo "each server alone in a child process, driven by a tokio client on 2 threads."
  echo "Host: $(nproc) vCPUs, $(uname -sr), descriptor limit raised to $(ulimit -Hn) (hard)."
  echo
  cat "$report"
  echo
  echo "- held at once: the most requests sent and not yet answered at one moment."
  echo "- refused: connection refused or reset before an answer; failed: any other error."
  echo "- peak fds and threads: sampled every 2 ms from /proc; RSS: the server's VmHWM."
  echo "- listening after: a LISTEN socket on the server's port once it stopped."
  echo "- exit status of the driver: $status"
} | tee "$out"
echo "wrote $out" >&2
exit "$status"
