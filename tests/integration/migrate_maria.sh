#!/usr/bin/env bash
# migrate_maria.sh - `migrate` against a real MariaDB 10.11: a series with a procedure and a
# trigger in DELIMITER blocks applied, statused, rolled down and up; a failing migration in
# the middle leaves partial DDL, is recorded failed with its statement and error, and blocks
# up until repair; two runners at once apply each migration once; lock timeout; drift.
. "$COFFER_TESTS/lib/testlib.sh"
. "$COFFER_TESTS/lib/servers.sh"
. "$COFFER_TESTS/lib/migrate.sh"

start_mariadb || { echo "not ok - mariadb did not start"; exit 1; }
my_sql -e "create database app; create database app2" || exit 1
M=$T/mig C=$T/conf/coffer.conf
mig_conf "$C" mariadb app "$M"
q() { my_sql -N -B "${DB:-app}" -e "$1"; }
has_table() { [ "$(q "select count(*) from information_schema.tables where table_schema = '${DB:-app}' and table_name = '$1'")" = 1 ]; }

mig_file "$M" 001_users.up.sql "create table users (id int primary key, name varchar(100) not null, hits int not null default 0) engine=InnoDB;"
mig_file "$M" 001_users.down.sql "drop table users;"
cat >"$M/002_proc.up.sql" <<'SQL'
# a procedure and a trigger: DELIMITER blocks, quotes with ; and \' inside
DELIMITER //
create procedure add_user(in p_id int, in p_name varchar(100))
begin
  insert into users (id, name) values (p_id, p_name);
  update users set hits = hits + 1 where id = p_id;
end //
create trigger users_bi before insert on users for each row
begin
  if new.name = '' then set new.name = 'anon;ymous'; end if;
end//
DELIMITER ;
call add_user(1, 'o\'brien; "q"');
insert into users (id, name) values (2, '');
SQL
mig_file "$M" 002_proc.down.sql "drop trigger users_bi; drop procedure add_user; delete from users;"
mig_file "$M" 003_orders.up.sql "create table orders (id int primary key, user_id int, \`note;x\` text, foreign key (user_id) references users(id)) engine=InnoDB; insert into orders values (1, 1, 'a -- b # c');"
mig_file "$M" 003_orders.down.sql "drop table orders;"

exits "status: pending exit 10" 10 mig "$C" status
saw "three pending" out "0 applied, 3 pending"
ok "up --dry-run" mig "$C" up --dry-run --no-snapshot
saw "dry run shows the procedure body" out "update users set hits = hits + 1 where id = p_id;"
check "dry run created no history table" bash -c "[ \"\$(mariadb --no-defaults -S '$MY_SOCK' -uroot -N -B app -e \"select count(*) from information_schema.tables where table_schema='app' and table_name='coffer_schema_history'\")\" = 0 ]"
ok "up" mig "$C" up --no-snapshot
check "procedure ran: quote and semicolon kept" test "$(q "select name from users where id = 1")" = "o'brien; \"q\""
check "trigger fired" test "$(q "select name from users where id = 2")" = "anon;ymous"
check "procedure updated hits" test "$(q "select hits from users where id = 1")" = 1
check "backquoted column and comment markers in a string" test "$(q "select \`note;x\` from orders")" = "a -- b # c"
ok "status: all applied" mig "$C" status
saw "3 applied" out "3 applied, 0 pending"
ok "verify" mig "$C" verify
check "history row" test "$(q "select concat(status, '|', checksum, '|', applied_by) from coffer_schema_history where version = 1")" = "applied|sha256:$(sha256sum <"$M/001_users.up.sql" | cut -d' ' -f1)|$(id -un)@$(hostname)"

ok "down --to 1" mig "$C" down --to 1
check "orders, trigger, procedure gone" test "$(q "select (select count(*) from information_schema.tables where table_schema='app' and table_name='orders') + (select count(*) from information_schema.routines where routine_schema='app') + (select count(*) from information_schema.triggers where trigger_schema='app')")" = 0
exits "status after down: pending" 10 mig "$C" status
ok "up again" mig "$C" up --no-snapshot
check "all back" test "$(q "select count(*) from coffer_schema_history where status = 'applied'")" = 3

# --- a failing migration in the middle: partial DDL, failed row, up refuses ---
mig_file "$M" 004_ok.up.sql "create table t4 (a int);"
mig_file "$M" 004_ok.down.sql "drop table t4;"
mig_file "$M" 005_bad.up.sql "create table t5 (a int);
alter table users add column email varchar(200);
insert into no_such_table values (1);
create table t5b (a int);"
mig_file "$M" 006_later.up.sql "create table t6 (a int);"
exits "failure partway: exit 11" 11 mig "$C" up --no-snapshot
saw "names file, line and the server's error" err "005_bad.up.sql:3 after 2 of 4 statements ran"
saw "quotes the server" err "doesn't exist (error 1146)"
saw "gives the exact command" err "migrate --config $C --source app repair"
check "4 applied" has_table t4
check "partial DDL of 5 stays (MariaDB commits DDL)" has_table t5
check "t5b not created" test "$(q "select count(*) from information_schema.tables where table_schema='app' and table_name='t5b'")" = 0
check "6 not run" test "$(q "select count(*) from information_schema.tables where table_schema='app' and table_name='t6'")" = 0
check "row failed with statement and error" test "$(q "select concat(status, '|', failed_statement) from coffer_schema_history where version = 5")" = "failed|insert into no_such_table values (1)"
check "error text stored" test "$(q "select error like '%no_such_table%' from coffer_schema_history where version = 5")" = 1
exits "up refuses until rollback or repair: exit 11" 11 mig "$C" up --no-snapshot
saw "refusal names repair" err "repair"
exits "status: failed exit 11" 11 mig "$C" status
saw "status shows the failing statement" out "in: insert into no_such_table values (1)"
saw "status gives the way out" out "source app repair\`"
exits "rollback by down scripts refuses a partial run" 11 mig "$C" rollback
q "drop table t5; alter table users drop column email" >/dev/null
ok "repair" mig "$C" repair
saw "repair is logged" err "warn repair: version=5"
mig_file "$M" 005_bad.up.sql "create table t5 (a int);"
ok "up after repair" mig "$C" up --no-snapshot
check "5 and 6 applied" test "$(q "select count(*) from coffer_schema_history where version in (5, 6) and status = 'applied'")" = 2

# --- drift ---
mig_file "$M" 002_proc.down.sql "drop trigger users_bi; drop procedure add_user;"
ok "editing a down script is no drift" mig "$C" verify
echo "-- edited" >>"$M/003_orders.up.sql"
exits "edited applied file: verify exit 13" 13 mig "$C" verify
mig_file "$M" 007_x.up.sql "create table t7 (a int);"
exits "drift blocks up: exit 13" 13 mig "$C" up --no-snapshot
check "7 not applied" test "$(q "select count(*) from information_schema.tables where table_schema='app' and table_name='t7'")" = 0
ok "accept-checksum 3" mig "$C" accept-checksum 3
ok "up after accepting" mig "$C" up --no-snapshot

# --- duplicate version refused before connecting ---
mig_file "$M" 7_other.up.sql "create table dup (a int);"
sed "s|^socket = .*|socket = $T/nowhere.sock|" "$C" >"$T/conf/down.conf"
fails "duplicate version refused before touching the server" 2 "duplicate version 7" mig "$T/conf/down.conf" up --no-snapshot
rm -f "$M/7_other.up.sql"
fails "server unreachable: clear error" 1 "unable to connect to mariadb at" mig "$T/conf/down.conf" status
mig_file "$M" 008_u.up.sql "select \`abc;"
fails "unterminated backquote refused" 2 "unterminated quoted identifier" mig "$C" up --no-snapshot
rm -f "$M/008_u.up.sql"

# --- a migration that selects another database: the next one and the history stay in app ---
mig_file "$M" 0061_use.up.sql "create database other; use other; create table inother (a int);"
mig_file "$M" 0062_next.up.sql "create table afterwards (a int);"
ok "USE inside a migration" mig "$C" up --no-snapshot
check "its table went to the other database" test "$(DB=other q "select count(*) from information_schema.tables where table_schema='other' and table_name='inother'")" = 1
check "the next migration ran in app" has_table afterwards
check "history rows in app's history table" test "$(q "select count(*) from coffer_schema_history where version in (61, 62) and status = 'applied'")" = 2
check "no history table in the other database" test "$(DB=other q "select count(*) from information_schema.tables where table_schema='other' and table_name='coffer_schema_history'")" = 0

# --- two runners at once apply each migration exactly once (app2) ---
M2=$T/mig2
mig_conf "$T/conf2/coffer.conf" mariadb app2 "$M2"
mig_file "$M2" 000_log.up.sql "create table applied_log (v int);"
for i in 1 2 3 4 5; do
    mig_file "$M2" "00${i}_step.up.sql" "do sleep(0.1); insert into applied_log values ($i); create table s$i (a int);"
done
mig_race "$T/conf2/coffer.conf"
check "both runners succeed" test "$race_rc" = "0:0"
check "one of them waited for the lock" test "$race_waited" = 1
check "each migration applied exactly once" test "$(DB=app2 q "select group_concat(v order by v) from applied_log")" = "1,2,3,4,5"

# --- lock timeout: GET_LOCK scoped to the database name ---
mig_file "$M2" 006_more.up.sql "create table s6 (a int);"
my_sql -e "select get_lock('coffer_migrate.app2', 0), sleep(6)" >/dev/null 2>&1 &
holder=$!
on_exit "kill $holder"
sleep 0.5
fails "lock held: exit 12" 12 "holds the lock on database 'app2'" mig "$T/conf2/coffer.conf" up --no-snapshot --lock-timeout 1
ok "the lock of another database does not block" mig "$C" up --no-snapshot --lock-timeout 1
kill $holder 2>/dev/null; wait $holder 2>/dev/null
sleep 0.3
ok "after the holder is gone, up proceeds" mig "$T/conf2/coffer.conf" up --no-snapshot

# --- snapshot before apply, partial DDL, rollback --restore-snapshot (database app3) ---
my_sql -e "create database app3" || exit 1
M3=$T/mig3 C3=$T/conf3/coffer.conf
mig_conf "$C3" mariadb app3 "$M3"
ok "repository init" backupd --config "$C3" init
mkdir -p "$T/oldbin"
printf '#!/bin/sh\necho "mariadb-dump  Ver 10.19 Distrib 10.5.23-MariaDB, for debian-linux-gnu (x86_64)"\n' >"$T/oldbin/mariadb-dump"
chmod 755 "$T/oldbin/mariadb-dump"
sed "s|^migrations = .*|&\nbin-dir = $T/oldbin|" "$C3" >"$T/conf3/oldbin.conf"
mig_file "$M3" 001_base.up.sql "create table items (id int);"
exits "mariadb-dump 10.5 against a 10.11 server: exit 14" 14 mig "$T/conf3/oldbin.conf" up
saw "names both versions" err "is from MariaDB 10.5 and the server is 10.11"
check "old dump tool: nothing applied" test "$(DB=app3 q "select count(*) from information_schema.tables where table_schema='app3' and table_name='items'")" = 0
mig_file "$M3" 001_base.up.sql "create table items (id int primary key, label varchar(50), price decimal(8,2)) engine=InnoDB;
insert into items values (1, 'tea; green', 3.50), (2, 'o''clock', 1.25);
create view cheap as select id from items where price < 2;"
ok "baseline schema applied with a snapshot" mig "$C3" up
saw "snapshot logged" err "snapshot taken database=app3 backup="
snap1=$(DB=app3 q "select snapshot from coffer_schema_history where version = 1")
check "history records the snapshot id" test -n "$snap1"
check "the snapshot is a backup of the source in the repository" test -f "$T/conf3/repo/backups/app/$snap1/manifest"
state() {  # schema and data of app3 without the history table, as one checksum
    { mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --skip-dump-date --skip-comments \
          --routines --triggers --ignore-table=app3.coffer_schema_history app3
      my_sql -N -B app3 -e "checksum table items"; } | sha256sum | cut -d' ' -f1
}
before=$(state)
mig_file "$M3" 002_change.up.sql "alter table items add column stock int not null default 0;
update items set price = price * 2;
create table audit (id int);
alter table no_such_table add column x int;
drop view cheap;"
exits "partial DDL failure with a snapshot: exit 11" 11 mig "$C3" up
saw "message gives the exact restore command" err "migrate --config $C3 --source app rollback --restore-snapshot"
snap2=$(DB=app3 q "select snapshot from coffer_schema_history where version = 2")
saw "message names the snapshot" err "$snap2"
check "partial change is there" test "$(state)" != "$before"
exits "rollback --restore-snapshot without --force and no terminal refuses" 2 mig "$C3" rollback --restore-snapshot
check "refusal changed nothing" test "$(DB=app3 q "select count(*) from information_schema.tables where table_schema='app3' and table_name='audit'")" = 1
ok "rollback --restore-snapshot --dry-run" mig "$C3" rollback --restore-snapshot --dry-run
saw "dry run names the snapshot" out "restore snapshot $snap2"
ok "rollback --restore-snapshot --force" mig "$C3" rollback --restore-snapshot --force
check "schema and data identical to before (checksums)" test "$(state)" = "$before"
check "version 2 marked rolled back" test "$(DB=app3 q "select status from coffer_schema_history where version = 2")" = rolled_back
check "version 1 still applied" test "$(DB=app3 q "select status from coffer_schema_history where version = 1")" = applied
mig_file "$M3" 002_change.up.sql "alter table items add column stock int not null default 0;"
ok "up after the restore" mig "$C3" up
check "2 applied after the fix" test "$(DB=app3 q "select status from coffer_schema_history where version = 2")" = applied

# --- a runner killed mid-migration: a visible failed row, no stale lock (app2) ---
mig_file "$M2" 007_slow.up.sql "create table k1 (a int);
do sleep(5);
create table k2 (a int);"
migrate --config "$T/conf2/coffer.conf" --source app up --no-snapshot >/dev/null 2>&1 &
runner=$!
for _ in $(seq 1 50); do
    [ "$(DB=app2 q "select count(*) from information_schema.tables where table_schema='app2' and table_name='k1'")" = 1 ] && break
    sleep 0.1
done
kill -KILL $runner; wait $runner 2>/dev/null
check "killed runner left the row failed (interrupted)" test "$(DB=app2 q "select concat(status, '|', error) from coffer_schema_history where version = 7")" = "failed|interrupted: the runner stopped before this script finished"
# the server finishes the statement it was running (the sleep) before it ends the session and
# its lock: the next runner waits for that, then refuses
exits "the next up waits for the dead session, then refuses with 11" 11 mig "$T/conf2/coffer.conf" up --no-snapshot --lock-timeout 20
saw "and says why" err "interrupted"
check "the statement after the kill never ran" test "$(DB=app2 q "select count(*) from information_schema.tables where table_schema='app2' and table_name='k2'")" = 0

# --- a damaged snapshot: the restore fails before the database is touched ---
mig_file "$M3" 003_bad.up.sql "create table extra (a int);
insert into no_such_table values (1);"
exits "partial failure again (new snapshot): exit 11" 11 mig "$C3" up
snap3=$(DB=app3 q "select snapshot from coffer_schema_history where version = 3")
partial=$(state)
for f in "$T/conf3/repo/backups/app/$snap3/data/"*; do
    printf 'garbage' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
done
exits "restoring a damaged snapshot: exit 14" 14 mig "$C3" rollback --restore-snapshot --force
check "the database was not touched" test "$(state)" = "$partial"
check "no scratch database left" test "$(my_sql -N -B -e "select count(*) from information_schema.schemata where schema_name = 'app3_coffer_restore'")" = 0
check "3 still failed" test "$(DB=app3 q "select status from coffer_schema_history where version = 3")" = failed
