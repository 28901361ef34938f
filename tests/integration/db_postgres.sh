#!/usr/bin/env bash
# db_postgres.sh - the postgres source against a real PostgreSQL 15: pgbench data plus bytea,
# json, arrays and large objects, backed up while pgbench writes, restored into new databases
# (serial, --jobs, --to-file), replaced with --clean --force, roles with --globals; the
# snapshot is proved consistent and the restored content equal by COPY checksums. A database
# with what real schemas hold (partitioned tables with keys, domains, materialized views,
# triggers, routines with comments, non-ASCII names) is restored into a new name and in place
# (through a scratch database and a rename) with its schema dump, owner, privileges, comment
# and settings equal; a replacement whose load fails leaves the original as it was.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

start_postgres || exit 1
pg_load app 10 || exit 1
pg_sql -c "CREATE DATABASE billing" -c "CREATE ROLE app_reader LOGIN PASSWORD 'pw-reader'"
pg_sql -d billing -c "CREATE TABLE invoices (id int PRIMARY KEY, total numeric, meta jsonb); INSERT INTO invoices SELECT i, i * 1.25, jsonb_build_object('n', i) FROM generate_series(1, 1000) i"
db_conf "$T/c"
conf="$T/c/coffer.conf"
export TMPDIR="$T/tmp"   # where --jobs puts its temp archive: checked empty after
mkdir -p "$TMPDIR"

# pgbench's invariant: a consistent snapshot has the same balance total in all four tables
balances() {
    pg_sql -d "$1" -tAc "SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ' ' || (SELECT sum(bbalance) FROM pgbench_branches) || ' ' || (SELECT sum(tbalance) FROM pgbench_tellers) || ' ' || (SELECT coalesce(sum(delta), 0) FROM pgbench_history)"
}
consistent() { [ "$(balances "$1" | tr ' ' '\n' | sort -u | wc -l)" -eq 1 ]; }
static_fp() { pg_fingerprint "$1" | grep -Ev '^pgbench_'; }

# --- backup while a writer runs ---
pgbench -n -c 2 -T 30 -h "$PG_HOST" -p "$PG_PORT" -U postgres app >/dev/null 2>&1 &
writer=$!
on_exit "kill $writer"
sleep 1
ok "backup of all databases while pgbench writes" backupd --config "$conf" run pg
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null
check "the writer really changed data" test "$(pg_sql -d app -tAc 'SELECT count(*) FROM pgbench_history')" -gt 0
ok "restore app from the backup taken under load into app_live" \
    restore --config "$conf" --source pg --at now --database app --into-db app_live
check "the restored snapshot is consistent (pgbench balances agree)" consistent app_live
check "history rows of the snapshot are there" test "$(pg_sql -d app_live -tAc 'SELECT count(*) FROM pgbench_history')" -gt 0
static_fp app >"$T/app.static"
static_fp app_live >"$T/live.static"
check "bytea/json/arrays/large objects restored equal" cmp "$T/app.static" "$T/live.static"

# --- the manifest records what restore and operators need ---
check "manifest: server version" test -n "$(latest_info "$conf" pg 'i["server_version"]')"
check "manifest: wal_lsn per database" grep -Eq '^[0-9A-F]+/[0-9A-F]+$' <<<"$(latest_info "$conf" pg '[d for d in i["databases"] if d["name"]=="app"][0]["wal_lsn"]')"
check "manifest: database size" test "$(latest_info "$conf" pg '[d for d in i["databases"] if d["name"]=="app"][0]["size"]')" -gt 100000000
check "manifest: every non-template database, no templates" test "$(latest_info "$conf" pg '",".join(d["name"] for d in i["databases"])')" = "app,billing,postgres"
check "manifest: globals with role passwords (superuser)" test "$(latest_info "$conf" pg 'i["globals"]["role_passwords"]')" = True

# --- quiesced: restored equal to the source, table by table ---
ok "second backup, no writer" backupd --config "$conf" run pg
pg_fingerprint app >"$T/app.fp"
ok "restore into a new database" restore --config "$conf" --source pg --at now --database app --into-db app_copy
pg_fingerprint app_copy >"$T/copy.fp"
check "COPY checksums of every table, large objects and views are equal" cmp "$T/app.fp" "$T/copy.fp"
ok "parallel restore (--jobs 2) into a new database" restore --config "$conf" --source pg --at now --database app --into-db app_par --jobs 2
pg_fingerprint app_par >"$T/par.fp"
check "--jobs restore is equal too" cmp "$T/app.fp" "$T/par.fp"
check "--jobs: indexes, constraints and triggers too (post-data)" cmp <(pg_schema app) <(pg_schema app_par)
check "--jobs leaves no temp archive behind" test -z "$(ls -A "$TMPDIR")"
ok "--to-file writes a pg_restore archive" restore --config "$conf" --source pg --at now --database billing --to-file "$T/billing.dump"
ok "pg_restore reads the written file" pg_restore -l "$T/billing.dump"
fails "--to-file refuses to overwrite" 1 "exists" restore --config "$conf" --source pg --at now --database billing --to-file "$T/billing.dump"
fails "--to-file with several databases asks which" 2 "--database" restore --config "$conf" --source pg --at now --to-file "$T/x.dump"
fails "a database the backup lacks is named" 1 "holds no database 'nope'" restore --config "$conf" --source pg --at now --database nope --into-db x

# --- replacing the original ---
pg_sql -d billing -c "DELETE FROM invoices WHERE id > 10"
fails "the original is not replaced without --clean --force" 1 "exists" restore --config "$conf" --source pg --at now --database billing --into-db SAME
fails "--clean without --force is refused" 2 "--force" restore --config "$conf" --source pg --at now --database billing --into-db SAME --clean
check "refusals changed nothing" test "$(pg_sql -d billing -tAc 'SELECT count(*) FROM invoices')" -eq 10
ok "--into-db SAME --clean --force replaces it" restore --config "$conf" --source pg --at now --database billing --into-db SAME --clean --force
check "the original has its rows back" test "$(pg_sql -d billing -tAc 'SELECT count(*) FROM invoices')" -eq 1000
ok "--dry-run prints the plan" restore --config "$conf" --source pg --at now --database app --into-db app_dry --dry-run
check "--dry-run created nothing" test -z "$(pg_sql -tAc "SELECT 1 FROM pg_database WHERE datname = 'app_dry'")"

gone() { for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done; return 1; }

# --- real schemas: schema dumps equal, in a new name and in place ---
pg_sql -c "CREATE ROLE shop_owner" -c "CREATE DATABASE \"schémas\" OWNER shop_owner" >/dev/null
pg_load_schema "schémas" || exit 1
pg_sql >/dev/null \
    -c "ALTER DATABASE \"schémas\" SET search_path = \"\$user\", public, \"café\"" \
    -c "ALTER DATABASE \"schémas\" SET work_mem = '8MB'" \
    -c "ALTER ROLE app_reader IN DATABASE \"schémas\" SET statement_timeout = '5s'" \
    -c "REVOKE ALL ON DATABASE \"schémas\" FROM PUBLIC" \
    -c "GRANT CONNECT ON DATABASE \"schémas\" TO app_reader" \
    -c "COMMENT ON DATABASE \"schémas\" IS 'base à accents ✓'"
cat >>"$conf" <<CONF

[source pgs]
type = postgres
host = $PG_HOST
port = $PG_PORT
user = $PG_USER
password-file = $PG_PASSFILE
databases = schémas, billing

[job pgs]
sources = pgs
CONF
# what pg_dump without --create leaves out: owner, privileges, comment, settings, locale
dbprops() {
    pg_sql -tAc "SELECT pg_get_userbyid(datdba), datacl, shobj_description(d.oid, 'pg_database'), (SELECT string_agg(coalesce(pg_get_userbyid(nullif(setrole, 0)), '*') || ':' || array_to_string(setconfig, '|'), ',' ORDER BY setrole) FROM pg_db_role_setting WHERE setdatabase = d.oid), pg_encoding_to_char(encoding), datcollate, datctype, datconnlimit FROM pg_database d WHERE datname = '$1'"
}
ok "backup of the database with a real schema" backupd --config "$conf" run pgs
pg_schema "schémas" >"$T/schemas.schema"
dbprops "schémas" >"$T/schemas.props"
rows() { pg_sql -d "$1" -tAc "SELECT concat_ws('/', (SELECT count(*) FROM \"café\".commandes), (SELECT count(*) FROM \"café\".lignes), (SELECT count(*) FROM \"café\".ventes_par_jour))"; }
rows "schémas" >"$T/schemas.rows"
check "the schema dump holds the partitions, the routine's comments and the matview" \
    grep -q "ATTACH PARTITION.*FOR VALUES WITH (modulus 2, remainder 1)" "$T/schemas.schema"
check "the schema dump holds a routine's block comment" grep -q "over two lines" "$T/schemas.schema"
ok "--dry-run of one database of several" restore --config "$conf" --source pgs --at now --database "schémas" --into-db x --dry-run
check "the plan gives that database's size" grep -qF "of the backup's dump" "$_out"
_plan=$(grep "^  size " "$_out")
check "the size line counts that database alone" grep -qF "to restore (the chosen database)" <<<"$_plan"
ok "restore into a new name" restore --config "$conf" --source pgs --at now --database "schémas" --into-db "schémas_copy"
pg_schema "schémas_copy" >"$T/copy.schema"
check "schema dump of the new database equals the original's" cmp "$T/schemas.schema" "$T/copy.schema"
check "rows of partitions, foreign keys and the matview equal" test "$(rows "schémas_copy")" = "$(cat "$T/schemas.rows")"

# in place: a partitioned table with keys defeats pg_restore --clean, the scratch swap works
pg_sql -d "schémas" >/dev/null -c 'DELETE FROM "café".lignes' -c 'DROP MATERIALIZED VIEW "café".ventes_par_jour' \
    -c 'ALTER TABLE "café".clients ADD COLUMN extra int' -c 'DROP FUNCTION "café".total_du(int)'
pg_sql -d "schémas" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
sleeper=$!
on_exit "kill $sleeper"
ok "--into-db SAME --clean --force replaces it through a scratch database" \
    restore --config "$conf" --source pgs --at now --database "schémas" --into-db SAME --clean --force
check "the log says where the old one is kept" grep -qF "kept as schémas_before_restore_" "$_err"
check "the schema dump equals the original's again" cmp "$T/schemas.schema" <(pg_schema "schémas")
check "owner, privileges, comment, settings and locale kept" test "$(dbprops "schémas")" = "$(cat "$T/schemas.props")"
check "the rows are back" test "$(rows "schémas")" = "$(cat "$T/schemas.rows")"
check "the session connected to the old database was ended" gone "$sleeper"
check "the old database is kept aside" test "$(pg_sql -tAc "SELECT count(*) FROM pg_database WHERE datname LIKE 'schémas\_before\_restore\_%'")" -eq 1
check "no scratch database is left" test "$(pg_sql -tAc "SELECT count(*) FROM pg_database WHERE datname LIKE '%\_coffer\_restore'")" -eq 0
ok "in place again, with --jobs 2" \
    restore --config "$conf" --source pgs --at now --database "schémas" --into-db SAME --clean --force --jobs 2
check "--jobs: the schema dump equals the original's" cmp "$T/schemas.schema" <(pg_schema "schémas")
# --jobs: the post-data section in three runs (a foreign key to a partitioned table only after
# every index attachment: in one parallel run pg_restore 15 failed 4 restores in 30 of this
# database on 2 busy cores). A pg_restore in front of the real one logs what each run holds.
mkdir -p "$T/pgbin"
ln -s "$PG_BINDIR"/* "$T/pgbin/"
rm "$T/pgbin/pg_restore"
cat >"$T/pgbin/pg_restore" <<SH
#!/bin/sh
for a; do
    case "\$a" in --use-list=*)
        echo "run \$(printf '%s\n' "\$@" | grep -E '^--(jobs|section)')" | tr '\n' ' ' >>"$T/pgrestore.log"
        sed 's/^[0-9]*; [0-9]* [0-9]* //' "\${a#--use-list=}" | cut -d' ' -f1-2 | sort -u | tr '\n' ',' >>"$T/pgrestore.log"
        echo >>"$T/pgrestore.log" ;;
    esac
done
exec "$PG_BINDIR/pg_restore" "\$@"
SH
chmod +x "$T/pgbin/pg_restore"
sed "/^type = postgres\$/a bin-dir = $T/pgbin" "$conf" >"$T/pgbin.conf"
ok "--jobs 2 through a logging pg_restore" \
    restore --config "$T/pgbin.conf" --source pgs --at now --database "schémas" --into-db "schémas_par" --jobs 2
check "--jobs: the post-data section is three runs" test "$(grep -c '^run ' "$T/pgrestore.log")" = 3
check "...first everything but index attachments and foreign keys, 2 at a time" \
    grep -q '^run --section=post-data --jobs=2 .*INDEX café,' <(sed -n 1p "$T/pgrestore.log")
check "...(neither of those in it)" test -z "$(sed -n 1p "$T/pgrestore.log" | grep -E 'INDEX ATTACH|FK CONSTRAINT')"
check "...then the index attachments alone, one at a time" grep -qx 'run --section=post-data --jobs=1 INDEX ATTACH,' <(sed -n 2p "$T/pgrestore.log")
check "...then the foreign keys alone, 2 at a time" grep -qx 'run --section=post-data --jobs=2 FK CONSTRAINT,' <(sed -n 3p "$T/pgrestore.log")
check "...and the copy's schema equals the original's" cmp <(pg_schema "schémas") <(pg_schema "schémas_par")
# a pg_restore that cannot list the table of contents (the runs are chosen from its list): the
# restore fails, saying so, and drops the database it created for the load
sed -e '/^for a; do$/i for a; do [ "$a" = --list ] \&\& { echo "pg_restore: error: cannot list (test)" >\&2; exit 1; }; done' \
    "$T/pgbin/pg_restore" >"$T/pgbin/pg_restore.bad"
chmod +x "$T/pgbin/pg_restore.bad"
mv "$T/pgbin/pg_restore" "$T/pgbin/pg_restore.good"
mv "$T/pgbin/pg_restore.bad" "$T/pgbin/pg_restore"
fails "--jobs 2: a pg_restore --list that fails fails the restore" 1 "cannot list (test)" \
    restore --config "$T/pgbin.conf" --source pgs --at now --database "schémas" --into-db "schémas_bad" --jobs 2
check "...and the database it loaded is dropped" \
    test "$(pg_sql -tAc "SELECT count(*) FROM pg_database WHERE datname = 'schémas_bad'")" = 0
mv "$T/pgbin/pg_restore.good" "$T/pgbin/pg_restore"
# two replacements within one second: the second keeps the original under a name of its own.
# The restore takes its aside name when it swaps, after a load whose length a busy machine
# decides, so the test fixes the second it names (COFFER_TEST_ASIDE_TIME) and takes that
# second's name first.
aside_t=$(date -u -d 2026-01-02T03:04:05Z +%s)
pg_sql -c 'CREATE DATABASE "schémas_before_restore_20260102T030405Z"' >/dev/null
ok "in place while the aside name of this second is taken" \
    env COFFER_TEST_ASIDE_TIME="$aside_t" \
    restore --config "$conf" --source pgs --at now --database "schémas" --into-db SAME --clean --force
check "  the original is kept under a name with a number added" grep -qF "kept as schémas_before_restore_20260102T030405Z_2" "$_err"
check "  and the schema dump equals the original's" cmp "$T/schemas.schema" <(pg_schema "schémas")

# a replacement whose load fails (a role the dump needs is gone) leaves the original as it was
pg_sql -c "CREATE ROLE gone_owner" -d "schémas" -c 'ALTER TABLE "café".lignes OWNER TO gone_owner' >/dev/null
ok "backup with a table owned by a role that will be dropped" backupd --config "$conf" run pgs
pg_sql -d "schémas" -c 'ALTER TABLE "café".lignes OWNER TO postgres' -c 'DROP ROLE gone_owner' >/dev/null
pg_sql -d "schémas" -c 'DELETE FROM "café".lignes WHERE n = 1' >/dev/null
before=$(pg_schema "schémas" | sha256sum)
fails "a failing load is reported" 1 "gone_owner" \
    restore --config "$conf" --source pgs --at now --database "schémas" --into-db SAME --clean --force
check "the original was not touched" test "$(pg_schema "schémas" | sha256sum)" = "$before"
check "its rows were not touched" test "$(pg_sql -d "schémas" -tAc 'SELECT count(*) FROM "café".lignes')" -eq 0
check "the failed scratch database was dropped" test "$(pg_sql -tAc "SELECT count(*) FROM pg_database WHERE datname LIKE '%\_coffer\_restore'")" -eq 0
# they hold privileges and settings of app_reader, which the roles test below drops
for db in $(pg_sql -tAc "SELECT quote_ident(datname) FROM pg_database WHERE datname LIKE 'schémas%'"); do
    pg_sql -c "DROP DATABASE $db" >/dev/null
done

# --- roles ---
pg_sql -c "DROP ROLE app_reader"
ok "--globals brings roles back" restore --config "$conf" --source pg --at now --globals --database postgres --into-db pg_copy
check "the dropped role exists again" test "$(pg_sql -tAc "SELECT count(*) FROM pg_roles WHERE rolname = 'app_reader'")" -eq 1
ok "--globals --to-file writes the roles as SQL" restore --config "$conf" --source pg --at now --globals --to-file "$T/roles.sql"
check "the roles file names the role" grep -q "CREATE ROLE app_reader" "$T/roles.sql"
