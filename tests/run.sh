#!/usr/bin/env bash
# run.sh [PATTERN] - every unit test binary and integration script; each prints TAP-style
# "ok - ..." / "not ok - ..." lines. A program that exits non-zero without a "not ok" line
# counts as one failure. Ends with the closing line "N passed, N failed".
#
# COFFER_BIN: the tools (bin/); COFFER_UNIT: the unit test binaries. COFFER_TEST_TIMEOUT:
# seconds one program may run (default 900) before it is stopped and counts as failed.
# COFFER_TEST_JOBS: programs run at once (default: the number of cores).
#
# An integration script with the line "# coffer-targets: local s3" runs twice: as usual, and
# then as integration/NAME@s3 with COFFER_TEST_TARGET=s3 against one Ceph RADOS Gateway that
# this script starts for all @s3 runs (tests/lib/ceph.sh) and stops by PID at exit. PATTERN
# matches the test's path or the name it is reported by (unit/test_x, integration/NAME,
# integration/NAME@s3; "@s3" alone runs only those).
set -u
here=$(cd "$(dirname "$0")" && pwd)
export COFFER_BIN=${COFFER_BIN:-$here/../bin}
export COFFER_UNIT=${COFFER_UNIT:-$here/../build/tests}
export COFFER_TESTS=$here
pattern=${1:-}
logdir=$(mktemp -d /tmp/coffer-tests.XXXXXX)
pass=0 fail=0 skipped=0
failed_names=()
s3_dir="" s3_state=none s3_why=""

# start_gateway - the gateway for the @s3 runs, once; s3_state becomes up or failed
start_gateway() {
    source "$here/lib/ceph.sh"
    local t0=$SECONDS
    s3_dir=$(mktemp -d /tmp/coffer-s3gw.XXXXXX)
    if ceph_start "$s3_dir/ceph" >"$s3_dir/start.log" 2>&1 && ceph_bucket coffer-tests; then
        export S3_BUCKET=coffer-tests
        s3_state=up
        echo "# the Ceph gateway for the @s3 runs is up, $((SECONDS - t0))s"
    else
        s3_state=failed
        [ -f "$s3_dir/ceph/log/setup.log" ] && tail -n 20 "$s3_dir/ceph/log/setup.log" >>"$s3_dir/start.log"
        s3_why=$(sed 's/^/#   /' "$s3_dir/start.log")
    fi
}
stop_gateway() {
    [ -n "$s3_dir" ] || return 0
    [ -d "$s3_dir/ceph" ] && ceph_stop "$s3_dir/ceph"
    rm -rf "$s3_dir"
    s3_dir=""
}
# at exit, also on failure or interrupt: the running tests are stopped (each runs its exit
# hooks), then the gateway
pids=()
stop_tests() {
    [ "${#pids[@]}" -gt 0 ] || return 0
    kill -TERM "${pids[@]}" 2>/dev/null
    wait
}
trap 'stop_tests; stop_gateway; rm -rf "$logdir"' EXIT
trap 'exit 130' INT TERM

# launch NAME CMD... - start one program in the background (its output in its own log, its
# exit status in LOG.rc); a hung test fails after COFFER_TEST_TIMEOUT seconds (timeout signals
# the test's whole process group; its exit hooks stop what it started)
launch() {
    local name=$1; shift
    local log="$logdir/${name//\//_}.log"
    order+=("$name")
    echo "$SECONDS" >"$log.start"
    # the subshell passes a TERM (run.sh interrupted) on to timeout, which passes it on to
    # the test's process group, and waits for the test's exit hooks
    ( timeout --kill-after=30 "${COFFER_TEST_TIMEOUT:-900}" "$@" >"$log" 2>&1 </dev/null &
      tp=$! rc=0
      trap 'kill -TERM $tp 2>/dev/null' TERM
      while :; do
          wait "$tp"; rc=$?
          kill -0 "$tp" 2>/dev/null || break
      done
      echo "$rc" >"$log.rc.tmp" && mv "$log.rc.tmp" "$log.rc" ) &
    pids+=($!)
}

# report NAME - count and print a finished program's result
report() {
    local name=$1 log="$logdir/${1//\//_}.log" rc p f k
    rc=$(cat "$log.rc")
    [ "$rc" -eq 124 ] && echo "not ok - $name timed out after ${COFFER_TEST_TIMEOUT:-900} s" >>"$log"
    p=$(grep -c '^ok ' "$log")
    k=$(grep -c '^ok .* # SKIP' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $rc" >>"$log"
        f=1
    fi
    grep -E '^(ok|not ok) ' "$log" | sed "s|^|[$name] |"
    if [ "$f" -gt 0 ]; then
        echo "---- $name output (failures above) ----"
        tail -n 60 "$log"
        echo "----"
        failed_names+=("$name")
    fi
    local ks=""
    [ "$k" -gt 0 ] && ks=" $k skipped,"
    echo "# $name: $p passed, $f failed,$ks $((SECONDS - $(cat "$log.start")))s"
    pass=$((pass + p)) skipped=$((skipped + k))
    fail=$((fail + f))
}

# reap [MAX] - report every finished program, in the order they were started as far as they
# are done, waiting until at most MAX (default 0) are still running
reap() {
    local max=${1:-0} name left
    while :; do
        left=()
        for name in "${order[@]}"; do
            if [ -f "$logdir/${name//\//_}.log.rc" ]; then
                report "$name"
            else
                left+=("$name")
            fi
        done
        order=("${left[@]}")
        [ "${#order[@]}" -le "$max" ] && return 0
        wait -n 2>/dev/null || sleep 0.2
    done
}

# run_one NAME CMD... - run a program once a slot is free: COFFER_TEST_JOBS at once (default:
# one per core), so that one test's waits (a server starting, Redis's sync delay) leave the
# other core to another test. Every test has its own temporary directory, sockets and ports.
jobs_max=${COFFER_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
order=()
run_one() {
    reap $((jobs_max - 1))
    launch "$@"
}

# the include dependency rules (tests/deps.sh), before any program
if [ -z "$pattern" ] || [[ "$here/deps.sh" == *$pattern* ]]; then
    run_one deps bash "$here/deps.sh"
fi
for t in "$COFFER_UNIT"/test_*; do
    [ -x "$t" ] || continue
    [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && [[ "unit/$(basename "$t")" != *$pattern* ]] && continue
    run_one "unit/$(basename "$t")" "$t"
done
for t in "$here"/integration/*.sh; do
    [ -f "$t" ] || continue
    [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && continue
    COFFER_TEST_TARGET=local run_one "integration/$(basename "$t" .sh)" bash "$t"
done
for t in "$here"/integration/*.sh; do
    grep -q '^# coffer-targets:.* s3' "$t" || continue
    name=integration/$(basename "$t" .sh)@s3
    [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && [[ "$name" != *$pattern* ]] && continue
    [ "$s3_state" = none ] && start_gateway
    if [ "$s3_state" = up ]; then
        COFFER_TEST_TARGET=s3 run_one "$name" bash "$t"
    else
        run_one "$name" printf '%s\n' "not ok - the Ceph gateway for the @s3 runs starts" "$s3_why"
    fi
done
reap 0
stop_gateway

[ "$skipped" -gt 0 ] && echo "# $skipped of the passed checks were skipped (# SKIP)"
[ "${#failed_names[@]}" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
