#!/usr/bin/env bash
# bench-gate.sh: fail CI when a change makes a benchmark slower, stay green when nothing changed.
#
#   ci/bench-gate.sh BASE_REF [HEAD_REF]    gate HEAD_REF (default: this working tree) vs BASE_REF
#   ci/bench-gate.sh --calibrate N          N A/A gates and N gates per injected slowdown
#                                           (2, 3, 5, 7%): what this runner can detect
#
# The script only builds: head in this checkout, base in a git worktree into its own target
# directory. The measuring and the verdicts are `parbench gate` (ci/README.md explains the
# method and the figures measured): both builds run as `parbench serve` and take short paired
# turns, batch by batch, in a random order.
#
# Exit: 0 pass, 1 regression, 2 usage, build or gate error.
#
# Environment (all optional):
#   PARBENCH_GATE_FILTER     regex over benchmark ids [parbench gate's default: cpu and dot at
#                            serial/1 and every executor at 2 workers, the start/stop overhead
#                            of threads, pool and rayon at 2, their dispatch overhead at 2
#                            (rayon: at 1): 20 benchmarks]
#   PARBENCH_GATE_THRESHOLD  percent slowdown that fails [3]
#   PARBENCH_GATE_BUDGET     seconds of paired turns per benchmark at most [10]
#   PARBENCH_CALIBRATE_FILTER  filter of the calibration [^(cpu|dot)/(serial/1|rayon/2)$]
#   PARBENCH_GATE_WORK       scratch dir: both checkouts (git worktrees, kept so that the
#                            next run's build is cached), their target dirs, reports
#                            [<target>/bench-gate]
#   CARGO_TARGET_DIR         head's target dir [<repo>/target]
#   GITHUB_STEP_SUMMARY      when set, the Markdown summary is appended to it
set -euo pipefail

die() {
    printf 'bench-gate: %s\n' "$*" >&2
    exit 2
}

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

MODE=gate
CAL_N=0
BASE_REF=""
HEAD_REF=""
case "${1:-}" in
    -h | --help)
        sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    --calibrate)
        MODE=calibrate
        CAL_N="${2:-}"
        [[ "$CAL_N" =~ ^[1-9][0-9]*$ ]] || die "--calibrate needs a positive count, e.g. --calibrate 20"
        [[ $# -le 2 ]] || usage
        ;;
    "" | -*) usage ;;
    *)
        BASE_REF="$1"
        HEAD_REF="${2:-}"
        [[ $# -le 2 ]] || usage
        ;;
esac

THRESHOLD="${PARBENCH_GATE_THRESHOLD:-3}"
BUDGET="${PARBENCH_GATE_BUDGET:-10}"
CAL_FILTER="${PARBENCH_CALIBRATE_FILTER:-^(cpu|dot)/(serial/1|rayon/2)$}"
SLOWDOWNS=(2 3 5 7)
[[ "$THRESHOLD" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "PARBENCH_GATE_THRESHOLD=$THRESHOLD is not a percentage"
[[ "$BUDGET" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "PARBENCH_GATE_BUDGET=$BUDGET is not seconds"
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
mkdir -p "$WORK"

trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# checkout DIR REF: DIR as a detached checkout of REF. The checkouts are kept between runs
# (under $WORK, beside their target directories) and moved to the new revision in place: git
# rewrites only the files that differ, so cargo's build of everything else stays fresh. A
# checkout made anew each run gave every file a new time stamp and cost two rebuilds of the
# parbench crate (about a minute each here) on every gate. A checkout that is not a working
# worktree of this repository (one restored from a CI cache, whose .git file points into
# another clone's .git) fails the rev-parse below and is made anew.
checkout() {
    local dir="$1" ref="$2" commit
    commit="$(git -C "$REPO" rev-parse --verify --quiet "$ref^{commit}")" || die "unknown revision $ref"
    if [[ -e "$dir/.git" ]] && [[ "$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null)" == "$dir" ]]; then
        { git -C "$dir" reset --hard --quiet && git -C "$dir" clean -fdq &&
            git -C "$dir" checkout --detach --quiet "$commit"; } || die "cannot move $dir to $ref"
    else
        rm -rf "$dir"
        git -C "$REPO" worktree prune
        git -C "$REPO" worktree add --detach --quiet "$dir" "$commit" || die "git worktree add $ref failed"
    fi
}

# build SRC TARGET: builds the parbench binary of SRC into TARGET and prints its path.
build() {
    local src="$1" target="$2"
    echo "bench-gate: building parbench in $src (target $target)" >&2
    (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --release --quiet --bin parbench) ||
        die "building parbench in $src failed"
    [[ -x "$target/release/parbench" ]] || die "no parbench binary in $target/release"
    printf '%s\n' "$target/release/parbench"
}

# seed_target DIR: a first build into DIR reuses head's compiled dependencies (they depend on
# neither the revision nor the target directory), which saves a full release build.
seed_target() {
    local dir="$1"
    if [[ ! -d "$dir/release" && -d "$HEAD_TARGET/release" ]]; then
        echo "bench-gate: seeding $dir from $HEAD_TARGET/release" >&2
        mkdir -p "$dir"
        cp -a "$HEAD_TARGET/release" "$dir/"
    fi
}

summary() {
    if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
        cat "$1" >>"$GITHUB_STEP_SUMMARY"
    fi
}

START=$SECONDS
if [[ "$MODE" == gate ]]; then
    # Both sides are built from checkouts at paths of the same length ($WORK/base-src and
    # $WORK/head-src), into target directories of the same length. Source paths end up in
    # the binary (panic locations); with rust-lld's layout, read-only data of another length
    # moves all the code, and the loops of the dot kernel or a dispatch path then run up to
    # 20% faster or slower with no change to the code. Measured here: a docs-only change
    # built from /work/main against a worktree elsewhere "regressed" dot/process/2 by 19-21%
    # three gates in three. Same-length paths give identical code for identical sources.
    BASE_SRC="$WORK/base-src"
    HEAD_SRC="$WORK/head-src"
    checkout "$BASE_SRC" "$BASE_REF"
    if [[ -n "$HEAD_REF" ]]; then
        checkout "$HEAD_SRC" "$HEAD_REF"
    else
        # This working tree as it is, tracked files and their uncommitted changes included.
        checkout "$HEAD_SRC" HEAD
        git -C "$REPO" diff HEAD --binary | git -C "$HEAD_SRC" apply --allow-empty ||
            die "cannot copy the working tree's changes to $HEAD_SRC"
    fi
    seed_target "$WORK/head-target"
    seed_target "$WORK/base-target"
    HEAD_BIN="$(build "$HEAD_SRC" "$WORK/head-target")"
    BASE_BIN="$(build "$BASE_SRC" "$WORK/base-target")"
    BUILT=$SECONDS
    args=(gate --base "$BASE_BIN" --head "$HEAD_BIN" --threshold "$THRESHOLD" --budget-s "$BUDGET")
    if [[ -n "${PARBENCH_GATE_FILTER:-}" ]]; then
        args+=(--filter "$PARBENCH_GATE_FILTER")
    fi
    rc=0
    "$HEAD_BIN" "${args[@]}" --format markdown >"$WORK/gate.md" || rc=$?
    ((rc <= 1)) || die "parbench gate failed (exit $rc)"
    {
        echo "## Benchmark gate $BASE_REF -> ${HEAD_REF:-working tree}"
        echo
        cat "$WORK/gate.md"
        echo
        echo "Builds $((BUILT - START)) s, gate $((SECONDS - BUILT)) s."
    } >"$WORK/summary.md"
    cat "$WORK/summary.md"
    summary "$WORK/summary.md"
    exit "$rc"
fi

# Calibration: one build of HEAD serves both sides as two separate processes (A/A); the
# slowdown gates give the head side PARBENCH_SLOWDOWN, which makes cpu and dot do that much
# more work for the same results. Each round runs the A/A gate and one gate per slowdown.
CAL="$WORK/calibrate"
rm -rf "$CAL"
mkdir -p "$CAL"
# A copy, so a rebuild of the checkout during a long calibration changes nothing here.
cp "$(build "$REPO" "$HEAD_TARGET")" "$CAL/parbench"
BIN="$CAL/parbench"
# ratios KIND: each benchmark's median ratio over the gates of that kind (the slowdown the
# gates really saw), from the table files.
ratios() {
    local kind="$1"
    awk '$1 ~ /\// && $4 ~ /^[0-9.]+$/ { print $1, $4 }' "$CAL/$kind"-*.txt |
        sort -k1,1 -k2,2n |
        awk '{ id[NR] = $1; r[NR] = $2 }
             END {
                 n = 0
                 for (i = 1; i <= NR; i++) {
                     if (i == 1 || id[i] != id[i - 1]) { start = i }
                     if (i == NR || id[i + 1] != id[i]) {
                         c = i - start + 1
                         m = (c % 2) ? r[start + (c - 1) / 2] : (r[start + c / 2 - 1] + r[start + c / 2]) / 2
                         printf "%s%s %.3f", (n++ ? ", " : ""), id[i], m
                     }
                 }
             }'
}

declare -A failed=()
failed[aa]=0
for s in "${SLOWDOWNS[@]}"; do failed[$s]=0; done
for ((r = 1; r <= CAL_N; r++)); do
    for kind in aa "${SLOWDOWNS[@]}"; do
        args=(gate --base "$BIN" --head "$BIN" --threshold "$THRESHOLD" --budget-s "$BUDGET"
            --filter "$CAL_FILTER" --format table)
        if [[ "$kind" != aa ]]; then
            args+=(--head-slowdown "1.0$kind")
        fi
        rc=0
        "$BIN" "${args[@]}" >"$CAL/$kind-$r.txt" 2>"$CAL/$kind-$r.log" || rc=$?
        ((rc <= 1)) || die "parbench gate failed in round $r ($kind, exit $rc): $(tail -n 1 "$CAL/$kind-$r.log")"
        failed[$kind]=$((failed[$kind] + rc))
        echo "bench-gate: round $r/$CAL_N, $kind: $([[ $rc -eq 1 ]] && echo FAIL || echo pass)" >&2
    done
done
{
    echo "## Benchmark gate calibration"
    echo
    echo "$CAL_N A/A gates and $CAL_N gates per injected slowdown, filter \`$CAL_FILTER\`,"
    echo "threshold $THRESHOLD%, budget ${BUDGET} s per benchmark; $((SECONDS - START)) s in all."
    echo
    echo "| head | gates failed | median ratio per benchmark, over the gates |"
    echo "|---|---:|---|"
    echo "| unchanged (A/A) | ${failed[aa]} / $CAL_N | $(ratios aa) |"
    for s in "${SLOWDOWNS[@]}"; do
        echo "| $s% slower | ${failed[$s]} / $CAL_N | $(ratios "$s") |"
    done
    echo
    smallest=""
    for s in "${SLOWDOWNS[@]}"; do
        if ((failed[$s] * 20 >= CAL_N * 19)); then
            smallest="$s"
            break
        fi
    done
    if [[ -n "$smallest" ]]; then
        echo "Smallest slowdown detected at least 19 times in 20: **$smallest%**."
    else
        echo "No slowdown up to ${SLOWDOWNS[-1]}% was detected 19 times in 20 on this runner."
    fi
    if ((failed[aa] * 20 > CAL_N)); then
        echo "A/A gates failed more than 1 time in 20: raise PARBENCH_GATE_THRESHOLD."
    fi
} >"$CAL/report.md"
cat "$CAL/report.md"
summary "$CAL/report.md"
