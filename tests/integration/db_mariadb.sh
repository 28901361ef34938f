#!/usr/bin/env bash
# db_mariadb.sh - the mariadb source against a real MariaDB 10.11: blobs, utf8mb4, triggers,
# routines, views and events, backed up while a writer inserts, restored into a new database,
# over the original with --force (and --into-db SAME, the original's name), and as SQL with
# --to-file; CHECKSUM TABLE and row counts compared, and the schema dumps (routines whose
# bodies hold comments, partitions, spatial and FULLTEXT indexes, views with DEFINER,
# non-ASCII names) equal; binlog/GTID and the MyISAM warning recorded. Columns in latin1, SJIS
# and Big5 with non-ASCII ENUM values, INET6 and UUID, every byte in a BLOB: a dump in a
# binary session (half mariadb-dump's CPU) gets some of them wrong, so it runs as utf8mb4.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

# the binlog is off in Debian's stock files; this test checks the binlog position and GTID
# that a backup records when it is on
MY_CONF_EXTRA='log-bin = binlog
server-id = 1' start_mariadb || exit 1
my_load shop || exit 1
my_sql -e "CREATE DATABASE legacy; CREATE TABLE legacy.old (id INT PRIMARY KEY, v TEXT) ENGINE=MyISAM; INSERT INTO legacy.old VALUES (1, 'x')"
my_load_encodings legacy || exit 1
db_conf "$T/c"
conf="$T/c/coffer.conf"
export TMPDIR="$T/tmp"   # where option files go: checked empty at the end
mkdir -p "$TMPDIR"

# each insert into items fires the trigger that adds an audit row, in the same transaction
# (the 5000 rows loaded before the trigger existed have none): a consistent snapshot has
# exactly 5000 more items than audit rows
inserts() {
    local i=0
    while :; do
        # stops when the client is gone (SIGPIPE may be ignored: then printf fails)
        printf "INSERT INTO items (name, body, price, created) VALUES ('w%d ✓', REPEAT('x', 500), 2, NOW(6));\n" "$i" || return
        i=$((i + 1))
    done
}
# the client itself last in the pipeline (not the my_sql function): $! is its pid
inserts | mariadb --no-defaults -S "$MY_SOCK" -uroot --default-character-set=utf8mb4 shop 2>/dev/null &
wpid=$!
on_exit "kill $wpid"
sleep 0.5
ok "backup while a writer inserts" backupd --config "$conf" run my
kill "$wpid"; wait "$wpid" 2>/dev/null
check "the writer really inserted" test "$(my_sql -N -e 'SELECT COUNT(*) FROM shop.items')" -gt 5001
ok "restore the backup taken under load into shop_live" restore --config "$conf" --source my --at now --database shop --into-db shop_live
check "the snapshot is consistent (items - audit rows = 5000)" test "$(my_sql -N -e 'SELECT (SELECT COUNT(*) FROM shop_live.items) - (SELECT COUNT(*) FROM shop_live.audit)')" -eq 5000

check "manifest: binlog file" test "$(latest_info "$conf" my '[d for d in i["databases"] if d["name"]=="shop"][0]["binlog_file"]')" != ""
check "manifest: binlog position" test "$(latest_info "$conf" my '[d for d in i["databases"] if d["name"]=="shop"][0]["binlog_pos"]')" -gt 0
check "manifest: GTID" grep -Eq '^[0-9]+-[0-9]+-[0-9]+' <<<"$(latest_info "$conf" my '[d for d in i["databases"] if d["name"]=="shop"][0]["gtid"]')"
check "manifest: zstd level 1, a mariadb source's own default" test "$(latest_info "$conf" my 'm["compression"]["level"]')" = 1
check "manifest: database size" test "$(latest_info "$conf" my '[d for d in i["databases"] if d["name"]=="shop"][0]["size"]')" -gt 0
check "manifest: a warning for the MyISAM table" grep -q "legacy.old uses the non-transactional engine MyISAM" <<<"$(latest_info "$conf" my '"\n".join(i["warnings"])')"
# (the checks below restore this backup: if it failed they would compare with the one above)
ok "a second backup, quiesced, its log kept" bash -c "backupd --config '$conf' run my 2>'$T/run.log' >/dev/null"
check "the log warns about the MyISAM table" grep -q "warn.*legacy.old.*MyISAM" "$T/run.log"

# --- quiesced copy equal to the source ---
my_fingerprint shop >"$T/shop.fp"
my_schema shop >"$T/shop.schema"
check "the schema dump holds a routine's hash comment" grep -q "# a hash comment" "$T/shop.schema"
ok "--dry-run of one database of several" restore --config "$conf" --source my --at now --database shop --into-db shop_copy --dry-run
check "the plan gives that database's size" grep -qF "of the backup's dump" "$_out"
_plan=$(grep "^  size " "$_out")
check "the size line counts that database alone" grep -qF "to restore (the chosen database)" <<<"$_plan"
ok "restore into a new database" restore --config "$conf" --source my --at now --database shop --into-db shop_copy
my_fingerprint shop_copy >"$T/copy.fp"
check "CHECKSUM TABLE, counts, routines, triggers, views, events equal" cmp "$T/shop.fp" "$T/copy.fp"
check "the schema dump equals the original's, routine comments included" diff "$T/shop.schema" <(my_schema shop_copy)
check "4-byte UTF-8 survived" test "$(my_sql -N -e "SELECT COUNT(*) FROM shop_copy.items WHERE name LIKE '%😀%'")" -eq 5000
check "every byte of a BLOB survived" test "$(my_sql -N -e "SELECT MD5(b) FROM shop_copy.allbytes WHERE id = 1")" = "$(python3 -c 'import hashlib; print(hashlib.md5(bytes(range(256))).hexdigest())')"
my_fingerprint legacy >"$T/legacy.fp"
my_schema legacy >"$T/legacy.schema"
ok "restore the database in other character sets" restore --config "$conf" --source my --at now --database legacy --into-db legacy_copy
check "...its rows equal (CHECKSUM TABLE)" diff "$T/legacy.fp" <(my_fingerprint legacy_copy)
check "...and its schema, latin1 ENUM values and DEFAULT included" diff "$T/legacy.schema" <(my_schema legacy_copy)
check "...the SJIS characters ending in 0x5C are the same bytes" test "$(my_sql -N -e "SELECT HEX(sjis) FROM legacy_copy.encodings WHERE id = 1")" = 955C835C945C


# --- refusals and --force over the original ---
my_sql -e "DELETE FROM shop.items WHERE id > 100"
fails "the original is not loaded over without --force" 1 "holds" restore --config "$conf" --source my --at now --database shop
fails "--clean is not a mariadb option" 2 "not --into-redis" restore --config "$conf" --source my --at now --database shop --clean --force
check "refusals changed nothing" test "$(my_sql -N -e 'SELECT COUNT(*) FROM shop.items')" -eq 100
ok "--force loads over the original" restore --config "$conf" --source my --at now --database shop --force
my_fingerprint shop >"$T/after.fp"
check "the original equals the backup again" cmp "$T/shop.fp" "$T/after.fp"
check "and so does its schema dump" cmp "$T/shop.schema" <(my_schema shop)
my_sql shop -e 'DELETE FROM docs; DROP PROCEDURE `prüfe`; DROP VIEW `vue_größe`'
ok "--into-db SAME --force loads over the original too" restore --config "$conf" --source my --at now --database shop --into-db SAME --force
check "no database named SAME was created" test -z "$(my_sql -N -e "SHOW DATABASES LIKE 'SAME'")"
check "the original's schema dump equals the backup's" cmp "$T/shop.schema" <(my_schema shop)
check "and its rows" diff "$T/shop.fp" <(my_fingerprint shop)

ok "--to-file writes the SQL" restore --config "$conf" --source my --at now --database shop --to-file "$T/shop.sql"
check "the SQL ends with its trailer" grep -q "^-- Dump completed" <(tail -n 1 "$T/shop.sql")
my_sql -e "CREATE DATABASE by_hand"
ok "the written SQL loads by hand" my_sql by_hand -e "source $T/shop.sql"
check "and holds the rows" test "$(my_sql -N -e 'SELECT COUNT(*) FROM by_hand.items')" -eq "$(my_sql -N -e 'SELECT COUNT(*) FROM shop.items')"
fails "--into-db needs --database when the backup holds several" 2 "--database" restore --config "$conf" --source my --at now --into-db x
check "no option file is left behind" test -z "$(ls -A "$TMPDIR")"
