#!/usr/bin/env bash
# bench/migrate.sh - `migrate up` of 20 migrations on an empty database, without snapshot
# (median of RUNS runs, each on a fresh database), on PostgreSQL 15 and MariaDB 10.11; then the
# snapshot's cost on its own line (the same up with the snapshot, minus the one without).
# Not part of the test suite. Usage: bench/migrate.sh [RUNS]   (default 5)
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
export COFFER_BIN=${COFFER_BIN:-$here/bin}
export COFFER_TESTS=$here/tests
RUNS=${1:-5}
[ -x "$COFFER_BIN/migrate" ] || { echo "build first: make" >&2; exit 2; }
. "$here/tests/lib/testlib.sh"
. "$here/tests/lib/servers.sh"
. "$here/tests/lib/migrate.sh"

ms() { date +%s%3N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

write_migrations() {  # DIR ENGINE: 20 realistic migrations (tables, indexes, data, a function)
    local d=$1 eng=$2 i
    mkdir -p "$d"
    for i in $(seq -w 1 20); do
        if [ "$eng" = postgres ]; then
            cat >"$d/00${i}_step.up.sql" <<SQL
create table t$i (id bigint primary key, name text not null, created timestamptz default now());
create index t${i}_name on t$i (name);
insert into t$i select g, 'row ' || g from generate_series(1, 100) g;
create function f$i() returns bigint language sql as \$\$ select count(*) from t$i \$\$;
SQL
        else
            cat >"$d/00${i}_step.up.sql" <<SQL
create table t$i (id bigint primary key, name varchar(100) not null, created timestamp default current_timestamp) engine=InnoDB;
create index t${i}_name on t$i (name);
insert into t$i (id, name) select seq, concat('row ', seq) from seq_1_to_100;
DELIMITER //
create function f$i() returns bigint reads sql data begin return (select count(*) from t$i); end //
DELIMITER ;
SQL
        fi
    done
}

# bench_engine ENGINE MKDB : prints the lines for one engine
bench_engine() {
    local eng=$1 mkdb=$2 i t0 t1 C M times="" snap_times="" snap_ms=""
    M=$T/mig-$eng
    write_migrations "$M" "$eng"
    for i in $(seq 1 "$RUNS"); do
        $mkdb "b$i" || return 1
        C=$T/conf-$eng-$i/coffer.conf
        mig_conf "$C" "$eng" "b$i" "$M"
        t0=$(ms)
        mig "$C" up --no-snapshot >/dev/null 2>"$T/err" || { cat "$T/err"; return 1; }
        t1=$(ms)
        times="$times $((t1 - t0))"
    done
    echo "$eng: migrate up, 20 migrations, empty database, no snapshot: median $(echo $times | tr ' ' '\n' | median) ms (runs:$times)"
    for i in $(seq 1 "$RUNS"); do
        $mkdb "s$i" || return 1
        C=$T/conf-$eng-s$i/coffer.conf
        mig_conf "$C" "$eng" "s$i" "$M"
        backupd --config "$C" init >/dev/null 2>&1 || return 1
        t0=$(ms)
        mig "$C" up >/dev/null 2>"$T/err" || { cat "$T/err"; return 1; }
        t1=$(ms)
        snap_times="$snap_times $((t1 - t0))"
        snap_ms="$snap_ms $(sed -n 's/.*snapshot taken .* ms=\([0-9]*\).*/\1/p' "$T/err")"
    done
    echo "$eng: snapshot before apply (backup of the empty database through the repository): median $(echo $snap_ms | tr ' ' '\n' | median) ms; up with snapshot: median $(echo $snap_times | tr ' ' '\n' | median) ms"
}

pg_mkdb() { pg_sql -q -c "create database $1"; }
my_mkdb() { my_sql -e "create database $1"; }

start_postgres >/dev/null || exit 1
bench_engine postgres pg_mkdb
stop_postgres
start_mariadb >/dev/null || exit 1
bench_engine mariadb my_mkdb
