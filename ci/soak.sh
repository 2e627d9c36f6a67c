#!/usr/bin/env bash
# Soak: back-to-back small sweeps for a given time, to show that nothing grows run after run.
#
#   ci/soak.sh DURATION [OUT.md]     # DURATION: 180, 90s, 3m or 1h
#
# Each sweep is `parbench run -w all -e all -n 1,2 --budget-s 0.2 -f json` (PARBENCH_ARGS
# overrides it) with a private TMPDIR. Once a minute (and for the first sweep) the sweep's
# process is sampled at rest: after its sweep, with every pool, server and temporary
# directory dropped, while it writes its report into a pipe that is not read yet (the JSON is
# larger than the pipe, so the process waits there; SIGSTOP holds it meanwhile). The last
# sweep is sampled too. Sampled: its descriptors, threads,
# resident memory (VmRSS) and peak (VmHWM), its child processes, and the parbench-* temporary
# directories. Between sweeps, parbench processes left over from a sweep are counted. The end
# prints the growth from the first sample to the last.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
  echo "usage: ci/soak.sh DURATION [OUT.md]   (DURATION: 180, 90s, 3m, 1h)" >&2
  exit 2
fi
case "$1" in
  *h) seconds=$((${1%h} * 3600)) ;;
  *m) seconds=$((${1%m} * 60)) ;;
  *s) seconds=${1%s} ;;
  *) seconds=$1 ;;
esac
if ! [ "$seconds" -gt 0 ] 2>/dev/null; then
  echo "ci/soak.sh: duration '$1' is not a positive time (180, 90s, 3m, 1h)" >&2
  exit 2
fi
out=${2:-}
read -r -a args <<<"${PARBENCH_ARGS:--w all -e all -n 1,2 --budget-s 0.2}"

cargo build --release --quiet
bin=$PWD/target/release/parbench
work=$(mktemp -d -t soak-XXXXXX)
sweep_tmp=$work/tmp
mkdir "$sweep_tmp"
fifo=$work/report
mkfifo "$fifo"
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

status_field() { awk -v f="$2" '$1 == f { print $2 }' "/proc/$1/status"; }
children_of() { ps -o pid= --ppid "$1" | wc -l; }
temp_dirs() { find "$sweep_tmp" -mindepth 1 -maxdepth 1 -name 'parbench-*' | wc -l; }
# parbench processes started by this soak (they carry its TMPDIR) still alive.
strays() {
  local n=0 p
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = parbench ] || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "TMPDIR=$sweep_tmp" && n=$((n + 1))
  done
  echo "$n"
}

rows=()
first=()
last=()
sweeps=0
failed=0
stray_total=0
start=$(date +%s)
end=$((start + seconds))
next_sample=$start
while [ "$(date +%s)" -lt "$end" ]; do
  TMPDIR=$sweep_tmp "$bin" run "${args[@]}" -f json -q >"$fifo" 2>"$work/err" &
  pid=$!
  exec 3<"$fifo"
  sample=
  # The first byte of the report: the sweep is over and the process is writing.
  # It waits there on the full pipe; SIGSTOP holds it even if the report were to fit.
  # Every sweep is sampled; the first, one a minute and the last are kept.
  if IFS= read -r -n 1 -u 3 _; then
    kill -STOP "$pid" 2>/dev/null || true
    state=$(status_field "$pid" State: 2>/dev/null || true)
    if [ -n "$state" ] && [ "$state" != Z ]; then
      sample="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l) \
$(status_field "$pid" Threads:) $(status_field "$pid" VmRSS:) $(status_field "$pid" VmHWM:) \
$(children_of "$pid") $(temp_dirs)"
    fi
    kill -CONT "$pid" 2>/dev/null || true
  fi
  cat <&3 >/dev/null
  exec 3<&-
  code=0
  wait "$pid" || code=$?
  pid=
  sweeps=$((sweeps + 1))
  if [ "$code" -ne 0 ]; then
    failed=$((failed + 1))
    echo "soak: sweep $sweeps exited $code: $(head -c 300 "$work/err")" >&2
  fi
  left=$(strays)
  stray_total=$((stray_total + left))
  now=$(date +%s)
  [ -n "$sample" ] && echo "$sample" >>"$work/samples"
  if [ -n "$sample" ] && { [ "$now" -ge "$next_sample" ] || [ "$now" -ge "$end" ]; }; then
    elapsed=$((now - start))
    read -r -a s <<<"$sample"
    rows+=("| $elapsed | $sweeps | ${s[0]} | ${s[1]} | ${s[2]} | ${s[3]} | ${s[4]} | ${s[5]} | $left |")
    [ ${#first[@]} -eq 0 ] && first=("${s[@]}")
    last=("${s[@]}")
    while [ "$next_sample" -le "$now" ]; do next_sample=$((next_sample + 60)); done
  fi
done

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%+.1f%%", 100 * (b - a) / a; else print "n/a" }'; }
# Column $1 of the samples: "min-max".
range() { awk -v c="$1" 'NR == 1 || $c < lo { lo = $c } NR == 1 || $c > hi { hi = $c } END { print lo "-" hi }' "$work/samples"; }
# Median of column $1 over the first (head) or last (tail) 10 sweeps.
median() { "$2" -n 10 "$work/samples" | awk -v c="$1" '{ print $c }' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
{
  echo "# Soak: ${seconds} s of back-to-back sweeps, $(date -u '+%F %H:%M UTC')"
  echo
  echo "\`ci/soak.sh $1\`: \`parbench run ${args[*]} -f json\` back to back, $sweeps sweeps, $failed failed."
  echo "Each sample is one sweep's process at rest (after its sweep, writing its report)."
  echo
  echo "| elapsed s | sweeps | fds | threads | VmRSS kB | VmHWM kB | child processes | parbench-* temp dirs | leftover processes after it |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  if [ ${#first[@]} -gt 0 ]; then
    echo "Growth, first sample to last: fds $((last[0] - first[0])), threads $((last[1] - first[1])), \
VmRSS $(pct "${first[2]}" "${last[2]}"), VmHWM $(pct "${first[3]}" "${last[3]}"), \
child processes at rest ${last[4]}, temp dirs at rest ${last[5]}, leftover processes over all sweeps $stray_total."
    echo
    echo "Over all $(wc -l <"$work/samples") sweeps sampled: fds $(range 1), threads $(range 2), \
child processes $(range 5), temp dirs $(range 6); median VmRSS of the first 10 sweeps \
$(median 3 head) kB, of the last 10 $(median 3 tail) kB ($(pct "$(median 3 head)" "$(median 3 tail)")); \
median VmHWM $(median 4 head) kB and $(median 4 tail) kB ($(pct "$(median 4 head)" "$(median 4 tail)")). \
Each sweep is a new process, so its memory at rest varies with what the allocator kept \
from its sweep; the medians compare like with like."
  else
    echo "No sample was taken (no sweep reached its report)."
  fi
} | if [ -n "$out" ]; then tee "$out"; else cat; fi
[ "$failed" -eq 0 ] && [ "$stray_total" -eq 0 ]
