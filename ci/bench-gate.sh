#!/usr/bin/env bash
# bench-gate.sh: fail CI when a change makes a benchmark slower, stay green when nothing changed.
#
#   ci/bench-gate.sh BASE_REF [HEAD_REF]    gate HEAD_REF (default: this working tree) vs BASE_REF
#   ci/bench-gate.sh --calibrate N          N A/A gates (HEAD vs HEAD, two builds) + N gates
#                                           with a known slowdown on head
#
# Method (ci/README.md has the details and the measured figures): build both sides
# first, the base in a git worktree and into its own target directory; then run ROUNDS short
# Criterion passes per side, alternating which side goes first (A B, B A, A B, ...), each saved as
# baseline base_i / head_i in one shared CRITERION_HOME; `parbench compare` judges the paired
# ratios head_i/base_i; whatever regressed is measured again for ROUNDS more rounds and the gate
# fails only if it regresses again.
#
# Exit: 0 pass, 1 regression confirmed, 2 usage, build or data error.
#
# Environment (all optional):
#   PARBENCH_GATE_FILTER     regex over bench ids [cpu and dot: serial at 1 worker and every
#                            executor at 2; overhead_dispatch and overhead_start_stop of threads,
#                            pool and rayon at 2 workers: about 20 benches, about 9 s each per
#                            gate at the default times]. An executor at 1 worker differs from
#                            serial only by its dispatch cost, which overhead_dispatch gates
#                            directly. api and io are left out by default: api
#                            times a local HTTP server (connection set-up, scheduler wake-ups) and
#                            io times the page cache and the disk, so both swing far more than 5%
#                            run to run on a shared runner and would need a much larger threshold;
#                            their code paths (client, file writes) are also mostly not ours.
#   PARBENCH_GATE_ROUNDS     pairs per stage [5]
#   PARBENCH_GATE_THRESHOLD  percent slowdown that counts [5]
#   PARBENCH_GATE_WARMUP     Criterion --warm-up-time, seconds [0.2]
#   PARBENCH_GATE_MEASURE    Criterion --measurement-time, seconds [0.5]
#   PARBENCH_GATE_STATISTIC  what stands for one pass: median (Criterion's) or min (the fastest
#                            sample, robust to bursts of host noise with longer passes) [median]
#   PARBENCH_PROFILE         the suite's profile [quick: 1/16 of the work per task]
#   PARBENCH_GATE_BENCH      cargo bench target [bench_main]
#   PARBENCH_GATE_WORK       scratch dir: base worktree, base target dir, logs [<target>/bench-gate]
#   CRITERION_HOME           where baselines go [<target>/criterion]
#   CARGO_TARGET_DIR         head's target dir [<repo>/target]
#   other PARBENCH_*         passed through to the benches unchanged (PARBENCH_WORKERS, ...)
#   GITHUB_STEP_SUMMARY      when set, the Markdown summary is appended to it
# Calibration only:
#   PARBENCH_CALIBRATE_SLOWDOWN  factor given to the head side as PARBENCH_SLOWDOWN [1.07]. The
#                                cpu workload alone reads it: it runs that many more loop steps
#                                (same output), so only cpu benches can detect it; the default
#                                calibration filter therefore selects cpu benches only.
set -euo pipefail

die() {
    printf 'bench-gate: %s\n' "$*" >&2
    exit 2
}

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

DEFAULT_FILTER='^(cpu|dot)/(serial/1|[^/]+/2)$|^overhead[/_](dispatch|start_stop)/(threads|pool|rayon)/2$'
CALIBRATE_FILTER='^cpu/(serial/1|rayon/2)$'

MODE=gate
CAL_N=0
BASE_REF=""
HEAD_REF=""
case "${1:-}" in
    -h | --help) usage 0 ;;
    --calibrate)
        MODE=calibrate
        CAL_N="${2:-}"
        [[ "$CAL_N" =~ ^[1-9][0-9]*$ ]] || die "--calibrate needs a positive count, e.g. --calibrate 10"
        [[ $# -le 2 ]] || usage
        ;;
    "" | -*) usage ;;
    *)
        BASE_REF="$1"
        HEAD_REF="${2:-}"
        [[ $# -le 2 ]] || usage
        ;;
esac

ROUNDS="${PARBENCH_GATE_ROUNDS:-5}"
THRESHOLD="${PARBENCH_GATE_THRESHOLD:-5}"
WARMUP="${PARBENCH_GATE_WARMUP:-0.2}"
MEASURE="${PARBENCH_GATE_MEASURE:-0.5}"
STATISTIC="${PARBENCH_GATE_STATISTIC:-median}"
# The suite's quick profile (1/16 of the work per task) unless the caller chose one: a gate
# compares like with like, so it needs short benches, not the figures of the article.
export PARBENCH_PROFILE="${PARBENCH_PROFILE:-quick}"
BENCH="${PARBENCH_GATE_BENCH:-bench_main}"
SLOWDOWN="${PARBENCH_CALIBRATE_SLOWDOWN:-1.07}"
if [[ "$MODE" == calibrate ]]; then
    FILTER="${PARBENCH_GATE_FILTER:-$CALIBRATE_FILTER}"
else
    FILTER="${PARBENCH_GATE_FILTER:-$DEFAULT_FILTER}"
fi
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "PARBENCH_GATE_ROUNDS=$ROUNDS is not a positive integer"
[[ "$THRESHOLD" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "PARBENCH_GATE_THRESHOLD=$THRESHOLD is not a percentage"
[[ "$WARMUP" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "PARBENCH_GATE_WARMUP=$WARMUP is not seconds"
[[ "$MEASURE" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "PARBENCH_GATE_MEASURE=$MEASURE is not seconds"
[[ "$STATISTIC" =~ ^(median|min)$ ]] || die "PARBENCH_GATE_STATISTIC=$STATISTIC is not median or min"
command -v jq >/dev/null || die "jq is required (apt-get install jq)"
command -v cargo >/dev/null || die "cargo is not on PATH"

REPO="$(git rev-parse --show-toplevel 2>/dev/null)" || die "run from inside a git checkout"
abspath() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "$PWD/$1" ;;
    esac
}
HEAD_TARGET="$(abspath "${CARGO_TARGET_DIR:-$REPO/target}")"
WORK="$(abspath "${PARBENCH_GATE_WORK:-$HEAD_TARGET/bench-gate}")"
CRIT="$(abspath "${CRITERION_HOME:-$HEAD_TARGET/criterion}")"
LOG="$WORK/bench.log"
mkdir -p "$WORK" "$CRIT"
: >"$LOG"
rm -f "$WORK/summary.md"

# Worktrees made by this run; removed on any exit.
WORKTREES=()
cleanup() {
    local wt
    for wt in "${WORKTREES[@]+"${WORKTREES[@]}"}"; do
        git -C "$REPO" worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"
    done
    git -C "$REPO" worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# add_worktree DIR REF: a detached checkout of REF at DIR (replacing a stale one).
add_worktree() {
    local dir="$1" ref="$2"
    git -C "$REPO" rev-parse --verify --quiet "$ref^{commit}" >/dev/null || die "unknown revision $ref"
    if [[ -e "$dir" ]]; then
        git -C "$REPO" worktree remove --force "$dir" >/dev/null 2>&1 || rm -rf "$dir"
        git -C "$REPO" worktree prune
    fi
    WORKTREES+=("$dir")
    git -C "$REPO" worktree add --detach --quiet "$dir" "$ref" || die "git worktree add $ref failed"
}

# build_bench SRC TARGET: builds the bench in release mode and prints its executable.
build_bench() {
    local src="$1" target="$2" exe
    echo "bench-gate: building $BENCH in $src (target $target)" >&2
    exe="$(cd "$src" && CARGO_TARGET_DIR="$target" cargo bench --bench "$BENCH" --no-run \
        --message-format=json-render-diagnostics |
        jq -r --arg b "$BENCH" 'select(.reason == "compiler-artifact" and .target.name == $b
            and (.target.kind | index("bench")) and .executable != null) | .executable' |
        tail -n 1)" || die "building $BENCH in $src failed"
    [[ -x "$exe" ]] || die "no executable for bench $BENCH in $src"
    printf '%s\n' "$exe"
}

# build_parbench SRC TARGET: the parbench binary that judges (always from this checkout).
build_parbench() {
    local src="$1" target="$2"
    echo "bench-gate: building parbench in $src" >&2
    (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --release --quiet --bin parbench) ||
        die "building parbench failed"
    printf '%s\n' "$target/release/parbench"
}

# clean_baselines PREFIX: removes saved baselines PREFIX_<n> so no stale pass is mixed in.
clean_baselines() {
    local prefix="$1" dir
    while IFS= read -r -d '' dir; do
        if [[ -f "$dir/estimates.json" ]]; then
            rm -rf "$dir"
        fi
    done < <(find "$CRIT" -mindepth 2 -type d -name "${prefix}_[0-9]*" -print0)
}

# pass SIDE NAME FILTER: one short Criterion pass of one side, saved as baseline NAME.
pass() {
    local side="$1" name="$2" filter="$3" exe src
    local -a vars=(CRITERION_HOME="$CRIT")
    if [[ "$side" == base ]]; then
        exe="$BASE_EXE" src="$BASE_SRC"
    else
        exe="$HEAD_EXE" src="$HEAD_SRC"
        if [[ -n "${HEAD_SLOWDOWN:-}" ]]; then
            vars+=(PARBENCH_SLOWDOWN="$HEAD_SLOWDOWN")
        fi
    fi
    echo "=== $name ($side): ${vars[*]} $exe" >>"$LOG"
    (cd "$src" && env "${vars[@]}" "$exe" --bench --noplot --warm-up-time "$WARMUP" \
        --measurement-time "$MEASURE" --save-baseline "$name" "$filter") >>"$LOG" 2>&1 ||
        die "bench pass $name failed; see $LOG"
}

# stage PREFIX FILTER: ROUNDS interleaved rounds, baselines ${PREFIX}base_i / ${PREFIX}head_i.
stage() {
    local prefix="$1" filter="$2" i t0
    clean_baselines "${prefix}base"
    clean_baselines "${prefix}head"
    for ((i = 1; i <= ROUNDS; i++)); do
        t0=$SECONDS
        if ((i % 2 == 1)); then
            pass base "${prefix}base_$i" "$filter"
            pass head "${prefix}head_$i" "$filter"
        else
            pass head "${prefix}head_$i" "$filter"
            pass base "${prefix}base_$i" "$filter"
        fi
        echo "bench-gate: ${prefix}round $i/$ROUNDS done in $((SECONDS - t0)) s" >&2
    done
}

names() {
    local prefix="$1" i out=""
    for ((i = 1; i <= ROUNDS; i++)); do out+="${out:+,}${prefix}_$i"; done
    printf '%s\n' "$out"
}

# judge PREFIX FILTER THRESHOLD FORMAT: runs parbench compare; its exit code is returned.
judge() {
    local prefix="$1" filter="$2" threshold="$3" format="$4"
    "$PARBENCH" compare --criterion-dir "$CRIT" --base "$(names "${prefix}base")" \
        --head "$(names "${prefix}head")" --threshold "$threshold" --filter "$filter" \
        --format "$format" --statistic "$STATISTIC"
}

# regressed_regex JSON_FILE: an anchored regex matching exactly the regressed ids.
regressed_regex() {
    # shellcheck disable=SC2016 # a literal $ in a sed script
    jq -r '.rows[] | select(.verdict == "regressed") | .id' "$1" |
        sed -e 's/[][\\.*^$()+?{}|]/\\&/g' | paste -sd '|' - | sed -e 's/^\(..*\)$/^(\1)$/'
}

# gate_once TAG: stage 1, and a re-check of whatever regressed; sets GATE_RC and writes
# $WORK/TAG.md. Returns nothing else; a compare error (exit 2) aborts the script.
gate_once() {
    local tag="$1" rc flagged
    stage "" "$FILTER"
    rc=0
    judge "" "$FILTER" "$THRESHOLD" json >"$WORK/$tag-stage1.json" || rc=$?
    ((rc <= 1)) || die "parbench compare failed (exit $rc)"
    judge "" "$FILTER" "$THRESHOLD" table || true
    {
        echo "**Stage 1: $ROUNDS interleaved rounds**"
        echo
        judge "" "$FILTER" "$THRESHOLD" markdown || true
    } >"$WORK/$tag.md"
    GATE_RC=$rc
    if ((rc == 1)); then
        flagged="$(regressed_regex "$WORK/$tag-stage1.json")"
        echo "bench-gate: re-checking $flagged" >&2
        stage recheck_ "$flagged"
        rc=0
        judge recheck_ "$flagged" "$THRESHOLD" json >"$WORK/$tag-stage2.json" || rc=$?
        ((rc <= 1)) || die "parbench compare failed on the re-check (exit $rc)"
        judge recheck_ "$flagged" "$THRESHOLD" table || true
        {
            echo
            echo "**Stage 2: re-check of the flagged benchmarks, $ROUNDS more rounds**"
            echo
            judge recheck_ "$flagged" "$THRESHOLD" markdown || true
        } >>"$WORK/$tag.md"
        GATE_RC=$rc
    fi
}

write_summary() {
    local title="$1" body="$2"
    {
        echo "## $title"
        echo
        cat "$body"
    } >"$WORK/summary.md"
    if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
        cat "$WORK/summary.md" >>"$GITHUB_STEP_SUMMARY"
    fi
}

# build_sides: builds head (HEAD_SRC) and base (BASE_SRC) benches and the judging parbench.
build_sides() {
    HEAD_EXE="$(build_bench "$HEAD_SRC" "$HEAD_TARGET")"
    # A first base build reuses head's compiled dependencies: they do not depend on the
    # revision or the target directory, and copying them saves a full release build.
    if [[ ! -d "$WORK/base-target/release" && -d "$HEAD_TARGET/release" ]]; then
        echo "bench-gate: seeding $WORK/base-target from $HEAD_TARGET/release" >&2
        mkdir -p "$WORK/base-target"
        cp -a "$HEAD_TARGET/release" "$WORK/base-target/"
    fi
    BASE_EXE="$(build_bench "$BASE_SRC" "$WORK/base-target")"
    PARBENCH="$(build_parbench "$REPO" "$HEAD_TARGET")"
}

START=$SECONDS
BASE_SRC="$WORK/base-src"
if [[ "$MODE" == gate ]]; then
    add_worktree "$BASE_SRC" "$BASE_REF"
    if [[ -n "$HEAD_REF" ]]; then
        HEAD_SRC="$WORK/head-src"
        add_worktree "$HEAD_SRC" "$HEAD_REF"
    else
        HEAD_SRC="$REPO"
    fi
    build_sides
    BUILT=$SECONDS
    GATE_RC=0
    gate_once gate
    base_sha="$(git -C "$BASE_SRC" rev-parse --short HEAD)"
    head_sha="$(git -C "$HEAD_SRC" rev-parse --short HEAD)"
    if [[ -z "$HEAD_REF" && -n "$(git -C "$REPO" status --porcelain)" ]]; then
        head_sha+="+dirty"
    fi
    verdict=$([[ $GATE_RC -eq 0 ]] && echo PASS || echo "FAIL: regression confirmed by the re-check")
    {
        cat "$WORK/gate.md"
        echo
        echo "Filter \`$FILTER\`, threshold $THRESHOLD%, warm-up ${WARMUP}s, measurement ${MEASURE}s," \
            "statistic $STATISTIC;" \
            "builds $((BUILT - START)) s, measurement $((SECONDS - BUILT)) s."
    } >"$WORK/gate-full.md"
    write_summary "Benchmark gate $base_sha -> $head_sha: $verdict" "$WORK/gate-full.md"
    echo "bench-gate: $verdict (builds $((BUILT - START)) s, measurement $((SECONDS - BUILT)) s)" >&2
    echo "bench-gate: summary in $WORK/summary.md, baselines in $CRIT, log in $LOG" >&2
    exit "$GATE_RC"
fi

# Calibration: two builds of the same commit, exactly as a gate of an unchanged PR sees them
# (so build-to-build differences such as code layout count as noise), and the injected
# slowdown on head in every other gate. Each gate keeps its own CRITERION_HOME so that other
# thresholds can be re-judged afterwards without measuring again: stage 2 runs over everything
# that regressed at the lowest candidate threshold, which covers every higher threshold (a row
# that regresses at T also regresses at any lower T).
CANDIDATES=(2 3 4 5 6 7 8 10)
LOWEST="${CANDIDATES[0]}"
if [[ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]]; then
    die "--calibrate compares HEAD with this working tree: commit or stash your changes first"
fi
add_worktree "$BASE_SRC" HEAD
HEAD_SRC="$REPO"
build_sides
CAL="$WORK/calibrate"
rm -rf "$CAL"
mkdir -p "$CAL"
runs=()
for ((r = 1; r <= CAL_N; r++)); do
    for kind in aa slow; do
        t0=$SECONDS
        run="$kind-$r"
        CRIT="$CAL/$run"
        mkdir -p "$CRIT"
        HEAD_SLOWDOWN=""
        if [[ "$kind" == slow ]]; then
            HEAD_SLOWDOWN="$SLOWDOWN"
        fi
        stage "" "$FILTER"
        rc=0
        judge "" "$FILTER" "$LOWEST" json >"$CRIT/stage1.json" || rc=$?
        ((rc <= 1)) || die "parbench compare failed in $run (exit $rc)"
        if ((rc == 1)); then
            stage recheck_ "$(regressed_regex "$CRIT/stage1.json")"
        fi
        runs+=("$run")
        echo "bench-gate: calibration $run done in $((SECONDS - t0)) s" >&2
    done
done

# confirmed RUN T: how many benchmarks the gate at threshold T would fail on, on that run's data
# (regressed in stage 1 and again in the re-check).
confirmed() {
    local run="$1" t="$2" flagged rc
    CRIT="$CAL/$run"
    rc=0
    judge "" "$FILTER" "$t" json >"$CAL/$run.t$t.json" || rc=$?
    ((rc <= 1)) || die "parbench compare failed on $run (exit $rc)"
    if ((rc == 0)); then
        echo 0
        return
    fi
    flagged="$(regressed_regex "$CAL/$run.t$t.json")"
    rc=0
    judge recheck_ "$flagged" "$t" json >"$CAL/$run.t$t.recheck.json" || rc=$?
    ((rc <= 1)) || die "parbench compare failed on $run re-check (exit $rc)"
    jq '[.rows[] | select(.verdict == "regressed")] | length' "$CAL/$run.t$t.recheck.json"
}

# Benchmarks per gate, for the per-benchmark false-failure rate.
nbench="$(jq '[.rows[] | select(.verdict != "missing")] | length' "$CAL/${runs[0]}/stage1.json")"
{
    echo "Calibration: $CAL_N A/A gates and $CAL_N gates with PARBENCH_SLOWDOWN=$SLOWDOWN on head;"
    echo "filter \`$FILTER\` ($nbench benchmarks), $ROUNDS rounds, warm-up ${WARMUP}s, measurement ${MEASURE}s,"
    echo "statistic $STATISTIC;"
    echo "$((SECONDS - START)) s in all."
    echo
    echo "| threshold | A/A gates failed | A/A benchmarks failed | slowdown gates failed |"
    echo "|---:|---:|---:|---:|"
} >"$CAL/report.md"
good=()
best_detect=-1
for t in "${CANDIDATES[@]}"; do
    ff=0 det=0 ffb=0
    for run in "${runs[@]}"; do
        n="$(confirmed "$run" "$t")"
        if ((n > 0)); then
            if [[ "$run" == aa-* ]]; then
                ff=$((ff + 1)) ffb=$((ffb + n))
            else
                det=$((det + 1))
            fi
        fi
    done
    echo "| $t% | $ff / $CAL_N | $ffb / $((CAL_N * nbench)) | $det / $CAL_N |" >>"$CAL/report.md"
    # Acceptable: at most 1 false failure in 20 gates (5%).
    if ((ff * 20 <= CAL_N)); then
        if ((det > best_detect)); then
            best_detect=$det
            good=("$t")
        elif ((det == best_detect)); then
            good+=("$t")
        fi
    fi
done
{
    echo
    if ((${#good[@]} == 0)); then
        echo "No candidate threshold kept A/A false failures at or below 5%: this runner is too" \
            "noisy for this filter. Lengthen PARBENCH_GATE_MEASURE or narrow the filter."
    else
        echo "A gate over more benchmarks fails more often by chance: with a per-benchmark" \
            "false-failure rate p, a gate over n benchmarks fails A/A with probability 1-(1-p)^n."
        # The middle of the thresholds that tie for the best detection: as far as possible from
        # both the A/A noise and the injected slowdown.
        pick="${good[$(((${#good[@]} - 1) / 2))]}"
        echo "Recommended threshold: **$pick%** (thresholds with <= 5% false failures and the" \
            "best detection, $best_detect / $CAL_N: ${good[*]/%/%})."
        if ((best_detect * 20 < CAL_N * 19)); then
            echo "Detection stays below 19 in 20: a $SLOWDOWN slowdown is near this runner's" \
                "noise; lengthen PARBENCH_GATE_MEASURE or add rounds."
        fi
    fi
} >>"$CAL/report.md"
cat "$CAL/report.md"
write_summary "Benchmark gate calibration" "$CAL/report.md"
