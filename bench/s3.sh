#!/usr/bin/env bash
# s3.sh - coffer's backup and restore rates to an S3 repository against plain curl moving the
# same bytes, on a throwaway local Ceph RADOS Gateway (tests/lib/ceph.sh), in the same run.
# Prints medians of RUNS runs and the ratios. Never part of the pass/fail suite.
#
#   bench/s3.sh [SIZE_MIB]        (default 128; the memstore OSD keeps everything in RAM)
#
# Two data sets of SIZE_MIB each: random bytes (incompressible: coffer uploads as many bytes
# as curl) and bench/gen-data.py's mix (half SQL-like text, half random: coffer compresses).
# Rates are source bytes per second. curl uploads the same bytes (the data set's files
# concatenated) with one PUT and UNSIGNED-PAYLOAD, and downloads them with one GET: the rate
# of the gateway alone. coffer runs with its defaults (over http: every body's SHA-256
# signed, which the gateway checks) and with payload-signing = off (what curl does).
# The gateway shares the machine's cores with coffer: on a small host its CPU is the limit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
size=${1:-128}
runs=${RUNS:-3}
bin=$root/bin
"$root/deploy/install-deps.sh" build test
make -s -C "$root" all

T=$(mktemp -d /tmp/coffer-bench-s3.XXXXXX)
chmod 755 "$T"
source "$root/tests/lib/ceph.sh"
trap 'ceph_stop "$T/ceph"; rm -rf "$T"' EXIT
# every run stores each data set three times (two coffer repositories and curl's copy)
export CEPH_MEMSTORE_BYTES=$(( (size * 2 * 3 * runs + 1024) << 20 ))
ceph_start "$T/ceph"
ceph_bucket bench
export COFFER_NO_PROGRESS=1

mkdir -p "$T/random"
per=$(( size / 8 ))
for i in 1 2 3 4 5 6 7 8; do head -c $((per << 20)) /dev/urandom >"$T/random/f$i.bin"; done
python3 "$here/gen-data.py" "$T/mixed" "$size"
printf '%s' "$S3_ACCESS_KEY" >"$T/id"; printf '%s' "$S3_SECRET_KEY" >"$T/secret"
head -c 32 /dev/urandom >"$T/repo.key"
printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$T/curl.cfg"
chmod 600 "$T/id" "$T/secret" "$T/repo.key" "$T/curl.cfg"
s3curl=(curl -sf -K "$T/curl.cfg" --aws-sigv4 "aws:amz:$S3_REGION:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")

conf() {  # conf NAME DATADIR [extra line]
    cat >"$T/$1.conf" <<CONF
[repository]
target = s3
endpoint = $S3_ENDPOINT
bucket = bench
prefix = $1
region = $S3_REGION
access-key-id-file = $T/id
secret-access-key-file = $T/secret
key-file = $T/repo.key
${3:-}
[source data]
type = volume
path = $2
[job j]
sources = data
CONF
    "$bin/backupd" --config "$T/$1.conf" --quiet init >/dev/null
}

# timed NAME CMD...: run, append "seconds rss_kib" to $T/NAME
timed() {
    local name=$1; shift
    sync
    /usr/bin/time -f '%e %M' -o "$T/.t" "$@" >/dev/null 2>"$T/.err" || { cat "$T/.err" >&2; exit 1; }
    cat "$T/.t" >>"$T/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sec() { cut -d' ' -f1 "$T/$1" | median; }
rss() { cut -d' ' -f2 "$T/$1" | sort -n | tail -1; }

for set in random mixed; do
    find "$T/$set" -type f | sort | xargs cat >"$T/$set.all"   # the same bytes as one file
done
for i in $(seq 1 "$runs"); do
    for set in random mixed; do
        echo "run $i/$runs: $set"
        find "$T/$set" -type f -exec cat {} + >/dev/null; cat "$T/$set.all" >/dev/null   # warm cache
        conf "$set-$i" "$T/$set"
        conf "$set-$i-unsigned" "$T/$set" "payload-signing = off"
        timed "$set-backup" "$bin/backupd" --config "$T/$set-$i.conf" --quiet run j
        timed "$set-backup-unsigned" "$bin/backupd" --config "$T/$set-$i-unsigned.conf" --quiet run j
        timed "$set-put" "${s3curl[@]}" -T "$T/$set.all" "$S3_ENDPOINT/bench/curl-$set.bin"
        rm -rf "$T/out"
        timed "$set-restore" "$bin/restore" --config "$T/$set-$i.conf" --quiet --source data --at latest --to "$T/out"
        diff -r "$T/out" "$T/$set" >/dev/null || { echo "restored data differs" >&2; exit 1; }
        rm -rf "$T/out" "$T/dl.bin"
        timed "$set-get" "${s3curl[@]}" -o "$T/dl.bin" "$S3_ENDPOINT/bench/curl-$set.bin"
        rm -f "$T/dl.bin"
    done
done

echo
echo "S3 on a local Ceph RGW 16.2 (memstore, same host), medians of $runs runs; coffer defaults:"
echo "part-size 8MiB, upload-concurrency 4, object-size 64MiB, zstd level 3"
for set in random mixed; do
    bytes=$(stat -c %s "$T/$set.all")
    rate() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
    line() { printf '%-40s %8s %8s %8s MiB\n' "$1" "$(sec "$2")" "$(rate "$(sec "$2")")" $(( $(rss "$2") / 1024 )); }
    echo
    echo "$set data, $((bytes >> 20)) MiB:"
    printf '%-40s %8s %8s %12s\n' "" "seconds" "MB/s" "max RSS"
    line "coffer backup (payload signed)" "$set-backup"
    line "coffer backup (payload-signing = off)" "$set-backup-unsigned"
    line "curl -T (one PUT, unsigned payload)" "$set-put"
    line "coffer restore" "$set-restore"
    line "curl (one GET)" "$set-get"
    echo "backup / curl upload:          $(ratio "$(sec "$set-backup")" "$(sec "$set-put")")x (payload-signing = off: $(ratio "$(sec "$set-backup-unsigned")" "$(sec "$set-put")")x)"
    echo "restore / curl download:       $(ratio "$(sec "$set-restore")" "$(sec "$set-get")")x"
done
