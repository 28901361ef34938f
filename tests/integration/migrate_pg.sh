#!/usr/bin/env bash
# migrate_pg.sh - `migrate` against a real PostgreSQL 15: a series applied, statused, rolled
# down and up; a failing migration in the middle leaves no trace; drift blocks up; a
# duplicate version is refused before the database is touched; two runners at once apply
# each migration once; lock timeout; no-transaction files; baseline, repair, accept-checksum.
. "$COFFER_TESTS/lib/testlib.sh"
. "$COFFER_TESTS/lib/servers.sh"
. "$COFFER_TESTS/lib/migrate.sh"

start_postgres || { echo "not ok - postgres did not start"; exit 1; }
pg_sql -c "create database app" -c "create database app2" -c "create database app3" >/dev/null
M=$T/mig C=$T/conf/coffer.conf
mig_conf "$C" postgres app "$M"
q() { pg_sql -d "${DB:-app}" -At -c "$1"; }
exists() { [ "$(q "select to_regclass('$1') is not null")" = t ]; }

mig_file "$M" 001_users.up.sql "create table users (id int primary key, name text not null);"
mig_file "$M" 001_users.down.sql "drop table users;"
cat >"$M/002_fn.up.sql" <<'SQL'
-- a function with a dollar-quoted body and an E'' string holding a quote and a semicolon
create function user_count() returns bigint language plpgsql as $body$
begin
  return (select count(*) from users); -- ; inside
end;
$body$;
insert into users values (1, E'o\'brien;'), (2, 'it''s; fine');
SQL
printf 'drop function user_count();\r\ndelete from users;\r\n' >"$M/002_fn.down.sql"
cat >"$M/003_idx.up.sql" <<'SQL'
-- coffer:no-transaction
create index concurrently users_name on users (name);
SQL
mig_file "$M" 003_idx.down.sql "drop index users_name;"
mig_file "$M" 004_orders.up.sql "create table orders (id int, user_id int references users(id)); insert into orders values (1, 1);"
mig_file "$M" 004_orders.down.sql "drop table orders;"

# --- status of a fresh database changes nothing ---
exits "status: pending is exit 10" 10 mig "$C" status
saw "status lists 4 pending" out "0 applied, 4 pending"
check "status created no history table" test "$(q "select to_regclass('coffer_schema_history') is null")" = t

# --- dry run prints the plan and changes nothing, not even the history table ---
ok "up --dry-run" mig "$C" up --dry-run --no-snapshot
saw "dry run prints the function body" out 'return (select count(*) from users); -- ; inside'
saw "dry run prints the snapshot plan" out "snapshot: none"
ok "up --dry-run --json" mig "$C" --json up --dry-run
saw "dry run json plans a snapshot" out '"snapshot":"planned"'
check "dry run: no history table" test "$(q "select to_regclass('coffer_schema_history') is null")" = t
check "dry run: no users table" test "$(q "select to_regclass('users') is null")" = t

# --- a failed snapshot applies nothing (the dump tool cannot be found) ---
sed "s|^migrations = .*|&\nbin-dir = $T/no-such-bin|" "$C" >"$T/conf/nobin.conf"
exits "snapshot failure: exit 14" 14 mig "$T/conf/nobin.conf" up
saw "says nothing was applied" err "snapshot before apply failed, nothing was applied"
check "snapshot failure: no users table" test "$(q "select to_regclass('users') is null")" = t
# a dump tool older than the server is refused loudly, before any dump
mkdir -p "$T/oldbin"
printf '#!/bin/sh\necho "pg_dump (PostgreSQL) 13.9"\n' >"$T/oldbin/pg_dump"
chmod 755 "$T/oldbin/pg_dump"
sed "s|^migrations = .*|&\nbin-dir = $T/oldbin|" "$C" >"$T/conf/oldbin.conf"
exits "pg_dump 13 against a PostgreSQL 15 server: exit 14" 14 mig "$T/conf/oldbin.conf" up
saw "names both versions" err "is major version 13, older than the server's 15"
check "old dump tool: nothing applied" test "$(q "select to_regclass('users') is null")" = t

# --- a series applied in steps ---
ok "up --to 2" mig "$C" up --to 2 --no-snapshot
saw "--no-snapshot is logged as a warning" err "warn no snapshot before apply"
check "1 and 2 applied, 3 not" test "$(q "select string_agg(version::text, ',' order by version) from coffer_schema_history where status = 'applied'")" = "1,2"
check "E'' string stored" test "$(q "select name from users where id = 1")" = "o'brien;"
check "function works" test "$(q "select user_count()")" = 2
exits "status: still pending" 10 mig "$C" status
ok "up the rest" mig "$C" up --no-snapshot
check "no-transaction index built" exists users_name
ok "status: all applied" mig "$C" status
saw "status says 4 applied" out "4 applied, 0 pending"
ok "status --json" mig "$C" status --json
saw "json status" out '"applied":4,"pending":0'
ok "verify" mig "$C" verify
check "history has applied_by user@host" test "$(q "select applied_by from coffer_schema_history where version = 1")" = "$(id -un)@$(hostname)"
check "checksum stored with its algorithm" test "$(q "select checksum from coffer_schema_history where version = 1")" = "sha256:$(sha256sum <"$M/001_users.up.sql" | cut -d' ' -f1)"
ok "up again: nothing to apply" mig "$C" up --no-snapshot
saw "says nothing to apply" out "nothing to apply"

# --- down, newest first, and up again ---
ok "down (one)" mig "$C" down
check "orders gone" test "$(q "select to_regclass('orders') is null")" = t
ok "down --to 1" mig "$C" down --to 1
check "index and function gone, users kept" test "$(q "select (to_regclass('users_name') is null) and (select count(*) from pg_proc where proname = 'user_count') = 0 and to_regclass('users') is not null")" = t
check "history: 2-4 rolled back" test "$(q "select string_agg(status, ',' order by version) from coffer_schema_history")" = "applied,rolled_back,rolled_back,rolled_back"
exits "status after down: pending" 10 mig "$C" status
ok "up again" mig "$C" up --no-snapshot
check "all applied again" test "$(q "select count(*) from coffer_schema_history where status = 'applied'")" = 4
check "orders back" test "$(q "select count(*) from orders")" = 1

# --- a down script missing refuses before anything runs ---
mig_file "$M" 005_nodown.up.sql "create table t5 (a int);"
ok "up 5" mig "$C" up --no-snapshot
fails "down --to 3 refuses: 5 has no down script" 1 "version 5 has no down script" mig "$C" down --to 3
check "4 still applied after refusal" test "$(q "select status from coffer_schema_history where version = 4")" = applied
mig_file "$M" 005_nodown.down.sql "drop table t5;"

# --- failing migration in the middle: no trace of it ---
mig_file "$M" 006_ok.up.sql "create table t6 (a int);"
mig_file "$M" 006_ok.down.sql "drop table t6;"
mig_file "$M" 007_bad.up.sql "create table t7 (a int);
insert into t7 values (1);
insert into no_such_table values (1);
create table t7b (a int);"
mig_file "$M" 008_later.up.sql "create table t8 (a int);"
fails "failing migration: exit 1, names file:line and error" 1 "007_bad.up.sql:3, rolled back" mig "$C" up --no-snapshot
saw "error quotes the server" err 'relation "no_such_table" does not exist'
check "6 applied before it" exists t6
check "7 left no trace" test "$(q "select to_regclass('t7') is null and to_regclass('t7b') is null")" = t
check "8 not run" test "$(q "select to_regclass('t8') is null")" = t
check "7 recorded rolled back with its statement" test "$(q "select status || '|' || failed_statement from coffer_schema_history where version = 7")" = "rolled_back|insert into no_such_table values (1)"
exits "status shows 7 pending with its error" 10 mig "$C" status
saw "status prints the last error" out 'last error: relation "no_such_table" does not exist'
mig_file "$M" 007_bad.up.sql "create table t7 (a int);"
ok "fixed file applies" mig "$C" up --no-snapshot
check "7 and 8 applied" test "$(q "select count(*) from coffer_schema_history where version in (7, 8) and status = 'applied'")" = 2

# --- rollback of the last run by down scripts ---
mig_file "$M" 007_bad.down.sql "drop table t7;"
mig_file "$M" 008_later.down.sql "drop table t8;"
ok "rollback --dry-run" mig "$C" rollback --dry-run
cp "$_out" "$T/plan"
check "plan lists 8 then 7" bash -c "grep 'version 00[78]' '$T/plan' | head -1 | grep -q 008"
ok "rollback" mig "$C" rollback
check "7 and 8 rolled back, 6 applied" test "$(q "select string_agg(status, ',' order by version) from coffer_schema_history where version >= 6")" = "applied,rolled_back,rolled_back"
fails "rollback --restore-snapshot without a snapshot" 1 "applied without a snapshot" mig "$C" rollback --restore-snapshot --force
ok "up 7 and 8 again" mig "$C" up --no-snapshot

# --- drift: an applied file edited afterwards blocks up ---
cp "$M/001_users.up.sql" "$T/001.orig"
mig_file "$M" 001_users.up.sql "create table users (id bigint primary key, name text not null);"
mig_file "$M" 009_more.up.sql "create table t9 (a int);"
fails "verify reports drift: exit 13" 13 "checksum drift" mig "$C" verify
saw "verify names version 1 as drift" out "001              drift"
fails "up refuses on drift: exit 13" 13 "001_users.up.sql changed" mig "$C" up --no-snapshot
saw "hint names accept-checksum" err "accept-checksum 1"
check "9 not applied" test "$(q "select to_regclass('t9') is null")" = t
exits "status: drift exit 13" 13 mig "$C" status
# line endings alone are no drift
sed 's/$/\r/' "$T/001.orig" >"$M/001_users.up.sql"
ok "CRLF copy of the applied file is no drift" mig "$C" verify
mig_file "$M" 001_users.up.sql "create table users (id bigint primary key, name text not null);"
ok "accept-checksum --dry-run" mig "$C" accept-checksum 1 --dry-run
exits "dry run accepted nothing" 13 mig "$C" verify
ok "accept-checksum 1" mig "$C" accept-checksum 1
saw "acceptance is logged" err "warn accepted changed checksum version=1"
ok "verify after accepting" mig "$C" verify
ok "up after accepting" mig "$C" up --no-snapshot
rm -f "$M/009_more.up.sql"
fails "a deleted applied file is drift" 13 "9 (file missing)" mig "$C" up --no-snapshot
mig_file "$M" 009_more.up.sql "create table t9 (a int);"

# --- a no-transaction migration failing partway needs repair ---
mig_file "$M" 010_nt.up.sql "-- coffer:no-transaction
create table t10 (a int);
create index concurrently t10_x on no_such_table (a);"
fails "no-transaction failure: exit 11" 11 "after 1 of 2 statements ran" mig "$C" up --no-snapshot
saw "message gives the repair command" err "source app repair\`"
check "partial DDL stays" exists t10
check "row failed with statement" test "$(q "select status from coffer_schema_history where version = 10")" = failed
fails "up refuses while failed: exit 11" 11 "failed partway" mig "$C" up --no-snapshot
exits "status: failed exit 11" 11 mig "$C" status
fails "rollback by down scripts refuses a partial run" 11 "failed partway" mig "$C" rollback
pg_sql -d app -q -c "drop table t10"
ok "repair --dry-run" mig "$C" repair --dry-run
check "dry run kept failed" test "$(q "select status from coffer_schema_history where version = 10")" = failed
ok "repair" mig "$C" repair
check "repair marks rolled back" test "$(q "select status from coffer_schema_history where version = 10")" = rolled_back
mig_file "$M" 010_nt.up.sql "-- coffer:no-transaction
create table t10 (a int);
create index concurrently t10_x on t10 (a);"
ok "up after repair" mig "$C" up --no-snapshot
check "10 applied" exists t10_x


# --- duplicate version: refused before touching the database ---
mig_file "$M" 003_again.up.sql "create table dup (a int);"
fails "duplicate version: exit 2" 2 "duplicate version 3" mig "$C" up --no-snapshot
sed "s/^port = .*/port = 1/" "$C" >"$T/conf/down.conf"
fails "duplicate found before connecting (server unreachable)" 2 "duplicate version 3" mig "$T/conf/down.conf" status
check "dup not created" test "$(q "select to_regclass('dup') is null")" = t
rm -f "$M/003_again.up.sql"
mig_file "$M" 011_broken.up.sql "select 'unterminated;"
fails "unterminated string refused before anything runs" 2 "011_broken.up.sql: line 1: unterminated string" mig "$C" up --no-snapshot
rm -f "$M/011_broken.up.sql"
mig_file "$M" 11_x.sql "select 1;"
fails "misnamed .sql file refused" 2 "'11_x.sql' is not a migration name" mig "$C" status
rm -f "$M/11_x.sql"

# --- configuration and connection errors ---
fails "server unreachable: clear error" 1 "unable to connect to postgres at" mig "$T/conf/down.conf" status
fails "unknown source" 2 "no [source nope] section" migrate --config "$C" --source nope status
chmod 644 "$PG_PASSFILE"
fails "password file readable by others refused" 2 "password-file" mig "$C" status
chmod 600 "$PG_PASSFILE"
sed "s/^password-file = .*/password-file = $(echo "$T/wrong.pass" | sed 's|/|\\/|g')/" "$C" >"$T/conf/wrong.conf"
(umask 077 && echo wrong >"$T/wrong.pass")
fails "wrong password: clear error" 1 "password authentication failed" mig "$T/conf/wrong.conf" status
cp "$_err" "$T/wrong.err"
check "password not in the message" bash -c "! grep -qF '$PG_PASSWORD' '$T/wrong.err'"
fails "no database chosen" 2 "--database" migrate --config "$C" --source app --database other status
fails "usage: unknown command" 2 "unknown command" mig "$C" frobnicate
sed "s/^password-file/pasword-file/" "$C" >"$T/conf/typo.conf"
fails "a misspelt key is a configuration error with its line" 2 "typo.conf:11:" mig "$T/conf/typo.conf" status
saw "names the key" err "pasword-file"
mig_file "$M" 011_tx.up.sql "BEGIN;
create table t11 (a int);
COMMIT;"
fails "BEGIN/COMMIT in a transactional file refused" 2 "011_tx.up.sql:1: 'BEGIN' controls the transaction" mig "$C" up --no-snapshot
rm -f "$M/011_tx.up.sql"

# --- two runners at once apply each migration exactly once (database app2) ---
M2=$T/mig2
mig_conf "$T/conf2/coffer.conf" postgres app2 "$M2"
mig_file "$M2" 000_log.up.sql "create table applied_log (v int);"
for i in 1 2 3 4 5; do
    mig_file "$M2" "00${i}_step.up.sql" "select pg_sleep(0.1); insert into applied_log values ($i); create table s$i (a int);"
done
# one of them builds an index concurrently while the other runner polls for the lock
mig_file "$M2" 003_step.up.sql "-- coffer:no-transaction
select pg_sleep(0.1); insert into applied_log values (3); create table s3 (a int);
create index concurrently s2_a on s2 (a);"
mig_race "$T/conf2/coffer.conf"
check "both runners succeed" test "$race_rc" = "0:0"
check "one of them waited for the lock" test "$race_waited" = 1
check "each migration applied exactly once" test "$(DB=app2 q "select string_agg(v::text, ',' order by v) from applied_log")" = "1,2,3,4,5"
check "six history rows" test "$(DB=app2 q "select count(*) from coffer_schema_history where status = 'applied'")" = 6
check "the concurrent index is valid" test "$(DB=app2 q "select indisvalid from pg_index where indexrelid = 's2_a'::regclass")" = t

# --- lock timeout ---
mig_file "$M2" 006_more.up.sql "create table s6 (a int);"
"$PG_BINDIR/psql" -X -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d app2 \
    -c "select pg_advisory_lock(7165058122144443753), pg_sleep(4)" >/dev/null 2>&1 &
holder=$!
on_exit "kill $holder"
sleep 0.5
fails "lock held elsewhere: exit 12 after --lock-timeout" 12 "holds the lock" mig "$T/conf2/coffer.conf" up --no-snapshot --lock-timeout 1
check "nothing applied under a held lock" test "$(DB=app2 q "select to_regclass('s6') is null")" = t
ok "the lock of another database does not block" mig "$C" up --no-snapshot --lock-timeout 1
kill $holder 2>/dev/null; wait $holder 2>/dev/null
ok "after the holder is gone, up proceeds" mig "$T/conf2/coffer.conf" up --no-snapshot
check "the holder's lock went with its session" test "$(DB=app2 q "select count(*) from pg_locks where locktype = 'advisory'")" = 0

# --- a runner killed inside a transactional migration: no trace, no stale lock ---
mig_file "$M2" 007_slow.up.sql "create table k1 (a int); select pg_sleep(3); create table k2 (a int);"
migrate --config "$T/conf2/coffer.conf" --source app up --no-snapshot >/dev/null 2>&1 &
runner=$!
inside=0
for _ in $(seq 1 50); do
    [ "$(DB=app2 q "select count(*) from pg_stat_activity where query like '%pg_sleep(3)%' and pid <> pg_backend_pid()")" = 1 ] && { inside=1; break; }
    sleep 0.1
done
kill -KILL $runner; wait $runner 2>/dev/null
check "the runner was killed inside the migration" test $inside = 1
check "nothing of 7 visible after the kill" test "$(DB=app2 q "select count(*) from coffer_schema_history where version = 7")" = 0
ok "the next up waits for the dead session, then applies" mig "$T/conf2/coffer.conf" up --no-snapshot --lock-timeout 20
check "7 applied exactly once" test "$(DB=app2 q "select status from coffer_schema_history where version = 7")" = applied

# --- baseline adopts an existing database (app3) ---
DB=app3 q "create table users (id int primary key, name text not null)" >/dev/null
mig_conf "$T/conf3/coffer.conf" postgres app3 "$M"
ok "baseline 2 --dry-run" mig "$T/conf3/coffer.conf" baseline 2 --dry-run
check "dry run: no history table" test "$(DB=app3 q "select to_regclass('coffer_schema_history') is null")" = t
ok "baseline 2" mig "$T/conf3/coffer.conf" baseline 2
check "1 and 2 marked applied" test "$(DB=app3 q "select string_agg(version::text, ',') from coffer_schema_history where status = 'applied'")" = "1,2"
check "function not created by baseline" test "$(DB=app3 q "select count(*) from pg_proc where proname = 'user_count'")" = 0
fails "baseline twice refused" 1 "already has migration history" mig "$T/conf3/coffer.conf" baseline 2

# --- new ---
ok "new NAME in an empty directory" migrate --dir "$T/newdir" new add_things
check "timestamped pair created" bash -c "ls '$T/newdir' | grep -Eq '^[0-9]{14}_add_things.up.sql$'"
mig_file "$T/newdir2" 0009_a.up.sql "select 1;"
ok "new after 0009" migrate --dir "$T/newdir2" new next_one
check "0010 created with its down" test -f "$T/newdir2/0010_next_one.up.sql" -a -f "$T/newdir2/0010_next_one.down.sql"
fails "new with a bad name" 2 "letters, digits" migrate --dir "$T/newdir2" new "bad name"

# --- a pending version older than an applied one is refused (database app4) ---
pg_sql -c "create database app4" >/dev/null
mig_conf "$T/conf4/coffer.conf" postgres app4 "$T/mig4"
mig_file "$T/mig4" 10_a.up.sql "create table a (x int);"
mig_file "$T/mig4" 30_c.up.sql "create table c (x int);"
ok "10 and 30 applied" mig "$T/conf4/coffer.conf" up --no-snapshot
mig_file "$T/mig4" 20_b.up.sql "create table b (x int);"
fails "out-of-order pending refused" 1 "a later version (30) is already applied" mig "$T/conf4/coffer.conf" up --no-snapshot
check "b not created" test "$(DB=app4 q "select to_regclass('b') is null")" = t
rm -f "$T/mig4/20_b.up.sql"
cat >"$T/mig4/40_atomic.up.sql" <<'SQL'
create function add2(a int, b int) returns int language sql
begin atomic
  select case when a is null then b else a + b end;
end;
create rule c_log as on insert to c do also (insert into a values (new.x); insert into a values (new.x + 1));
insert into c values (10);
SQL
ok "BEGIN ATOMIC body and a rule with two actions apply" mig "$T/conf4/coffer.conf" up --no-snapshot
check "function works" test "$(DB=app4 q "select add2(2, 3)")" = 5
check "rule fired both actions" test "$(DB=app4 q "select string_agg(x::text, ',' order by x) from a")" = "10,11"

# --- snapshot before apply and rollback --restore-snapshot (database app5) ---
pg_sql -c "create database app5" >/dev/null
C5=$T/conf5/coffer.conf M5=$T/mig5
mig_conf "$C5" postgres app5 "$M5"
ok "repository init" backupd --config "$C5" init
mig_file "$M5" 001_base.up.sql "create table items (id int primary key, label text); insert into items values (1, 'a'), (2, 'b;c');"
ok "up with a snapshot" mig "$C5" up
snap=$(DB=app5 q "select snapshot from coffer_schema_history where version = 1")
check "snapshot id recorded" test -f "$T/conf5/repo/backups/app/$snap/manifest"
state5() {
    { pg_dump -h "$PG_HOST" -p "$PG_PORT" -U postgres --exclude-table=coffer_schema_history app5
    } | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' | sha256sum | cut -d' ' -f1
}
before=$(state5)
mig_file "$M5" 002_nt.up.sql "-- coffer:no-transaction
alter table items add column extra int;
update items set label = 'changed';
create index concurrently nope on no_such_table (a);"
exits "no-transaction failure with a snapshot: exit 11" 11 mig "$C5" up
saw "restore command given" err "rollback --restore-snapshot\` brings the database back to snapshot"
check "partial change present" test "$(state5)" != "$before"
ok "rollback --restore-snapshot --force" mig "$C5" rollback --restore-snapshot --force
check "schema and data identical to before (checksums)" test "$(state5)" = "$before"
check "2 marked rolled back" test "$(DB=app5 q "select status from coffer_schema_history where version = 2")" = rolled_back
check "owner kept" test "$(q "select pg_get_userbyid(datdba) from pg_database where datname = 'app5'")" = postgres
check "old database kept aside" test "$(q "select count(*) from pg_database where datname like 'app5_before_restore_%'")" = 1
exits "status: 2 pending again" 10 mig "$C5" status

# --- a migration that changes search_path: the history stays put, the next one starts clean ---
mig_file "$T/mig4" 60_sp.up.sql "create schema other; set search_path = other; create table inother (a int);"
mig_file "$T/mig4" 70_next.up.sql "create table afterwards (a int);"
ok "SET search_path inside a migration" mig "$T/conf4/coffer.conf" up --no-snapshot
check "its table went to its schema" test "$(DB=app4 q "select to_regclass('other.inother') is not null")" = t
check "the next migration started with the default search_path" test "$(DB=app4 q "select to_regclass('public.afterwards') is not null")" = t
check "history rows in the one history table" test "$(DB=app4 q "select count(*) from public.coffer_schema_history where version in (60, 70) and status = 'applied'")" = 2
check "no history table in the other schema" test "$(DB=app4 q "select to_regclass('other.coffer_schema_history') is null")" = t

# --- CREATE INDEX CONCURRENTLY without the marker: rolled back, with a hint ---
mig_file "$T/mig4" 80_cic.up.sql "create index concurrently a_x on a (x);"
fails "a statement that cannot run in a transaction names the marker" 1 "HINT: make the first line of the file '-- coffer:no-transaction'" mig "$T/conf4/coffer.conf" up --no-snapshot

# --- a damaged snapshot: the restore fails before the database is touched ---
exits "the same failing migration again (new snapshot): exit 11" 11 mig "$C5" up
snap2=$(DB=app5 q "select snapshot from coffer_schema_history where version = 2")
check "a new snapshot for the new run" test -n "$snap2" -a "$snap2" != "$snap"
partial=$(state5)
for f in "$T/conf5/repo/backups/app/$snap2/data/"*; do
    printf 'garbage' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
done
exits "restoring a damaged snapshot: exit 14" 14 mig "$C5" rollback --restore-snapshot --force
saw "says which snapshot" err "restoring snapshot $snap2"
check "the database was not touched" test "$(state5)" = "$partial"
check "no scratch database left" test "$(q "select count(*) from pg_database where datname = 'app5_coffer_restore'")" = 0
check "2 still failed" test "$(DB=app5 q "select status from coffer_schema_history where version = 2")" = failed
