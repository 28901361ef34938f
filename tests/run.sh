#!/usr/bin/env bash
# run.sh [PATTERN] - every unit test binary and integration script; each prints TAP-style
# "ok - ..." / "not ok - ..." lines. A program that exits non-zero without a "not ok" line
# counts as one failure. Ends with the closing line "N passed, N failed".
#
# COFFER_BIN: the tools (bin/); COFFER_UNIT: the unit test binaries.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export COFFER_BIN=${COFFER_BIN:-$here/../bin}
export COFFER_UNIT=${COFFER_UNIT:-$here/../build/tests}
export COFFER_TESTS=$here
pattern=${1:-}
logdir=$(mktemp -d /tmp/coffer-tests.XXXXXX)
pass=0 fail=0
failed_names=()

run_one() {
    local name=$1; shift
    local log="$logdir/$(basename "$name").log" rc
    local start=$SECONDS
    "$@" >"$log" 2>&1 </dev/null
    rc=$?
    local p f
    p=$(grep -c '^ok ' "$log")
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
    echo "# $name: $p passed, $f failed, $((SECONDS - start))s"
    pass=$((pass + p))
    fail=$((fail + f))
}

for t in "$COFFER_UNIT"/test_*; do
    [ -x "$t" ] || continue
    [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && continue
    run_one "unit/$(basename "$t")" "$t"
done
for t in "$here"/integration/*.sh; do
    [ -f "$t" ] || continue
    [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && continue
    run_one "integration/$(basename "$t" .sh)" bash "$t"
done

rm -rf "$logdir"
[ "${#failed_names[@]}" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
