#!/usr/bin/env bash
# catalog.sh - how fast the catalog answers on a repository of many backups.
#
#   bench/catalog.sh [N]        (N backups, default 500; needs faketime, bin/ built)
#
# Makes N tiny volume backups (one per hour of fake time) in a temporary local repository,
# then prints: the median time of `catalog list` and `catalog at` (each a fresh process that
# also checks the index against the repository), and the time of `catalog rebuild` at a few
# repository sizes, per backup, to show it grows in proportion. Figures, not pass/fail.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${COFFER_BIN:-$here/bin}
n=${1:-500}
runs=11
w=$(mktemp -d /tmp/coffer-bench-catalog.XXXXXX)
trap 'rm -rf "$w"' EXIT
export FAKETIME_DONT_FAKE_MONOTONIC=1

mkdir -p "$w/src"
echo "tiny" >"$w/src/file"
head -c 32 /dev/urandom >"$w/repo.key"
chmod 600 "$w/repo.key"
cat >"$w/coffer.conf" <<EOF
[repository]
target = local
path = $w/repo
key-file = $w/repo.key

[catalog]
path = $w/catalog.db

[source media]
type = volume
path = $w/src

[job nightly]
sources = media
keep-daily = 7
EOF
C=$w/coffer.conf
"$bin/backupd" --config "$C" init >/dev/null 2>&1

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# time one command $runs times, print the median in ms
bench() {
    local i t0
    for i in $(seq "$runs"); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        ms "$t0"
    done | median
}
make_backups() {  # make_backups FROM TO: backups number FROM..TO, one hour apart
    local i
    for i in $(seq "$1" "$2"); do
        faketime "$(date -u -d "2025-01-01 00:00:00 UTC + $i hours" '+%Y-%m-%d %H:%M:%S')" \
            "$bin/backupd" --config "$C" run nightly >/dev/null 2>&1
    done
}
rebuild_ms() {
    "$bin/catalog" --config "$C" rebuild --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["ms"])'
}

echo "# catalog bench: $n tiny volume backups, local repository, median of $runs runs"
printf "%-10s %-12s %-14s %-16s\n" "backups" "rebuild ms" "rebuild ms/bk" "(wall ms)"
done_n=0
for step in $((n / 5)) $((n / 2)) "$n"; do
    [ "$step" -gt "$done_n" ] || continue
    t0=$(date +%s%N)
    make_backups $((done_n + 1)) "$step"
    make_ms=$(ms "$t0")
    done_n=$step
    t0=$(date +%s%N)
    r=$(rebuild_ms)
    wall=$(ms "$t0")
    printf "%-10s %-12s %-14s %-16s\n" "$step" "$r" \
        "$(awk -v a="$r" -v b="$step" 'BEGIN {printf "%.3f", a / b}')" "$wall"
done
echo "# (making the last $((n - n / 2)) backups took ${make_ms} ms)"

count=$("$bin/catalog" --config "$C" list | grep -c '^media ' || true)
echo "# index holds $count backups"
list_ms=$(bench "$bin/catalog" --config "$C" list)
json_ms=$(bench "$bin/catalog" --config "$C" list --json)
at_ms=$(bench "$bin/catalog" --config "$C" at 2025-01-10T12:30:00Z)
filt_ms=$(bench "$bin/catalog" --config "$C" list --since 2025-01-05T00:00:00Z --until 2025-01-06T00:00:00Z)
status_ms=$(bench "$bin/catalog" --config "$C" status)
printf "%-40s %6s ms  (target < 50 ms)\n" "catalog list ($count rows)" "$list_ms"
printf "%-40s %6s ms\n" "catalog list --json" "$json_ms"
printf "%-40s %6s ms  (target < 50 ms)\n" "catalog at TIME" "$at_ms"
printf "%-40s %6s ms\n" "catalog list --since --until (1 day)" "$filt_ms"
printf "%-40s %6s ms\n" "catalog status" "$status_ms"
t0=$(date +%s%N)
"$bin/catalog" --config "$C" prune --dry-run >/dev/null 2>&1
printf "%-40s %6s ms\n" "catalog prune --dry-run (keep-daily 7)" "$(ms "$t0")"
