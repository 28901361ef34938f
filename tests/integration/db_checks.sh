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

# tables whose rows are easy to miscount: none, rows without columns, values with newlines
pg_sql -d app >/dev/null <<'SQL'
CREATE TABLE "café".vide (id int);
CREATE TABLE "café"."sans colonnes" ();
INSERT INTO "café"."sans colonnes" SELECT FROM generate_series(1, 3);
CREATE TABLE "Lignes" (t text, b bytea);
INSERT INTO "Lignes" VALUES (E'a\nb\r\nc\n', E'\\x0a0a0d'), (E'\n', NULL), (NULL, E'\\x0a');
SQL
pg_dump -Fc -Z0 -h "$PG_HOST" -p "$PG_PORT" -U postgres -f "$T/app.dump" app
pg_dump -Fc -h "$PG_HOST" -p "$PG_PORT" -U postgres -f "$T/app-gz.dump" app
pg_dumpall --globals-only -h "$PG_HOST" -p "$PG_PORT" -U postgres -f "$T/globals.sql"
mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --routines --triggers \
    --events --hex-blob shop >"$T/shop.sql"
rcli --rdb "$T/dump.rdb" >/dev/null 2>&1

ok "pg_dump -Fc -Z0 archive proved complete" "$chk" --file pgdump "$T/app.dump"
summary=$(last_out)
check "summary counts the large objects" grep -q "large_objects=20" <<<"$summary"
# each table's rows as the archive's COPY data holds them, against count(*)
pg_sql -d app -tA -F' ' -c "SELECT n.nspname || '.' || c.relname, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')" |
    LC_ALL=C sort >"$T/counts.sql"
grep '^rows ' <<<"$summary" | cut -d' ' -f2- | LC_ALL=C sort >"$T/counts.dump"
check "the rows of each table counted in the archive equal count(*)" diff "$T/counts.sql" "$T/counts.dump"
check "...for all of its $(wc -l <"$T/counts.sql") tables, partitions among them" grep -qx 'café.commandes_2026_02_b [0-9]*' "$T/counts.dump"
check "...a table without columns has its 3 rows" grep -qx 'café.sans colonnes 3' "$T/counts.dump"
check "...and rows whose values hold newlines one each" grep -qx 'public.Lignes 3' "$T/counts.dump"
check "...an empty table none" grep -qx 'café.vide 0' "$T/counts.dump"
# a data block without pg_dump's end marker (same length, still a whole archive): that table's
# rows are not taken from the archive (the backup counts them in the snapshot instead)
python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(d.replace(b"\\.\n\n\n", b"\\.\n\n ", 1))' "$T/app.dump" "$T/nomark.dump"
ok "an archive with a block without its end marker is still whole" "$chk" --file pgdump "$T/nomark.dump"
check "...and that one table is not counted" test "$(last_out | grep -c 'not counted$')" = 1
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
