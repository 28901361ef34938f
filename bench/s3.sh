#!/usr/bin/env bash
# s3.sh - coffer's backup and restore rates to an S3 repository against plain curl moving the
# same bytes, on a throwaway local Ceph RADOS Gateway (tests/lib/ceph.sh), in the same run.
# Prints medians of RUNS runs and the ratios. Never part of the pass/fail suite.
#
#   bench/s3.sh [SIZE_MIB]        (default 256; the memstore OSD keeps objects in RAM)
#
# Two data sets of SIZE_MIB each: random bytes (incompressible: coffer uploads as many bytes
# as curl) and bench/gen-data.py's mix (half SQL-like text, half random: coffer compresses).
# Rates are source bytes per second. curl uploads the same bytes (the data set's files
# concatenated) with one PUT and UNSIGNED-PAYLOAD, and downloads them with one GET. coffer
# runs with its defaults (over http: every body's SHA-256 signed, which the gateway checks)
# and with payload-signing = off (what curl does, and coffer's default over https).
#
# Two settings, each a full round:
#   link      the gateway's port behind a LINK_MBIT (default 1000) Mbit/s link: tc's htb on
#             the loopback device, for that port only, both ways. A backup host and its
#             object store are different machines joined by a link; this is that case.
#   loopback  no limit: the gateway (radosgw and the memstore OSD) runs on the same 2 cores
#             as the client. curl costs the client almost nothing, while coffer compresses,
#             encrypts and hashes every byte, so here the two share the CPU with the gateway
#             and the client's CPU time decides. The CPU columns show it: the client's user +
#             system seconds, and the gateway's.
# Each run gets a fresh bucket, emptied and garbage-collected after the run (not timed), so
# the memstore stays small; the order of coffer and curl alternates between runs.
# The link setting needs root and the htb qdisc (iproute2); without them it is skipped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
size=${1:-256}
runs=${RUNS:-3}
link=${LINK_MBIT:-1000}
bin=${COFFER_BIN:-$root/bin}   # another build's bin/ to compare builds on the same data
"$root/deploy/install-deps.sh" build test bench
[ -n "${COFFER_BIN:-}" ] || make -s -C "$root" all

T=$(mktemp -d /tmp/coffer-bench-s3.XXXXXX)
chmod 755 "$T"
source "$root/tests/lib/ceph.sh"
shaped=0
shape_off() { [ "$shaped" = 1 ] && tc qdisc del dev lo root 2>/dev/null; shaped=0; }
trap 'shape_off; ceph_stop "$T/ceph"; rm -rf "$T"' EXIT
# one run's three copies of one data set at a time (the memstore holds about twice that)
export CEPH_MEMSTORE_BYTES=$(( (size * 3 * 3 + 1024) << 20 ))
ceph_start "$T/ceph"
export COFFER_NO_PROGRESS=1
port=${S3_ENDPOINT##*:}
pids="$(cat "$T/ceph/run/client.rgw.pid") $(cat "$T/ceph/run/osd.0.pid")"

# shape_on MBIT: the gateway's port, both directions, through one htb class of MBIT
shape_on() {
    tc qdisc add dev lo root handle 1: htb default 10 r2q 1000 || return 1
    shaped=1
    tc class add dev lo parent 1: classid 1:10 htb rate 100gbit quantum 200000 &&
        tc class add dev lo parent 1: classid 1:20 htb rate "${1}mbit" ceil "${1}mbit" quantum 200000 &&
        tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip dport "$port" 0xffff flowid 1:20 &&
        tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip sport "$port" 0xffff flowid 1:20
}

mkdir -p "$T/random"
per=$(( size / 8 ))
for i in 1 2 3 4 5 6 7 8; do head -c $((per << 20)) /dev/urandom >"$T/random/f$i.bin"; done
python3 "$here/gen-data.py" "$T/mixed" "$size" >/dev/null
for set in random mixed; do
    find "$T/$set" -type f | sort | xargs cat >"$T/$set.all"   # the same bytes as one file
done
printf '%s' "$S3_ACCESS_KEY" >"$T/id"; printf '%s' "$S3_SECRET_KEY" >"$T/secret"
head -c 32 /dev/urandom >"$T/repo.key"
printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$T/curl.cfg"
chmod 600 "$T/id" "$T/secret" "$T/repo.key" "$T/curl.cfg"
s3curl=(curl -sf -K "$T/curl.cfg" --aws-sigv4 "aws:amz:$S3_REGION:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")

conf() {  # conf NAME BUCKET DATADIR [extra line]
    cat >"$T/$1.conf" <<CONF
[repository]
target = s3
endpoint = $S3_ENDPOINT
bucket = $2
prefix = $1
region = $S3_REGION
access-key-id-file = $T/id
secret-access-key-file = $T/secret
key-file = $T/repo.key
${4:-}
[source data]
type = volume
path = $3
[job j]
sources = data
[catalog]
path = $T/$1.db
CONF
    "$bin/backupd" --config "$T/$1.conf" --quiet init >/dev/null
}

gateway_ticks() { cat $(for p in $pids; do echo "/proc/$p/stat"; done) | awk '{t += $14 + $15} END {print t}'; }
# timed NAME CMD...: run, append "seconds client_cpu gateway_cpu rss_kib" to $T/NAME
timed() {
    local name=$1 g0 g1; shift
    sync
    g0=$(gateway_ticks)
    /usr/bin/time -f '%e %U %S %M' -o "$T/.t" "$@" >/dev/null 2>"$T/.err" || { cat "$T/.err" >&2; exit 1; }
    g1=$(gateway_ticks)
    read -r e u s m <"$T/.t"
    awk -v e="$e" -v u="$u" -v s="$s" -v g="$((g1 - g0))" -v hz="$(getconf CLK_TCK)" -v m="$m" \
        'BEGIN { printf "%s %.2f %.2f %s\n", e, u + s, g / hz, m }' >>"$T/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { cut -d' ' -f"$2" "$T/$1" | median; }
rss() { cut -d' ' -f4 "$T/$1" | sort -n | tail -1; }

run_set() {  # run_set MODE SET RUN
    local mode=$1 set=$2 i=$3 b="bench-$1-$2-$3" k
    ceph_bucket "$b"
    conf "$mode-$set-$i" "$b" "$T/$set"
    conf "$mode-$set-$i-unsigned" "$b" "$T/$set" "payload-signing = off"
    find "$T/$set" -type f -exec cat {} + >/dev/null; cat "$T/$set.all" >/dev/null   # warm cache
    # coffer first in odd runs, curl first in even ones
    for k in $(if [ $((i % 2)) = 1 ]; then echo coffer curl; else echo curl coffer; fi); do
        if [ "$k" = coffer ]; then
            timed "$mode-$set-backup" "$bin/backupd" --config "$T/$mode-$set-$i.conf" --quiet run j
            timed "$mode-$set-backup-unsigned" "$bin/backupd" --config "$T/$mode-$set-$i-unsigned.conf" --quiet run j
            rm -rf "$T/out"
            timed "$mode-$set-restore" "$bin/restore" --config "$T/$mode-$set-$i.conf" --quiet --source data --at latest --to "$T/out"
            diff -r "$T/out" "$T/$set" >/dev/null || { echo "restored data differs" >&2; exit 1; }
            rm -rf "$T/out"
        else
            timed "$mode-$set-put" "${s3curl[@]}" -T "$T/$set.all" "$S3_ENDPOINT/$b/curl.bin"
            timed "$mode-$set-get" "${s3curl[@]}" -o "$T/dl.bin" "$S3_ENDPOINT/$b/curl.bin"
            rm -f "$T/dl.bin"
        fi
    done
    radosgw-admin -c "$T/ceph/ceph.conf" -n client.admin bucket rm --bucket="$b" --purge-objects >/dev/null 2>&1
    radosgw-admin -c "$T/ceph/ceph.conf" -n client.admin gc process --include-all >/dev/null 2>&1
}

modes=""
if shape_on "$link" 2>/dev/null; then
    modes="link"
else
    shape_off
    echo "no link setting: tc's htb qdisc is not available here (needs root and iproute2)" >&2
fi
modes="$modes loopback"
for mode in $modes; do
    [ "$mode" = loopback ] && shape_off
    for i in $(seq 1 "$runs"); do
        for set in random mixed; do
            echo "$mode run $i/$runs: $set"
            run_set "$mode" "$set" "$i"
        done
    done
done

echo
echo "S3 on a local Ceph RGW 16.2 (memstore, same host), medians of $runs runs; coffer defaults:"
echo "part-size 8MiB, upload-concurrency 4, object-size 64MiB, zstd level 3"
for mode in $modes; do
    echo
    if [ "$mode" = link ]; then
        echo "== link: the gateway behind a $link Mbit/s link (htb on lo) =="
    else
        echo "== loopback: no link limit; the gateway shares the client's 2 cores =="
    fi
    for set in random mixed; do
        bytes=$(stat -c %s "$T/$set.all")
        rate() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
        ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
        line() {
            local n="$mode-$set-$2"
            printf '%-40s %8s %8s %10s %10s %8s MiB\n' "$1" "$(col "$n" 1)" "$(rate "$(col "$n" 1)")" \
                "$(col "$n" 2)" "$(col "$n" 3)" $(( $(rss "$n") / 1024 ))
        }
        echo
        echo "$set data, $((bytes >> 20)) MiB:"
        printf '%-40s %8s %8s %10s %10s %12s\n' "" "seconds" "MB/s" "client CPU" "gateway CPU" "max RSS"
        line "coffer backup (payload signed)" backup
        line "coffer backup (payload-signing = off)" backup-unsigned
        line "curl -T (one PUT, unsigned payload)" put
        line "coffer restore" restore
        line "curl (one GET)" get
        echo "backup / curl upload:          $(ratio "$(col "$mode-$set-backup" 1)" "$(col "$mode-$set-put" 1)")x (payload-signing = off: $(ratio "$(col "$mode-$set-backup-unsigned" 1)" "$(col "$mode-$set-put" 1)")x)"
        echo "restore / curl download:       $(ratio "$(col "$mode-$set-restore" 1)" "$(col "$mode-$set-get" 1)")x"
    done
done
