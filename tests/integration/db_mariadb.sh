#!/usr/bin/env bash
# db_mariadb.sh - the mariadb source against a real MariaDB 10.11: blobs, utf8mb4, triggers,
# routines, views and events, backed up while a writer inserts, restored into a new database,
# over the original with --force (and --into-db SAME, the original's name), and as SQL with
# --to-file; CHECKSUM TABLE and row counts compared, and the schema dumps (routines whose
# bodies hold comments, partitions, spatial and FULLTEXT indexes, views with DEFINER,
# non-ASCII names) equal; binlog/GTID and the MyISAM warning recorded. Columns in latin1, SJIS
# and Big5 with non-ASCII ENUM values, INET6 and UUID, every byte in a BLOB. The rows, which
# coffer writes itself, compared byte for byte with mariadb-dump's on three databases (one of
# every kind of column); triggers and events after the rows; a definition changed mid-backup
# fails it.
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
# the forms a row writer can get wrong (my_rows.c): an invisible column (the INSERTs name
# their columns), generated ones, every kind of value (binary as hex, BIT, DECIMAL, floats,
# time types, JSON, INET6, UUID, geometry, latin1), NULL and '' apart, a system-versioned
# table with history, a sequence, a table of 4.5 MB (INSERTs split as mariadb-dump splits
# them), a name with a backtick, one with a newline and SQL after it (written into comments as
# mariadb-dump writes it, so it stays a comment), a trigger that must not fire on the rows
my_sql -e "CREATE DATABASE forms CHARACTER SET utf8mb4"
my_sql forms <<'SQL' || exit 1
CREATE TABLE t1 (id INT PRIMARY KEY, a VARCHAR(20), h INT INVISIBLE DEFAULT 7,
    g INT AS (id * 2) VIRTUAL, s INT AS (id + 1) PERSISTENT, b BLOB, bi BINARY(4),
    vb VARBINARY(10), bt BIT(10), d DECIMAL(10,3), f FLOAT, dd DOUBLE, ts TIMESTAMP NULL,
    dt DATETIME(3), y YEAR, tm TIME, e ENUM('a','b'), st SET('x','y'), j JSON, ip INET6, u UUID,
    geo POINT, lat VARCHAR(10) CHARACTER SET latin1);
INSERT INTO t1 (id, a, h, b, bi, vb, bt, d, f, dd, ts, dt, y, tm, e, st, j, ip, u, geo, lat) VALUES
(1, 'it''s \\ "q"\n\r\0\Z', 5, 0x00FF27, 'ab', '', b'1010101010', -12.5, 1.5e10, -2.25e-300,
 '2026-01-02 03:04:05', '2026-01-02 03:04:05.123', 2026, '-838:00:00', 'b', 'x,y', '{"k":"v"}',
 '::1', '123e4567-e89b-12d3-a456-426614174000', POINT(1, 2), 'café'),
(2, '', NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL,
 NULL, NULL, ''),
(3, 'ünïcødé 😀', 1, NULL, 0x00000000, 0x27, b'0', 0, 0, 0, '1970-01-01 00:00:01',
 '1000-01-01 00:00:00', 1901, '00:00:00', 'a', 'y', '[]', '::ffff:192.0.2.1',
 '00000000-0000-0000-0000-000000000000', POINT(0, 0), NULL);
CREATE TABLE sv (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING;
INSERT INTO sv VALUES (1, 1), (2, 2);
UPDATE sv SET v = 3 WHERE id = 1;
CREATE SEQUENCE sq START WITH 100;
SELECT NEXTVAL(sq);
CREATE TABLE empty_t (id INT);
CREATE TABLE big (id INT PRIMARY KEY, p TEXT);
INSERT INTO big SELECT seq, REPEAT('x', seq % 3000) FROM seq_1_to_3000;
CREATE TABLE `we``ird ñame` (id INT);
INSERT INTO `we``ird ñame` VALUES (1);
CREATE TABLE `line
DROP TABLE t1; --` (id INT);
INSERT INTO `line
DROP TABLE t1; --` VALUES (2);
CREATE TRIGGER tr BEFORE INSERT ON big FOR EACH ROW SET NEW.p = CONCAT(NEW.p, '!');
SQL
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

# --- the rows as mariadb-dump writes them ---
# data_sections FILE: each table's data section of an SQL dump ("-- Dumping data for table"
# to its UNLOCK TABLES), sorted by table; fails when there is none
data_sections() {
    python3 - "$1" <<'PY'
import re, sys
d = open(sys.argv[1], 'rb').read()
secs = re.findall(rb'\n--\n-- Dumping data for table (`(?:[^`]|``)*`)\n--\n\n(.*?UNLOCK TABLES;\n)', d, re.S)
if not secs:
    sys.exit("no data section in " + sys.argv[1])
for name, body in sorted(secs):
    sys.stdout.buffer.write(name + b'\n' + body)
PY
}
# same_rows DB: the backup's SQL and mariadb-dump's hold the same data sections, byte for byte
same_rows() {
    mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --single-transaction --hex-blob \
        --default-character-set=utf8mb4 -- "$1" >"$T/peer_$1.sql" &&
        data_sections "$T/rows_$1.sql" >"$T/rows_$1.data" &&
        data_sections "$T/peer_$1.sql" >"$T/peer_$1.data" &&
        cmp "$T/rows_$1.data" "$T/peer_$1.data"
}
for db in shop legacy forms; do
    ok "$db as SQL" restore --config "$conf" --source my --at now --database "$db" --to-file "$T/rows_$db.sql"
    check "$db: every table's rows written byte for byte as mariadb-dump writes them" same_rows "$db"
done
check "...the 4.5 MB table in more than one INSERT" test "$(grep -c '^INSERT INTO `big` VALUES$' "$T/rows_forms.sql")" -ge 4
check "...the invisible column's table with its columns named" grep -q '^INSERT INTO `t1` (`id`, `a`, `h`, `g`, `s`,' "$T/rows_forms.sql"
check "the event comes after every table's rows" python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
t = d.find(b" EVENT `nightly` ON SCHEDULE")
sys.exit(not (0 < d.rfind(b"UNLOCK TABLES;") < t))' "$T/rows_shop.sql"
check "the triggers come after every table's rows" python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
t = d.find(b" TRIGGER items_ai AFTER INSERT")
sys.exit(not (0 < d.rfind(b"UNLOCK TABLES;") < t))' "$T/rows_shop.sql"
_f=$(latest_info "$conf" my '[d for d in i["databases"] if d["name"]=="shop"][0]["binlog_file"]')
_p=$(latest_info "$conf" my '[d for d in i["databases"] if d["name"]=="shop"][0]["binlog_pos"]')
check "the SQL names the snapshot's binlog position, the manifest's" grep -qxF -e "-- CHANGE MASTER TO MASTER_LOG_FILE='$_f', MASTER_LOG_POS=$_p;" "$T/rows_shop.sql"
check "...and its GTID" grep -qxF -e "-- SET GLOBAL gtid_slave_pos='$(latest_info "$conf" my '[d for d in i["databases"] if d["name"]=="shop"][0]["gtid"]')';" "$T/rows_shop.sql"
my_fingerprint forms >"$T/forms.fp"
my_schema forms >"$T/forms.schema"
ok "restore those forms into a new database" restore --config "$conf" --source my --at now --database forms --into-db forms_copy
check "...their rows equal (CHECKSUM TABLE, the trigger did not fire)" diff "$T/forms.fp" <(my_fingerprint forms_copy)
check "...and their schema, the sequence's next value included" diff "$T/forms.schema" <(my_schema forms_copy)
check "...the invisible column's values too" test "$(my_sql -N -e "SELECT GROUP_CONCAT(IFNULL(h, 'null') ORDER BY id) FROM forms_copy.t1")" = "5,null,1"

# a definition changed while a database is backed up, after mariadb-dump wrote its schema and
# before its rows were read (a bin-dir wrapper runs $T/ddl.sql then): it would be in neither the
# dump nor the binlog after the snapshot, so the backup fails and records nothing
mkdir -p "$T/altbin"
ln -s "$(command -v mariadb)" "$T/altbin/mariadb"
printf '#!/bin/sh\n"%s" "$@" || exit\ncase "$*" in *--skip-triggers*forms) "%s" --no-defaults -S "%s" -uroot forms <"%s" ;; esac\n' \
    "$(command -v mariadb-dump)" "$(command -v mariadb)" "$MY_SOCK" "$T/ddl.sql" >"$T/altbin/mariadb-dump"
chmod +x "$T/altbin/mariadb-dump"
sed "/^type = mariadb\$/a bin-dir = $T/altbin" "$conf" >"$T/alt.conf"
backups_now() { catalog --config "$conf" list --source my --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
_n=$(backups_now)
# ddl_during NAME SQL UNDO MESSAGE
ddl_during() {
    printf '%s\n' "$2" >"$T/ddl.sql"
    fails "$1 during the backup fails it" 1 "$4" backupd --config "$T/alt.conf" run my
    check "...and no backup was recorded" test "$(backups_now)" -eq "$_n"
    my_sql forms -e "$3"
}
ddl_during "a column added" "ALTER TABLE big ADD COLUMN z INT" "ALTER TABLE big DROP COLUMN z" \
    "database 'forms': table \`big\` was altered while the database was being backed up"
ddl_during "an index added" "ALTER TABLE big ADD INDEX pz (p(10))" "ALTER TABLE big DROP INDEX pz" \
    "database 'forms': table \`big\` was altered while the database was being backed up"
ddl_during "a table created" "CREATE TABLE late (id INT)" "DROP TABLE late" \
    "database 'forms': a table was created or dropped while its schema was being dumped"
ddl_during "a trigger created" "CREATE TRIGGER late_tr BEFORE UPDATE ON big FOR EACH ROW SET NEW.p = NEW.p" \
    "DROP TRIGGER late_tr" "database 'forms': a routine, event, trigger or view was created, changed or dropped"
printf '\n' >"$T/ddl.sql"
ok "with nothing changed, the same wrapper's backup succeeds" backupd --config "$T/alt.conf" run my

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
# a mariadb-dump of MariaDB 11 ends with another line (note_verbosity restored): whole too
# (last: that backup loads into a MariaDB 11 only, and every restore above takes the newest)
printf '#!/bin/sh\n"%s" "$@" || exit\necho "/*M!100616 SET NOTE_VERBOSITY=@OLD_NOTE_VERBOSITY */;"\necho\n' \
    "$(command -v mariadb-dump)" >"$T/altbin/mariadb-dump"
ok "a schema dump that ends as MariaDB 11's does is whole" backupd --config "$T/alt.conf" run my
