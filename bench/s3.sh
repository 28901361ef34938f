#!/usr/bin/env bash
# s3.sh - coffer's backup and restore rates to an S3 repository against plain curl moving the
# same number of bytes, on a throwaway local Ceph RADOS Gateway (tests/lib/ceph.sh), in the
# same run. Prints medians of RUNS runs and the ratios. Never part of the pass/fail suite.
#
#   bench/s3.sh [SIZE_MIB]        (default 256; the memstore OSD keeps everything in RAM)
#
# The data is random (incompressible), so coffer's pipeline (tar, zstd, encryption, SigV4
# with the SHA-256 of every part) moves as many bytes as curl does. curl sends one PUT with
# UNSIGNED-PAYLOAD and downloads with one GET: the rate of the link and the gateway alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
size=${1:-256}
runs=${RUNS:-3}
bin=$root/bin
"$root/deploy/install-deps.sh" build test
make -s -C "$root" all

T=$(mktemp -d /tmp/coffer-bench-s3.XXXXXX)
chmod 755 "$T"
source "$root/tests/lib/ceph.sh"
trap 'ceph_stop "$T/ceph"; rm -rf "$T"' EXIT
export CEPH_MEMSTORE_BYTES=$(( (size * (runs + 2) * 2 + 512) << 20 ))
ceph_start "$T/ceph"
ceph_bucket bench
export COFFER_NO_PROGRESS=1

mkdir -p "$T/data"
per=$(( size / 8 ))
for i in 1 2 3 4 5 6 7 8; do head -c $((per << 20)) /dev/urandom >"$T/data/f$i.bin"; done
cat "$T"/data/*.bin >"$T/all.bin"    # the same bytes as one file, for curl
bytes=$(stat -c %s "$T/all.bin")
printf '%s' "$S3_ACCESS_KEY" >"$T/id"; printf '%s' "$S3_SECRET_KEY" >"$T/secret"
head -c 32 /dev/urandom >"$T/repo.key"
printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$T/curl.cfg"
chmod 600 "$T/id" "$T/secret" "$T/repo.key" "$T/curl.cfg"
s3curl=(curl -sf -K "$T/curl.cfg" --aws-sigv4 "aws:amz:$S3_REGION:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")

conf() {  # conf NAME
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
[source data]
type = volume
path = $T/data
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

cat "$T/data"/* "$T/all.bin" >/dev/null   # warm cache
for i in $(seq 1 "$runs"); do
    echo "run $i/$runs"
    conf "r$i"
    timed coffer-backup "$bin/backupd" --config "$T/r$i.conf" --quiet run j
    timed curl-put "${s3curl[@]}" -T "$T/all.bin" "$S3_ENDPOINT/bench/curl.bin"
    rm -rf "$T/out"
    timed coffer-restore "$bin/restore" --config "$T/r$i.conf" --quiet --source data --at latest --to "$T/out"
    cmp -s "$T/out/f1.bin" "$T/data/f1.bin" || { echo "restored data differs" >&2; exit 1; }
    rm -f "$T/dl.bin"
    timed curl-get "${s3curl[@]}" -o "$T/dl.bin" "$S3_ENDPOINT/bench/curl.bin"
done

rate() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
echo
echo "S3 on a local Ceph RGW 16.2 (memstore), $((bytes >> 20)) MiB of random data in 8 files,"
echo "medians of $runs runs; coffer: part-size 16MiB, upload-concurrency 4, object-size 64MiB"
printf '%-28s %8s %10s %10s\n' "" "seconds" "MB/s" "max RSS"
printf '%-28s %8s %10s %8s MiB\n' "coffer backup to s3" "$(sec coffer-backup)" "$(rate "$(sec coffer-backup)")" $(( $(rss coffer-backup) / 1024 ))
printf '%-28s %8s %10s %8s MiB\n' "curl -T (one PUT)" "$(sec curl-put)" "$(rate "$(sec curl-put)")" $(( $(rss curl-put) / 1024 ))
printf '%-28s %8s %10s %8s MiB\n' "coffer restore from s3" "$(sec coffer-restore)" "$(rate "$(sec coffer-restore)")" $(( $(rss coffer-restore) / 1024 ))
printf '%-28s %8s %10s %8s MiB\n' "curl (one GET)" "$(sec curl-get)" "$(rate "$(sec curl-get)")" $(( $(rss curl-get) / 1024 ))
echo "backup / curl upload:    $(ratio "$(sec coffer-backup)" "$(sec curl-put)")x"
echo "restore / curl download: $(ratio "$(sec coffer-restore)" "$(sec curl-get)")x"
