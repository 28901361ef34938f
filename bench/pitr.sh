#!/usr/bin/env bash
# pitr.sh - point-in-time recovery of PostgreSQL against pgBackRest (Debian's package), on the
# same cluster in one run (docs/PITR.md):
#   base backup   MB/s of `backupd run` (method = physical) against
#                 `pgbackrest backup --type=full` (compress-type=zst, start-fast)
#   wal-push      ms per 16 MiB segment of `backupd wal-push` against `pgbackrest archive-push`
#                 (each a fresh archive, the same real segments, one process per segment)
#   restore       seconds from `restore --at latest --to-datadir` to a promoted server against
#                 `pgbackrest restore` to a promoted server (both replay the same WAL)
# Ratios are coffer / pgBackRest. Throwaway server from tests/lib/servers.sh. Never pass/fail.
# Then (first, in fact) MariaDB 10.11 with its binlog archive (docs/PITR.md "MariaDB"):
#   binlog lag    how far the archive's last event (catalog status) is behind a steady writer
#                 under `backupd binlog-follow`, sampled each second, against the seal interval
#   restore       seconds of `restore --at T --into-db` (the dump, then the archived events up
#                 to T) against the same by hand on the same data: `mariadb < dump` of a
#                 mariadb-dump taken beside coffer's, then `mariadb-binlog --start-position
#                 --stop-datetime ... | mariadb` over the server's own binlog files
#
#   bench/pitr.sh [PGBENCH_SCALE]   (default 30, about 450 MB; SEGS=8 segments pushed)
# COFFER_BASE_BIN=DIR (another build, e.g. main's) pushes the same segments with it too, into a
# source of its own, for a before/after in one run. The tools push each segment in turn, the
# first of them another one for each segment (the first reads it from memory, the later ones
# partly from the CPU's cache). PARTS chooses the parts (default "mariadb base wal restore";
# restore needs base: PARTS=wal runs only the wal-push part); MY_ROWS (200000 rows loaded
# before the dump), MY_WRITE_SECONDS (20) and MY_SEAL (3s) size the MariaDB part, which takes
# about a minute.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scale=${1:-30}
nsegs=${SEGS:-8}
parts=" ${PARTS:-mariadb base wal restore} "
"$root/deploy/install-deps.sh" build test bench
[ -n "${COFFER_BIN:-}" ] || make -s -C "$root" all
export COFFER_BIN=${COFFER_BIN:-$root/bin}
set +u
. "$root/tests/lib/testlib.sh"
. "$root/tests/lib/servers.sh"
set -u

as_pg() { runuser -u postgres -- "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# --- MariaDB: the binlog archive's lag, and a restore to a moment against doing it by hand ---
mariadb_part() {
    local rows=${MY_ROWS:-200000} secs=${MY_WRITE_SECONDS:-20} seal=${MY_SEAL:-3s}
    local m="$T/m" mconf="$T/m/coffer.conf" pos file tend lags hand cr hr n
    MY_CONF_EXTRA='log-bin = binlog
server-id = 1
binlog_format = ROW' start_mariadb >/dev/null
    mkdir -p "$m/vol"
    make_local_conf "$m" "$m/vol"
    printf '\n[source my]\ntype = mariadb\nsocket = %s\nuser = %s\npassword-file = %s\ndatabases = bench\nbinlog-archive = yes\nbinlog-mode = follow\nbinlog-seal-interval = %s\n\n[job my]\nsources = my\n' \
        "$MY_SOCK" "$MY_USER" "$MY_PASSFILE" "$seal" >>"$mconf"
    backupd --config "$mconf" init >/dev/null 2>&1
    my_sql -e "CREATE DATABASE bench; CREATE TABLE bench.t (id INT PRIMARY KEY, v INT NOT NULL, pad CHAR(60) NOT NULL) ENGINE=InnoDB"
    my_sql bench -e "INSERT INTO t SELECT seq, 0, REPEAT('x', 60) FROM seq_1_to_$rows"
    echo "# mariadb part: $rows rows, a writer for ${secs}s, binlog-seal-interval $seal, $(mariadb --version | awk '{print $5}' | tr -d ,)"
    backupd --config "$mconf" run my >/dev/null 2>&1
    # the same data by hand, with the position it starts from (nothing is written between)
    mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --master-data=2 bench >"$m/hand.sql"
    file=$(sed -n "s/^-- CHANGE MASTER TO MASTER_LOG_FILE='\([^']*\)', MASTER_LOG_POS=\([0-9]*\);/\1/p" "$m/hand.sql")
    pos=$(sed -n "s/^-- CHANGE MASTER TO MASTER_LOG_FILE='\([^']*\)', MASTER_LOG_POS=\([0-9]*\);/\2/p" "$m/hand.sql")
    backupd --config "$mconf" binlog-follow my 2>"$m/follow.log" &
    local fpid=$!
    on_exit "kill $fpid"
    # the archive's last event (catalog status, as an operator reads it), Unix time
    last_event() {
        catalog --config "$mconf" status --json 2>/dev/null | python3 -c '
import json, sys, calendar, time
a = [x for x in json.load(sys.stdin)["sources"] if x["source"] == "my"][0]["archive"]
print(calendar.timegm(time.strptime(a["last_event"], "%Y-%m-%dT%H:%M:%SZ")) if a and a["last_event"] else 0)'
    }
    # a steady writer: a transaction updating 100 rows and inserting one, then 50 ms of sleep,
    # for about @secs seconds (a fixed count: the pipe would run ahead of a clock)
    for ((i = 0; i < secs * 15; i++)); do
        printf "BEGIN; UPDATE t SET v = v + 1 WHERE id BETWEEN %d AND %d; INSERT INTO t VALUES (%d, 1, 'w'); COMMIT; DO SLEEP(0.05);\n" \
            $((i * 100 % rows + 1)) $((i * 100 % rows + 100)) $((rows + i + 1))
    done | my_sql bench &
    local wpid=$!
    : >"$m/lags"
    sleep 3
    while kill -0 "$wpid" 2>/dev/null; do
        n=$(last_event)
        [ "$n" -gt 0 ] && echo $(($(date +%s) - n)) >>"$m/lags"
        sleep 1
    done
    wait "$wpid" || true
    n=$(my_sql -N -e "SELECT COUNT(*) - $rows FROM bench.t")
    sleep 1.2
    tend=$(date +%s)
    my_sql -e "INSERT INTO bench.t VALUES (0, 0, 'after')"   # an event at or after the moment
    for ((k = 0; k < 120; k++)); do [ "$(last_event)" -ge "$tend" ] && break; sleep 0.5; done
    kill -TERM "$fpid"; wait "$fpid" || true
    lags=$(sort -n "$m/lags" | awk '{a[NR]=$1} END {if (NR) printf "median %ds, max %ds (%d samples)", a[int((NR+1)/2)], a[NR], NR}')
    local sealsec=${seal%s} maxlag
    maxlag=$(sort -n "$m/lags" | tail -n 1)
    echo "binlog lag       binlog-follow behind a steady writer: $lags   max/seal-interval ratio $(ratio "${maxlag:-0}" "$sealsec")"
    local at
    at=$(date -u -d "@$tend" +%Y-%m-%dT%H:%M:%SZ)
    t0=$(now)
    restore --config "$mconf" --source my --at "$at" --database bench --into-db bench_c >/dev/null 2>"$m/restore.log"
    cr=$(since "$t0")
    local files=() f
    for f in $(my_sql -N -e "SHOW BINARY LOGS" | cut -f1); do
        [[ "$f" < "$file" ]] || files+=("$MY_DATA/$f")
    done
    t0=$(now)
    my_sql -e "CREATE DATABASE bench_h"
    my_sql bench_h <"$m/hand.sql"
    TZ=UTC mariadb-binlog --database=bench --rewrite-db='bench->bench_h' --skip-gtid-strict-mode \
        --start-position="$pos" --stop-datetime="$(date -u -d "@$tend" '+%Y-%m-%d %H:%M:%S')" "${files[@]}" | my_sql
    hr=$(since "$t0")
    local same=different
    [ "$(my_sql -N -e 'CHECKSUM TABLE bench_c.t' | cut -f2)" = "$(my_sql -N -e 'CHECKSUM TABLE bench_h.t' | cut -f2)" ] && same=same
    echo "restore --at     coffer ${cr}s   by hand (mariadb < dump; mariadb-binlog | mariadb) ${hr}s   time ratio $(ratio "$cr" "$hr")   ($n transactions replayed, $(( $(wc -c <"$m/hand.sql") / 1000000 )) MB dump, results $same)"
    stop_mariadb
}
if [[ $parts == *" mariadb "* ]]; then
    mariadb_part
fi
[[ $parts == *" base "* || $parts == *" wal "* || $parts == *" restore "* ]] || exit 0

# --- coffer: a repository the postgres user can archive into (docs/PITR.md) ---
c="$T/c"
conf="$c/coffer.conf"
mkdir -p "$T/vol"
make_local_conf "$c" "$T/vol"
backupd --config "$conf" init >/dev/null 2>&1
pg_archive_access "$c"

# --- pgBackRest: its own repository, owned by postgres ---
b="$T/pgbr"
install -d -o postgres -g postgres -m 0750 "$b" "$b/repo" "$b/log" "$b/lock" "$b/spool"
bconf="$b/pgbackrest.conf"
pgbr() { as_pg pgbackrest --config="$bconf" "$@"; }

PG_CONF_EXTRA="archive_mode = on
archive_command = '$COFFER_BIN/backupd --config $conf wal-push pg %p && pgbackrest --config=$bconf --stanza=bench archive-push %p'
wal_keep_size = 4GB"
start_postgres >/dev/null
chown postgres "$PG_PASSFILE"
printf 'local replication all scram-sha-256\n' >>"$PG_DATA/pg_hba.conf"
pg_sql -c "SELECT pg_reload_conf()" >/dev/null
for s in pg pgseg pgbase; do
    printf '\n[source %s]\ntype = postgres\nhost = %s\nport = %s\nuser = %s\npassword-file = %s\nmethod = physical\n' \
        "$s" "$PG_HOST" "$PG_PORT" "$PG_USER" "$PG_PASSFILE" >>"$conf"
done
printf '\n[job pitr]\nsources = pg\n' >>"$conf"
cat >"$bconf" <<CONF
[global]
repo1-path=$b/repo
log-path=$b/log
lock-path=$b/lock
spool-path=$b/spool
compress-type=zst
start-fast=y
log-level-console=warn
log-level-file=off
repo1-retention-full=9999999

[bench]
pg1-path=$PG_DATA
pg1-socket-path=$PG_HOST
pg1-port=$PG_PORT

[bench2]
pg1-path=$PG_DATA
pg1-socket-path=$PG_HOST
pg1-port=$PG_PORT
CONF
chown postgres "$bconf"
pgbr --stanza=bench stanza-create >/dev/null
pgbr --stanza=bench2 stanza-create >/dev/null

pgbench -i -q -s "$scale" postgres >/dev/null 2>&1
pg_sql -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
size=$(pg_sql -tAc "SELECT sum(pg_database_size(oid)) FROM pg_database")
mb=$(awk -v s="$size" 'BEGIN { printf "%.0f", s / 1e6 }')
echo "# coffer pitr bench: pgbench scale $scale ($mb MB of databases), $nsegs segments, $(nproc) cores, $(pgbackrest version)"

# --- base backup ---
if [[ $parts == *" base "* ]]; then
t0=$(now); backupd --config "$conf" run pitr >/dev/null 2>&1; cb=$(since "$t0")
t0=$(now); pgbr --stanza=bench backup --type=full >/dev/null; pb=$(since "$t0")
cbr=$(awk -v m="$mb" -v s="$cb" 'BEGIN { printf "%.1f", m / s }')
pbr=$(awk -v m="$mb" -v s="$pb" 'BEGIN { printf "%.1f", m / s }')
echo "base backup      coffer ${cb}s ($cbr MB/s)   pgbackrest ${pb}s ($pbr MB/s)   throughput ratio $(ratio "$cbr" "$pbr")"
fi

# --- wal-push: the same real segments into a fresh archive of each ---
pgbench -c 2 -t 3000 postgres >/dev/null 2>&1
pg_sql -c "SELECT pg_switch_wal()" >/dev/null
cur=$(pg_sql -tAc "SELECT pg_walfile_name(pg_current_wal_lsn())")
mkdir -p "$T/segs" && chown postgres "$T/segs"
for f in $(cd "$PG_DATA/pg_wal" && ls | grep -E '^[0-9A-F]{24}$' | awk -v c="$cur" '$0 < c' | tail -n "$nsegs"); do
    cp "$PG_DATA/pg_wal/$f" "$T/segs/$f"
done
chown postgres "$T/segs"/*
# the server's own archiving of these segments done first, so that it does not run meanwhile
last=$(ls "$T/segs" | tail -n 1)
for ((n = 0; n < 1200; n++)); do
    [ "$(pg_sql -tAc "SELECT coalesce(last_archived_wal >= '$last', false) FROM pg_stat_archiver")" = t ] && break
    sleep 0.1
done
: >"$T/cw"; : >"$T/pw"; : >"$T/bw"
push_one() {  # push_one TOOL SEGMENT: one timed push, its seconds appended to the tool's file
    local t0
    t0=$(now)
    case $1 in
    c) as_pg "$COFFER_BIN/backupd" --config "$conf" wal-push pgseg "$2" 2>/dev/null ;;
    b) as_pg "$COFFER_BASE_BIN/backupd" --config "$conf" wal-push pgbase "$2" 2>/dev/null ;;
    p) pgbr --stanza=bench2 archive-push "$2" >/dev/null ;;
    esac
    since "$t0" >>"$T/${1}w"
}
tools=(c p)
[ -n "${COFFER_BASE_BIN:-}" ] && tools=(c b p)
i=0
for f in "$T/segs"/*; do
    for ((k = 0; k < ${#tools[@]}; k++)); do
        push_one "${tools[(i + k) % ${#tools[@]}]}" "$f"
    done
    i=$((i + 1))
done
cw=$(median <"$T/cw"); pw=$(median <"$T/pw")
echo "wal-push         coffer $(awk -v s="$cw" 'BEGIN { printf "%.0f", s * 1000 }') ms/segment   pgbackrest $(awk -v s="$pw" 'BEGIN { printf "%.0f", s * 1000 }') ms/segment   time ratio $(ratio "$cw" "$pw") (median of $(wc -l <"$T/cw"))"
if [ -s "$T/bw" ]; then
    bw=$(median <"$T/bw")
    echo "wal-push base    $COFFER_BASE_BIN $(awk -v s="$bw" 'BEGIN { printf "%.0f", s * 1000 }') ms/segment   time ratio $(ratio "$bw" "$pw")"
fi

[[ $parts == *" restore "* ]] || exit 0
# --- restore to a promoted server: everything archived, replayed from the base backup ---
pg_sql -c "SELECT pg_switch_wal()" >/dev/null
for ((n = 0; n < 600; n++)); do
    [ "$(pg_sql -tAc "SELECT last_archived_wal >= '$cur' FROM pg_stat_archiver")" = t ] && break
    sleep 0.1
done
promoted() {  # promoted DIR PORT: start DIR on PORT without archiving, wait for the promotion
    local d=$1 port=$2 sock="$T/sock-$2" n
    mkdir -p "$sock" && chown postgres "$sock"
    touch "$T/log-$port" && chown postgres "$T/log-$port"
    as_pg "$PG_BINDIR/pg_ctl" -D "$d" -l "$T/log-$port" -w -t 600 \
        -o "-p $port -k $sock -c archive_mode=off" start >/dev/null
    for ((n = 0; n < 6000; n++)); do
        [ "$("$PG_BINDIR/psql" -X -h "$sock" -p "$port" -U postgres -tAc "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
        sleep 0.1
    done
    as_pg "$PG_BINDIR/pg_ctl" -D "$d" -m fast -w stop >/dev/null
}
t0=$(now)
restore --config "$conf" --source pg --at latest --to-datadir "$T/rc" >/dev/null 2>&1
promoted "$T/rc" "$(_srv_port)"
cr=$(since "$t0")
install -d -o postgres -g postgres -m 0700 "$T/rp"
t0=$(now)
pgbr --stanza=bench restore --pg1-path="$T/rp" >/dev/null
promoted "$T/rp" "$(_srv_port)"
pr=$(since "$t0")
echo "restore+promote  coffer ${cr}s   pgbackrest ${pr}s   time ratio $(ratio "$cr" "$pr")"
