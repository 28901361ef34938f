#!/usr/bin/env bash
# databases.sh - what the database sources cost, on the same database in one run:
#   postgres: seconds of `pg_dump -Fc -Z0 > /dev/null` against `backupd run` of that database
#             (pipeline overhead), and bytes stored against `pg_dump -Fc` (its default gzip)
#   mariadb:  seconds of `mariadb-dump > /dev/null` against `backupd run`, and bytes stored
#             against `mariadb-dump | gzip` (mariadb-dump has no compression of its own)
# Medians of RUNS runs. Throwaway servers from tests/lib/servers.sh. Never pass/fail.
#
#   bench/databases.sh [PGBENCH_SCALE]   (default 50; MY_ROWS=1000000 rows for mariadb)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scale=${1:-50}
runs=${RUNS:-3}
my_rows=${MY_ROWS:-1000000}
"$root/deploy/install-deps.sh" build test bench
[ -n "${COFFER_BIN:-}" ] || make -s -C "$root" all
export COFFER_BIN=${COFFER_BIN:-$root/bin}   # another build's bin/ to compare builds
set +u
. "$root/tests/lib/testlib.sh"
. "$root/tests/lib/servers.sh"
. "$root/tests/lib/dbdata.sh"
. "$here/dbsetup.sh"
set -u

secs() {  # secs CMD...: wall seconds of one run, 3 decimals
    local t0 t1
    t0=$(date +%s.%N)
    if ! "$@" >/dev/null 2>"$T/bench.err"; then
        echo "bench: $* failed: $(tail -n 1 "$T/bench.err")" >&2
        echo 999999
        return
    fi
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
stored() {  # stored SOURCE [CONF]: bytes stored by the newest backup of SOURCE
    catalog --config "${2:-$conf}" list --source "$1" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["bytes_stored"])'
}

echo "# coffer database bench: pgbench scale $scale, mariadb $my_rows rows, $runs runs, $(nproc) cores"
bench_db_setup "$scale" "$my_rows"
db_conf "$T/c"
conf="$T/c/coffer.conf"
pgdump() { pg_dump -Fc -Z0 -h "$PG_HOST" -p "$PG_PORT" -U postgres postgres >/dev/null; }
mydump() { mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --routines --triggers --events --hex-blob --quick bench >/dev/null; }

# the same with one zstd thread: on a 2-core host the server, pg_dump and zstd share the cores
sed -e "s|^path = .*/repo$|&1|" -e 's|^\[repository\]$|&\ncompression-threads = 1|' "$conf" >"$T/c/one.conf"
backupd --config "$T/c/one.conf" init >/dev/null 2>&1
# and with zstd level 1 for the database (compression-level in its [source] section)
sed -e "s|^path = .*/repo$|&2|" -e 's|^type = postgres$|&\ncompression-level = 1|' \
    -e 's|^type = mariadb$|&\ncompression-level = 1|' "$conf" >"$T/c/fast.conf"
backupd --config "$T/c/fast.conf" init >/dev/null 2>&1
pg_raw=$(for _ in $(seq "$runs"); do secs pgdump; done | median)
pg_run=$(for _ in $(seq "$runs"); do secs backupd --config "$conf" run pg; done | median)
pg_run1=$(for _ in $(seq "$runs"); do secs backupd --config "$T/c/one.conf" run pg; done | median)
pg_runf=$(for _ in $(seq "$runs"); do secs backupd --config "$T/c/fast.conf" run pg; done | median)
pg_storedf=$(stored pg "$T/c/fast.conf")
pg_dump_bytes=$(pg_dump -Fc -Z0 -h "$PG_HOST" -p "$PG_PORT" -U postgres postgres | wc -c)
pg_gz_bytes=$(pg_dump -Fc -h "$PG_HOST" -p "$PG_PORT" -U postgres postgres | wc -c)
pg_stored=$(stored pg)
my_raw=$(for _ in $(seq "$runs"); do secs mydump; done | median)
my_run=$(for _ in $(seq "$runs"); do secs backupd --config "$conf" run my; done | median)
my_runf=$(for _ in $(seq "$runs"); do secs backupd --config "$T/c/fast.conf" run my; done | median)
my_storedf=$(stored my "$T/c/fast.conf")
my_dump_bytes=$(mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --hex-blob --quick bench | wc -c)
my_gz_bytes=$(mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --hex-blob --quick bench | gzip -6 | wc -c)
my_stored=$(stored my)

printf '%-34s %12s %12s %8s\n' "" "peer" "coffer" "ratio"
printf '%-34s %11ss %11ss %8s\n' "postgres: pg_dump -Fc -Z0 >/dev/null" "$pg_raw" "$pg_run" "$(ratio "$pg_run" "$pg_raw")"
printf '%-34s %11ss %11ss %8s\n' "  same, compression-threads = 1" "$pg_raw" "$pg_run1" "$(ratio "$pg_run1" "$pg_raw")"
printf '%-34s %11ss %11ss %8s\n' "  same, compression-level = 1" "$pg_raw" "$pg_runf" "$(ratio "$pg_runf" "$pg_raw")"
printf '%-34s %12s %12s %8s\n' "postgres: bytes, pg_dump -Fc (gzip)" "$pg_gz_bytes" "$pg_stored" "$(ratio "$pg_stored" "$pg_gz_bytes")"
printf '%-34s %12s %12s %8s\n' "  same, compression-level = 1" "$pg_gz_bytes" "$pg_storedf" "$(ratio "$pg_storedf" "$pg_gz_bytes")"
printf '%-34s %11ss %11ss %8s\n' "mariadb: mariadb-dump >/dev/null" "$my_raw" "$my_run" "$(ratio "$my_run" "$my_raw")"
printf '%-34s %11ss %11ss %8s\n' "  same, compression-level = 1" "$my_raw" "$my_runf" "$(ratio "$my_runf" "$my_raw")"
printf '%-34s %12s %12s %8s\n' "mariadb: bytes, mariadb-dump|gzip" "$my_gz_bytes" "$my_stored" "$(ratio "$my_stored" "$my_gz_bytes")"
printf '%-34s %12s %12s %8s\n' "  same, compression-level = 1" "$my_gz_bytes" "$my_storedf" "$(ratio "$my_storedf" "$my_gz_bytes")"
echo "# dump sizes uncompressed: pg_dump -Fc -Z0 $pg_dump_bytes bytes, mariadb-dump $my_dump_bytes bytes"
echo "# coffer time includes pg_dumpall --globals-only and the catalog/commit of each backup"
