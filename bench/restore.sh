#!/usr/bin/env bash
# restore.sh - what a restore costs against each kind's native tool reading a local dump file,
# on the same data in one run:
#   postgres: `restore --into-db` (--jobs 1 and --jobs N) against `pg_restore` and
#             `pg_restore -j N` of a local `pg_dump -Fc` file
#   mariadb:  `restore --into-db` against `mariadb DB < dump.sql`
#   redis:    `restore --into-redis` (an empty scratch server) against redis-server starting
#             with the RDB in its dir (until it answers PING with the keys loaded)
#   volume:   `restore --to DIR` against `tar -xf` of a local tar file
# Each round runs every command once, in turn; medians of RUNS rounds. Throwaway servers from
# tests/lib/servers.sh. Never pass/fail.
#
#   bench/restore.sh [PGBENCH_SCALE]   (default 50; MY_ROWS=1000000, REDIS_KEYS=1000000,
#                                       VOL_MIB=256, JOBS=2, RUNS=3)
# BEFORE_BIN=DIR also times another build's restore (its bin/) in the same rounds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scale=${1:-50}
runs=${RUNS:-3}
jobs=${JOBS:-2}
my_rows=${MY_ROWS:-1000000}
redis_keys=${REDIS_KEYS:-1000000}
vol_mib=${VOL_MIB:-256}
before=${BEFORE_BIN:-}
"$root/deploy/install-deps.sh" build test bench
[ -n "${COFFER_BIN:-}" ] || make -s -C "$root" all
export COFFER_BIN=${COFFER_BIN:-$root/bin} COFFER_NO_PROGRESS=1
set +u
. "$root/tests/lib/testlib.sh"
. "$root/tests/lib/servers.sh"
. "$root/tests/lib/dbdata.sh"
. "$here/dbsetup.sh"
set -u

# secs NAME CMD...: wall seconds of one run appended to $T/t/NAME
mkdir -p "$T/t"
secs() {
    local name=$1 t0 t1; shift
    t0=$(date +%s.%N)
    if ! "$@" >/dev/null 2>"$T/bench.err"; then
        echo "bench: $name failed: $(tail -n 1 "$T/bench.err")" >&2
        echo 999999 >>"$T/t/$name"
        return
    fi
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$T/t/$name"
}
median() { sort -n "$T/t/$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
row() {  # row LABEL PEER_NAME COFFER_NAME
    local p c
    p=$(median "$2"); c=$(median "$3")
    printf '%-48s %10ss %10ss %8s\n' "$1" "$p" "$c" "$(ratio "$c" "$p")"
}
builds=("$COFFER_BIN")
[ -n "$before" ] && builds+=("$before")
tag() { [ "$1" = "$COFFER_BIN" ] && echo new || echo before; }

echo "# coffer restore bench: pgbench scale $scale, mariadb $my_rows rows, redis $redis_keys keys, volume $vol_mib MiB, $runs runs, $(nproc) cores"
bench_db_setup "$scale" "$my_rows"
REDIS_CONF_EXTRA="enable-debug-command local" start_redis >/dev/null
rcli DEBUG POPULATE "$redis_keys" key 64 >/dev/null
vol="$T/vol"
python3 "$here/gen-data.py" "$vol" "$vol_mib" >/dev/null
db_conf "$T/c"
conf="$T/c/coffer.conf"
sed -i "s|^path = $T\$|path = $vol|" "$conf"   # the volume source: the generated tree
for j in pg my cache nightly; do backupd --config "$conf" --quiet run "$j"; done

# the native tools' local files
d="$T/native"; mkdir -p "$d"
pg_dump -Fc -h "$PG_HOST" -p "$PG_PORT" -U postgres -f "$d/pg.dump" postgres
mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --routines --triggers \
    --events --hex-blob --quick bench >"$d/my.sql"
rcli --rdb "$d/dump.rdb" >/dev/null 2>&1
tar -cf "$d/vol.tar" -C "$vol" .
# scratch servers: an empty Redis for --into-redis; the native load gets its own dir
main_sock=$REDIS_SOCK
start_redis scratch >/dev/null
scratch_sock=$REDIS_SOCK
REDIS_SOCK=$main_sock
nat="$T/redis-native"; mkdir -p "$nat"

pg_drop() { pg_sql -c "DROP DATABASE IF EXISTS $1" >/dev/null; }
my_drop() { my_sql -e "DROP DATABASE IF EXISTS $1"; }
pg_native() { pg_sql -c "CREATE DATABASE r_native" >/dev/null && pg_restore -h "$PG_HOST" -p "$PG_PORT" -U postgres --dbname=r_native "$@" "$d/pg.dump"; }
my_native() { my_sql -e "CREATE DATABASE r_native" && mariadb --no-defaults -S "$MY_SOCK" -uroot r_native <"$d/my.sql"; }
redis_native() {  # redis-server with the RDB in its dir, until it answers with every key
    cp "$d/dump.rdb" "$nat/dump.rdb"
    redis-server --port 0 --unixsocket "$nat/s.sock" --dir "$nat" --dbfilename dump.rdb \
        --save '' --appendonly no --daemonize no >"$nat/log" 2>&1 &
    local pid=$! i
    for i in $(seq 1 6000); do
        [ "$(redis-cli -s "$nat/s.sock" DBSIZE 2>/dev/null)" = "$redis_keys" ] && break
        sleep 0.01
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -f "$nat/dump.rdb"
}


for i in $(seq 1 "$runs"); do
    echo "round $i/$runs" >&2
    secs pg_native pg_native; pg_drop r_native
    secs pg_native_j pg_native --jobs="$jobs"; pg_drop r_native
    for b in "${builds[@]}"; do
        secs "pg_$(tag "$b")_1" "$b/restore" --config "$conf" --source pg --at now --database postgres --into-db r_coffer; pg_drop r_coffer
        secs "pg_$(tag "$b")_j" "$b/restore" --config "$conf" --source pg --at now --database postgres --into-db r_coffer --jobs "$jobs"; pg_drop r_coffer
    done
    secs my_native my_native; my_drop r_native
    for b in "${builds[@]}"; do
        secs "my_$(tag "$b")" "$b/restore" --config "$conf" --source my --at now --database bench --into-db r_coffer; my_drop r_coffer
    done
    secs redis_native redis_native
    for b in "${builds[@]}"; do
        secs "redis_$(tag "$b")" "$b/restore" --config "$conf" --source cache --at now --into-redis "$scratch_sock"
        redis-cli -s "$scratch_sock" FLUSHALL >/dev/null
    done
    rm -rf "$T/out"; mkdir -p "$T/out"
    secs vol_native tar -xf "$d/vol.tar" -C "$T/out"; rm -rf "$T/out"
    for b in "${builds[@]}"; do
        secs "vol_$(tag "$b")" "$b/restore" --config "$conf" --source media --at now --to "$T/out"; rm -rf "$T/out"
    done
done

printf '%-48s %11s %11s %8s\n' "" "native" "coffer" "ratio"
for b in "${builds[@]}"; do
    t=$(tag "$b")
    [ ${#builds[@]} -gt 1 ] && echo "# build: $t ($b)"
    row "postgres: pg_restore" pg_native "pg_${t}_1"
    row "postgres: pg_restore -j $jobs (coffer --jobs $jobs)" pg_native_j "pg_${t}_j"
    row "  coffer --jobs $jobs against coffer --jobs 1" "pg_${t}_1" "pg_${t}_j"
    row "mariadb: mariadb < dump.sql" my_native "my_$t"
    row "redis: redis-server loading the RDB" redis_native "redis_$t"
    row "volume: tar -xf" vol_native "vol_$t"
done
echo "# native tools read local files ($(du -h "$d/pg.dump" | cut -f1) pg_dump -Fc (its gzip), $(du -h "$d/my.sql" | cut -f1) SQL, $(du -h "$d/dump.rdb" | cut -f1) RDB, $(du -h "$d/vol.tar" | cut -f1) tar); coffer reads its repository (zstd, encrypted)"
