#!/usr/bin/env bash
# databases.sh - what the database sources cost, on the same database in one run:
#   postgres: seconds of `pg_dump -Fc -Z0 > /dev/null` against `backupd run` of that database
#             (pipeline overhead), and bytes stored against `pg_dump -Fc` (its default gzip)
#   mariadb:  seconds of `mariadb-dump > /dev/null` against `backupd run`, and bytes stored
#             against `mariadb-dump | gzip` (mariadb-dump has no compression of its own)
#   both:     the same dump piped into zstd by hand at coffer's level (the compression
#             coffer adds, without its encryption and catalog) against `backupd run`, and
#             CPU seconds of the server and of the client side (dump tool, and coffer's
#             compression and encryption), where the server runs on the same cores
#   host:     how much two busy cores slow each other here (zstd alone, then two at once)
# Each source's commands run in turn, RUNS rounds of one run each (a shared machine's drift
# hits them alike): seconds are medians over the rounds, ratios medians of each round's
# ratio. Throwaway servers from tests/lib/servers.sh. Never pass/fail.
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

srv_ticks() {  # srv_ticks PID: CPU clock ticks of a server, with its reaped children (backends)
    awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"
}
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
# cpu NAME SERVER_PID: run the function NAME, append to $T/c.NAME the CPU seconds the server
# and the command (with its children: the dump tool) used, "server client"
cpu() {
    local s0 s1 c
    s0=$(srv_ticks "$2")
    c=$( { TIMEFORMAT='%U %S'; time "$1" >/dev/null 2>&1; } 2>&1 | tail -n 1)
    sleep 0.2   # a PostgreSQL backend is reaped (its CPU counted) after its client exits
    s1=$(srv_ticks "$2")
    awk -v s="$((s1 - s0))" -v hz="$(getconf CLK_TCK)" -v c="$c" \
        'BEGIN { split(c, u, " "); printf "%.2f %.2f\n", s / hz, u[1] + u[2] }' >>"$T/c.$1"
}
cpus() {  # cpus NAME: "server+client" CPU seconds, medians over the rounds
    printf '%s+%s' "$(cut -d' ' -f1 "$T/c.$1" | median)" "$(cut -d' ' -f2 "$T/c.$1" | median)"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
rounds() {  # rounds NAME... : RUNS rounds, each running the function NAME of each once, in turn
    local r f
    for r in $(seq "$runs"); do
        for f in "$@"; do secs "$f" >>"$T/t.$f"; done
    done
}
med() { median <"$T/t.$1"; }
pratio() {  # pratio A B: the median of A's seconds over B's, round by round
    paste "$T/t.$1" "$T/t.$2" | awk '{ printf "%.6f\n", $1 / $2 }' | median | xargs printf '%.3f'
}
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
# the same dumps compressed by hand as coffer compresses them (level 3 and 1, all cores): the
# work coffer does, without its encryption, hashing and catalog
pgzstd() { pg_dump -Fc -Z0 -h "$PG_HOST" -p "$PG_PORT" -U postgres postgres | zstd -q -3 -T0 >/dev/null; }
myzstd() { mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --routines --triggers --events --hex-blob --quick bench | zstd -q -1 -T0 >/dev/null; }

# the same with one zstd thread: on a 2-core host the server, pg_dump and zstd share the cores
sed -e "s|^path = .*/repo$|&1|" -e 's|^\[repository\]$|&\ncompression-threads = 1|' "$conf" >"$T/c/one.conf"
backupd --config "$T/c/one.conf" init >/dev/null 2>&1
# and with another zstd level (compression-level in the [source] section): 1 for postgres
# (default 3), 3 for mariadb (its default is 1; a build before that default has 3)
sed -e "s|^path = .*/repo$|&2|" -e 's|^type = postgres$|&\ncompression-level = 1|' \
    -e 's|^type = mariadb$|&\ncompression-level = 3|' "$conf" >"$T/c/alt.conf"
backupd --config "$T/c/alt.conf" init >/dev/null 2>&1
pgrun() { backupd --config "$conf" run pg; }
pgrun1() { backupd --config "$T/c/one.conf" run pg; }
pgrunf() { backupd --config "$T/c/alt.conf" run pg; }
myrun() { backupd --config "$conf" run my; }
myrun3() { backupd --config "$T/c/alt.conf" run my; }
rounds pgdump pgrun pgrun1 pgrunf pgzstd
pg_raw=$(med pgdump) pg_run=$(med pgrun) pg_run1=$(med pgrun1) pg_runf=$(med pgrunf) pg_zstd=$(med pgzstd)
pg_storedf=$(stored pg "$T/c/alt.conf")
pg_dump_bytes=$(pg_dump -Fc -Z0 -h "$PG_HOST" -p "$PG_PORT" -U postgres postgres | wc -c)
pg_gz_bytes=$(pg_dump -Fc -h "$PG_HOST" -p "$PG_PORT" -U postgres postgres | wc -c)
pg_stored=$(stored pg)
rounds mydump myrun myrun3 myzstd
# where the seconds go: CPU of the server and of the client side, a round of its own (so the
# rounds above are timed alone)
for r in $(seq "$runs"); do
    cpu pgdump "$PG_PID"; cpu pgrun "$PG_PID"; cpu mydump "$MY_PID"; cpu myrun "$MY_PID"
done
my_raw=$(med mydump) my_run=$(med myrun) my_run3=$(med myrun3) my_zstd=$(med myzstd)
my_stored3=$(stored my "$T/c/alt.conf")
mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --hex-blob --quick bench >"$T/my.sql"
my_dump_bytes=$(wc -c <"$T/my.sql")
# how much the cores slow each other when both are busy (a virtual machine's cores may share
# physical ones): zstd on the dump alone, then two at once, one per core. A pipeline that keeps
# every core busy pays this on all its CPU seconds; `mariadb-dump > /dev/null` leaves cores idle
zone() { zstd -q -1 --single-thread -c "$T/my.sql" >/dev/null; }
ztwo() { local p; zone & p=$!; zone; wait "$p"; }
rounds zone ztwo
my_gz_bytes=$(gzip -6 <"$T/my.sql" | wc -c)
rm -f "$T/my.sql"
my_stored=$(stored my)

printf '%-34s %12s %12s %8s\n' "" "peer" "coffer" "ratio"
printf '%-34s %11ss %11ss %8s\n' "postgres: pg_dump -Fc -Z0 >/dev/null" "$pg_raw" "$pg_run" "$(pratio pgrun pgdump)"
printf '%-34s %11ss %11ss %8s\n' "  same, compression-threads = 1" "$pg_raw" "$pg_run1" "$(pratio pgrun1 pgdump)"
printf '%-34s %11ss %11ss %8s\n' "  same, compression-level = 1" "$pg_raw" "$pg_runf" "$(pratio pgrunf pgdump)"
printf '%-34s %11ss %11ss %8s\n' "  peer: pg_dump | zstd -3 -T0" "$pg_zstd" "$pg_run" "$(pratio pgrun pgzstd)"
printf '%-34s %12s %12s %8s\n' "postgres: bytes, pg_dump -Fc (gzip)" "$pg_gz_bytes" "$pg_stored" "$(ratio "$pg_stored" "$pg_gz_bytes")"
printf '%-34s %12s %12s %8s\n' "  same, compression-level = 1" "$pg_gz_bytes" "$pg_storedf" "$(ratio "$pg_storedf" "$pg_gz_bytes")"
printf '%-34s %11ss %11ss %8s\n' "mariadb: mariadb-dump >/dev/null" "$my_raw" "$my_run" "$(pratio myrun mydump)"
printf '%-34s %11ss %11ss %8s\n' "  same, compression-level = 3" "$my_raw" "$my_run3" "$(pratio myrun3 mydump)"
printf '%-34s %11ss %11ss %8s\n' "  peer: mariadb-dump | zstd -1 -T0" "$my_zstd" "$my_run" "$(pratio myrun myzstd)"
printf '%-34s %12s %12s %8s\n' "mariadb: bytes, mariadb-dump|gzip" "$my_gz_bytes" "$my_stored" "$(ratio "$my_stored" "$my_gz_bytes")"
printf '%-34s %12s %12s %8s\n' "  same, compression-level = 3" "$my_gz_bytes" "$my_stored3" "$(ratio "$my_stored3" "$my_gz_bytes")"
echo "# dump sizes uncompressed: pg_dump -Fc -Z0 $pg_dump_bytes bytes, mariadb-dump $my_dump_bytes bytes"
echo "# CPU seconds, server + client (the client with its dump tool): postgres peer $(cpus pgdump), coffer $(cpus pgrun);" \
    "mariadb peer $(cpus mydump), coffer $(cpus myrun); on $(nproc) cores the wall time is at least the sum over $(nproc)"
echo "# this host: a CPU-bound process runs at $(ratio "$(med zone)" "$(med ztwo)") of its speed alone while another" \
    "runs on another core (zstd -1 on the mariadb dump: $(med zone)s alone, $(med ztwo)s two at once)"
echo "# coffer time includes pg_dumpall --globals-only and the catalog/commit of each backup"
