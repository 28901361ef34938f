#!/usr/bin/env bash
# db_checks.sh - the completeness proofs (lib/source/chk_*.c) on real dumps from real
# PostgreSQL 15, MariaDB 10.11 and Redis 7 servers, and on cut and damaged copies of them.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"
: "${COFFER_UNIT:?run through tests/run.sh or make check}"
chk="$COFFER_UNIT/test_src_check"

# a server that does not start (or load) is one failure and the end, not a cascade
{ start_postgres && pg_load app 1; } || { echo "not ok - PostgreSQL started and loaded"; exit 1; }
{ start_mariadb && my_load shop; } || { echo "not ok - MariaDB started and loaded"; exit 1; }
{ start_redis && redis_load; } || { echo "not ok - Redis started and loaded"; exit 1; }

pg_dump -Fc -Z0 -h "$PG_HOST" -p "$PG_PORT" -U postgres -f "$T/app.dump" app
pg_dump -Fc -h "$PG_HOST" -p "$PG_PORT" -U postgres -f "$T/app-gz.dump" app
pg_dumpall --globals-only -h "$PG_HOST" -p "$PG_PORT" -U postgres -f "$T/globals.sql"
mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --routines --triggers \
    --events --hex-blob shop >"$T/shop.sql"
rcli --rdb "$T/dump.rdb" >/dev/null 2>&1

ok "pg_dump -Fc -Z0 archive proved complete" "$chk" --file pgdump "$T/app.dump"
summary=$(last_out)
check "summary counts the large objects" grep -q "large_objects=20" <<<"$summary"
ok "pg_dump -Fc (compressed) archive proved complete" "$chk" --file pgdump "$T/app-gz.dump"
ok "pg_dumpall --globals-only proved complete" "$chk" --file pgglobals "$T/globals.sql"
ok "mariadb-dump proved complete" "$chk" --file mariadb "$T/shop.sql"
ok "redis RDB proved complete" "$chk" --file rdb "$T/dump.rdb"
summary=$(last_out)
check "RDB key count matches DBSIZE" grep -q "keys=$(( $(rcli -n 0 DBSIZE) + $(rcli -n 3 DBSIZE) ))" <<<"$summary"

# cut short at many places: never proved
cut_all() {  # cut_all KIND FILE: every cut must fail
    local kind=$1 f=$2 size n bad=0 c
    size=$(stat -c %s "$f")
    for c in 0 1 5 11 100 1000 $((size / 3)) $((size / 2)) $((size - 4096)) $((size - 100)) \
             $((size - 9)) $((size - 1)); do
        [ "$c" -ge 0 ] && [ "$c" -lt "$size" ] || continue
        head -c "$c" "$f" >"$T/cut"
        if "$chk" --file "$kind" "$T/cut" >/dev/null 2>"$T/cut.err"; then
            echo "#   $kind cut at $c of $size passed"; bad=1
        fi
    done
    n=$((RANDOM % size))
    head -c "$n" "$f" >"$T/cut"
    "$chk" --file "$kind" "$T/cut" >/dev/null 2>&1 && { echo "#   $kind cut at $n passed"; bad=1; }
    return $bad
}
ok "cut pg_dump archives are refused" cut_all pgdump "$T/app.dump"
ok "cut compressed pg_dump archives are refused" cut_all pgdump "$T/app-gz.dump"
ok "cut globals dumps are refused" cut_all pgglobals "$T/globals.sql"
ok "cut mariadb dumps are refused" cut_all mariadb "$T/shop.sql"
ok "cut RDBs are refused" cut_all rdb "$T/dump.rdb"

fails "truncated archive names the place" 1 "truncated in" "$chk" --file pgdump <(head -c 200000 "$T/app.dump")
{ cat "$T/app.dump"; echo junk; } >"$T/extra.dump"
fails "bytes after the archive are refused" 1 "bytes after the end of the archive" "$chk" --file pgdump "$T/extra.dump"
# one flipped byte in the RDB: the checksum catches it
cp "$T/dump.rdb" "$T/flip.rdb"
size=$(stat -c %s "$T/flip.rdb")
printf '\x7e' | dd of="$T/flip.rdb" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cmp -s "$T/dump.rdb" "$T/flip.rdb" || fails "a flipped byte in the RDB is refused" 1 "" "$chk" --file rdb "$T/flip.rdb"
# a SQL dump whose tool died: header, some rows, no trailer
head -c $(( $(stat -c %s "$T/shop.sql") / 2 )) "$T/shop.sql" >"$T/half.sql"
fails "a half mariadb dump names the missing trailer" 1 "incomplete" "$chk" --file mariadb "$T/half.sql"
fails "an empty dump is never a backup" 1 "empty" "$chk" --file mariadb /dev/null
fails "a plain-format dump is not an archive" 1 "not a pg_dump custom-format archive" "$chk" --file pgdump "$T/globals.sql"
