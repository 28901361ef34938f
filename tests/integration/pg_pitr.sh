#!/usr/bin/env bash
# pg_pitr.sh - point-in-time recovery against a real PostgreSQL 15 (docs/PITR.md): a physical
# base backup (`method = physical`) taken while pgbench writes, with its WAL range in the
# manifest; commits one second apart, and `restore --at T --to-datadir` to a moment between
# two of them started as a server of its own: exactly the rows committed before T; the
# restored copy does not archive; a restored copy promoted with archiving on (timeline 2),
# written to, and restored again on timeline 2; a segment missing from the archive found
# before anything is written; a cluster with a tablespace refused; a backup whose last
# segment never reaches the archive, and one killed mid-stream, leave nothing listed.
# `restore --job` with the physical source beside a volume: the plan (base backup, WAL,
# target, the spread with the cluster at exactly T), the restore and its recovery settings; and
# `restore drill` at T: its scratch server recovers to T, promotes, and sees exactly the rows
# committed before T, and a SIGINT stops it and removes its scratch directory; a missing
# segment refuses both, naming it and the source.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"

c="$T/c"
conf="$c/coffer.conf"
repo="$c/repo"
as_pg() { runuser -u postgres -- "$@"; }

# the repository first: the server archives from its start
mkdir -p "$T/vol" && echo data >"$T/vol/file"
make_local_conf "$c" "$T/vol"
ok "repository created" backupd --config "$conf" init
pg_archive_access "$c"

# archiving as docs/PITR.md sets it up; archive_timeout keeps the test's RPO short
PG_CONF_EXTRA="archive_mode = on
archive_command = '$COFFER_BIN/backupd --config $conf wal-push pg %p'
archive_timeout = 10"
start_postgres || exit 1
# every tool reads the whole configuration at its start, wal-push too (run by the server as
# postgres): the source's password file belongs to postgres, as docs/PITR.md says
chown postgres "$PG_PASSFILE" "$(dirname "$PG_PASSFILE")"
# pg_basebackup uses a replication connection, which 'all' in pg_hba.conf does not match
printf 'local replication all scram-sha-256\n' >>"$PG_DATA/pg_hba.conf"
pg_sql -c "SELECT pg_reload_conf()" >/dev/null
phys_source() {  # phys_source NAME ARCHIVE-WAIT
    printf '\n[source %s]\ntype = postgres\nhost = %s\nport = %s\nuser = %s\npassword-file = %s\nmethod = physical\ncheckpoint = fast\narchive-wait = %s\n' \
        "$1" "$PG_HOST" "$PG_PORT" "$PG_USER" "$PG_PASSFILE" "$2"
    printf '\n[job %s]\nsources = %s\n' "${1/pg/pitr}" "$1"
}
# pgx: the same cluster under another name, into which nothing archives; pg's drill checks
# the marks table in database app; job app: a volume and the cluster, restored together
{ phys_source pg 60s; phys_source pgx 2s; } >>"$conf"
sed -i "/^\[source pg\]/a databases = app\ncheck-sql = SELECT string_agg(i::text, ',' ORDER BY i) FROM marks\ncheck-expect = 1,2,3" "$conf"
printf '\n[job app]\nsources = media, pg\n\n[restore-profile staging]\nmedia.to = %s\npg.to-datadir = %s\n' \
    "$T/j/media" "$T/jpg" >>"$conf"
ok "backupd check-config accepts method, checkpoint and archive-wait" backupd --config "$conf" check-config --offline
ok "... and finds pg_basebackup and the server" backupd --config "$conf" check-config
nbackups() { repo_backups "$c" "$1" | wc -l; }
for bad in "method = dump|method: 'dump' is neither logical" "checkpoint = now|checkpoint: 'now' is neither" \
    "archive-wait = 0s|archive-wait: between 1s and 1d"; do
    { cat "$conf"; printf '\n[source bad]\ntype = postgres\n%s\n' "${bad%%|*}"; } >"$T/bad.conf"
    fails "check-config refuses ${bad%%|*}" 2 "${bad#*|}" backupd --config "$T/bad.conf" check-config --offline
done

# --- refusals: nothing listed ---
mkdir -p "$T/tbs" && chown postgres "$T/tbs"
pg_sql -c "CREATE TABLESPACE extra LOCATION '$T/tbs'"
fails "a cluster with a tablespace is refused" 1 "has tablespaces outside its data directory: extra" \
    backupd --config "$conf" run pitr
check "... nothing listed" test "$(nbackups pg)" -eq 0
pg_sql -c "DROP TABLESPACE extra"
fails "a base backup whose last segment never reaches the archive fails" 1 \
    "is not in the archive of source pgx after 2s" backupd --config "$conf" run pitrx
check "... naming the segment" grep -qE "WAL segment [0-9A-F]{24}, the last one" "$_err"
check "... nothing listed" test "$(nbackups pgx)" -eq 0

# --- a base backup while pgbench writes ---
pg_sql -c "CREATE DATABASE app" >/dev/null
pgbench -i -q -s 2 app >/dev/null 2>&1
pgbench -c 2 -T 15 app >/dev/null 2>&1 &
bench=$!
ok "base backup while pgbench writes" backupd --config "$conf" run pitr
wait "$bench"
check "... one backup listed" test "$(nbackups pg)" -eq 1
id=$(repo_backups "$c" pg | head -n 1)
ok "its manifest" catalog --config "$conf" show "$id" --json
for f in '"method": "physical"' '"system_identifier": "' '"server_version": 15' '"timeline": 1' \
    '"start_lsn": "' '"stop_lsn": "' '"start_wal": "00000001' '"stop_wal": "00000001' \
    '"start_time": ' '"stop_time": ' '"wal_segment_size": 16777216'; do
    check "... records $f" grep -qF "$f" "$_out"
done
check "... and not the wait" test -z "$(grep -F wait_for_log "$_out")"
sysid=$(pg_sql -tAc "SELECT system_identifier FROM pg_control_system()")
check "... the system identifier is the server's" grep -qF "\"system_identifier\": \"$sysid\"" "$_out"
stop_wal=$(sed -n 's/.*"stop_wal": "\([0-9A-F]*\)".*/\1/p' "$_out" | head -n 1)
check "... its last segment is archived" test -e "$repo/logs/pg/00000001/$stop_wal"

# --- commits one second apart (the volume backed up just before) ---
ok "volume backup before the commits" backupd --config "$conf" run nightly
pg_sql -d app -c "CREATE TABLE marks (i int PRIMARY KEY)"
declare -a at
for i in 1 2 3 4 5; do
    at[$i]=$(pg_sql -d app -tAc "INSERT INTO marks VALUES ($i)" \
        -c "SELECT extract(epoch FROM clock_timestamp())")
    sleep 1.1
done
# the segment holding the marks, switched out and archived (pushed after commit 5)
marks_wal=$(pg_sql -tAc "SELECT pg_walfile_name(pg_switch_wal())")
for ((n = 0; n < 600; n++)); do
    [ "$(pg_sql -tAc "SELECT last_archived_wal >= '$marks_wal' FROM pg_stat_archiver")" = t ] && break
    sleep 0.1
done
# T: a whole second after commit 3 and before commit 4
t3=${at[3]%.*}
target=$((t3 + 1))
check "the target falls between commits 3 and 4" awk -v t="$target" -v a="${at[3]}" -v b="${at[4]}" \
    'BEGIN { exit !(a < t && t < b) }'
T_at=$(date -u -d "@$target" +%Y-%m-%dT%H:%M:%SZ)

ok "catalog at T answers without restoring" catalog --config "$conf" at "$T_at" --source pg
check "... the base backup" grep -qF "$id" "$_out"

# --- restore to T and start it ---
r1="$T/r1"
ok "restore --at T --to-datadir" restore --config "$conf" --source pg --at "$T_at" --to-datadir "$r1"
check "... the plan names the base backup" grep -q "backup   $id" "$_out"
check "... the WAL range and replay size" grep -qE "wal      0000000100000000000000.. \.\. [0-9A-F]{24}: [0-9]+ segments to replay" "$_out"
check "... recovery.signal" test -e "$r1/recovery.signal"
check "... mode 0700, owned by postgres" test "$(stat -c %a:%U "$r1")" = 700:postgres
check "... archive_mode off" grep -qx "archive_mode = 'off'" "$r1/postgresql.auto.conf"
check "... recovery_target_time" grep -qx "recovery_target_time = '$(date -u -d "@$target" '+%Y-%m-%d %H:%M:%S')+00'" "$r1/postgresql.auto.conf"
check "... restore_command with absolute paths" grep -qxF "restore_command = '$COFFER_BIN/restore --config $conf wal-fetch pg %f %p'" "$r1/postgresql.auto.conf"
check "... no secret in it" test -z "$(grep -F "$PG_PASSWORD" "$r1/postgresql.auto.conf")"

# start_copy DIR NAME: a server of its own on DIR (own socket directory and port)
start_copy() {
    local dir=$1 name=$2 extra=${3:-}
    mkdir -p "$T/$name.sock" && chown postgres "$T/$name.sock"
    touch "$T/$name.log" && chown postgres "$T/$name.log"
    eval "${name}_port=$(_srv_port)"
    local port_var=${name}_port
    as_pg "$PG_BINDIR/pg_ctl" -D "$dir" -l "$T/$name.log" -w -t 120 \
        -o "-p ${!port_var} -k $T/$name.sock $extra" start >/dev/null || return 1
    on_exit "_srv_stop_pid $(head -n 1 "$dir/postmaster.pid") 30 INT"
}
copy_sql() {  # copy_sql NAME psql-args...
    local name=$1 port_var=${1}_port; shift
    "$PG_BINDIR/psql" -X -q -h "$T/$name.sock" -p "${!port_var}" -U postgres "$@"
}
wait_promoted() {
    local n
    for ((n = 0; n < 600; n++)); do
        [ "$(copy_sql "$1" -tAc "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && return 0
        sleep 0.1
    done
    return 1
}
ok "the restored copy starts" start_copy "$r1" r1
ok "... recovers and promotes" wait_promoted r1
check "... exactly the rows committed before T" test "$(copy_sql r1 -d app -tAc "SELECT string_agg(i::text, ',' ORDER BY i) FROM marks")" = 1,2,3
check "... the pgbench tables came back" test "$(copy_sql r1 -d app -tAc "SELECT count(*) FROM pgbench_accounts")" -eq 200000
copy_sql r1 -c "CREATE TABLE after (i int)" -c "SELECT pg_switch_wal()" >/dev/null
sleep 1
check "the restored copy does not archive (archive_mode off)" test "$(copy_sql r1 -tAc "SHOW archive_mode")" = off
# the original server goes on archiving timeline 1; the copy would add timeline 2 and the
# .partial of timeline 1's last segment
check "... nothing of it under logs/ (no timeline 2, no .partial)" \
    test -z "$(find "$repo/logs" -name '00000002*' -o -name '*.partial')"
as_pg "$PG_BINDIR/pg_ctl" -D "$r1" -m fast -w stop >/dev/null

# --- restore --job: the cluster at exactly T beside the volume's backup ---
ok "restore --job --dry-run with a physical source" restore --config "$conf" --job app --at "$T_at" --profile staging --dry-run
check "... the plan names the base backup" grep -q "backup   $id, base backup finished" "$_out"
check "... the WAL range" grep -qE "wal      0000000100000000000000.. \.\. [0-9A-F]{24}: [0-9]+ segments to replay" "$_out"
check "... the target" grep -qF "target   $T_at (recovery_target_time" "$_out"
check "... the data directory" grep -qF "datadir  $T/jpg (created, mode 0700)" "$_out"
check "... the spread with the cluster at exactly T" grep -qE "^spread     [0-9]+(s|min) between the oldest backup \(media, [0-9TZ:-]+\) and the newest \(pg, $T_at: WAL replayed to it\)" "$_out"
check "... nothing written" bash -c "test ! -e '$T/j' && test ! -e '$T/jpg'"
ok "restore --job with the profile" restore --config "$conf" --job app --at "$T_at" --profile staging
check "... 2 of 2" grep -q "restore summary for job app: 2 of 2 sources restored" "$_out"
check "... the summary says how to start it" grep -qF "data directory $T/jpg, set up to recover to $T_at; HINT: start it as the cluster's owner: pg_ctl -D $T/jpg start" "$_out"
check "... the volume came back" diff -r "$T/vol" "$T/j/media"
check "... recovery_target_time T, archive_mode off" bash -c "grep -qx \"recovery_target_time = '$(date -u -d "@$target" '+%Y-%m-%d %H:%M:%S')+00'\" '$T/jpg/postgresql.auto.conf' && grep -qx \"archive_mode = 'off'\" '$T/jpg/postgresql.auto.conf'"
# the same stage as --to-datadir, whose copy r1 started above; the drill below starts one too
check "... restore_command with absolute paths" grep -qxF "restore_command = '$COFFER_BIN/restore --config $conf wal-fetch pg %f %p'" "$T/jpg/postgresql.auto.conf"
check "... recovery.signal, mode 0700, owned by postgres" bash -c "test -e '$T/jpg/recovery.signal' && test \"\$(stat -c %a:%U '$T/jpg')\" = 700:postgres"
ok "--map SOURCE=DIR is the data directory of a physical source, --pause" \
    restore --config "$conf" --job app --at "$T_at" --map media="$T/j2/media" --map pg="$T/j2/pg" --pause
check "... recovery_target_action = pause" grep -qx "recovery_target_action = 'pause'" "$T/j2/pg/postgresql.auto.conf"
rm -rf "$T/j2"
fails "a physical source given a database is refused before anything starts" 2 "physical base backup: it restores into a new data directory" \
    restore --config "$conf" --job app --at "$T_at" --profile staging --map pg.into-db=x --map media="$T/j3"
check "... nothing written" test ! -e "$T/j3"

# --- restore drill at T: a scratch server of its own recovers, promotes and is checked ---
ok "restore drill of the physical source at T" restore --config "$conf" drill --source pg --at "$T_at" --report "$T/d.json" --scratch-dir "$T"
check "... the report: recovery, pg_amcheck of every database, check-sql sees exactly 1,2,3" python3 - "$T/d.json" "$id" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["result"] == "passed", r
s = r["sources"][0]
assert s["backup"] == sys.argv[2] and s["kind"] == "postgres" and s["wal"], s
checks = {c["name"]: c["result"] for c in s["checks"]}
assert checks == {"recovery": "passed", "pg_amcheck": "passed", "row counts": "not checked",
                  "check-sql": "passed"}, s["checks"]
detail = {c["name"]: c["detail"] for c in s["checks"]}
assert "returned '1,2,3'" in detail["check-sql"] and "every database" in detail["pg_amcheck"], detail
assert "records no row counts" in detail["row counts"], detail
# the RTO counts the recovery: the server's start and the replay are in it
assert s["server"].startswith("postgres 15") and s["recovery_ms"] > 0, s
assert s["rto"]["measured_ms"] >= s["recovery_ms"] + s["server_start_ms"], s
PY
check "... nothing left running" bash -c "! pgrep -f '$T/[c]offer-drill-' >/dev/null"
check "... its scratch directory is removed" bash -c "! ls -d '$T'/coffer-drill-* 2>/dev/null"
# interrupted (SIGINT, as Ctrl-C) once the scratch server runs on the restored data directory
mkdir -p "$T/int"
restore --config "$conf" drill --source pg --at "$T_at" --scratch-dir "$T/int" >"$T/int.out" 2>&1 &
rpid=$!
on_exit "kill $rpid"
for ((n = 0; n < 1200; n++)); do
    ls "$T"/int/coffer-drill-*/postgres-pg/.s.PGSQL.5432 >/dev/null 2>&1 && break
    sleep 0.05
done
kill -INT "$rpid"
wait "$rpid"
check "SIGINT ends the drill of the physical source with exit 130" test $? = 130
check "... its scratch server was stopped" bash -c "! pgrep -f '$T/int/[c]offer-drill-' >/dev/null"
check "... its scratch directory is removed" bash -c "! ls -d '$T'/int/coffer-drill-* 2>/dev/null"

# --- a timeline switch: a restored copy promoted with archiving on, written, restored again ---
r2="$T/r2"
ok "restore again to T" restore --config "$conf" --source pg --at "$T_at" --to-datadir "$r2"
ok "... started with archiving into the same source" start_copy "$r2" r2 "-c archive_mode=on"
ok "... promotes on timeline 2" wait_promoted r2
copy_sql r2 -d app -c "INSERT INTO marks VALUES (100), (101)" -c "CHECKPOINT" >/dev/null
copy_sql r2 -c "SELECT pg_switch_wal()" >/dev/null
for ((n = 0; n < 300; n++)); do
    [ -e "$repo/logs/pg/00000002/00000002.history" ] &&
        [ "$(copy_sql r2 -tAc "SELECT archived_count >= 2 FROM pg_stat_archiver")" = t ] && break
    sleep 0.1
done
check "timeline 2's history is archived" test -e "$repo/logs/pg/00000002/00000002.history"
as_pg "$PG_BINDIR/pg_ctl" -D "$r2" -m fast -w stop >/dev/null
ok "restore --at latest follows timeline 2" restore --config "$conf" --source pg --at latest --to-datadir "$T/r3"
check "... the plan says so" grep -q "ending on timeline 2" "$_out"
ok "... it starts" start_copy "$T/r3" r3
ok "... and promotes" wait_promoted r3
check "... with the rows of timeline 2" test "$(copy_sql r3 -d app -tAc "SELECT string_agg(i::text, ',' ORDER BY i) FROM marks")" = 1,2,3,100,101
as_pg "$PG_BINDIR/pg_ctl" -D "$T/r3" -m fast -w stop >/dev/null

# --- refusals before anything is written ---
mkdir -p "$T/full" && echo x >"$T/full/file"
fails "a non-empty --to-datadir is refused" 1 "is not empty" \
    restore --config "$conf" --source pg --at "$T_at" --to-datadir "$T/full"
fails "a moment before the first base backup" 1 "has no physical base backup finished at or before" \
    restore --config "$conf" --source pg --at 2020-01-01T00:00:00Z --to-datadir "$T/r4"
mv "$repo/logs/pg/00000001/$stop_wal" "$T/aside"
fails "a segment missing from the archive is found first" 1 "lacks segment $stop_wal (timeline 1)" \
    restore --config "$conf" --source pg --at "$T_at" --to-datadir "$T/r4"
check "... nothing written" test ! -e "$T/r4"
fails "... catalog at says the same" 1 "lacks segment $stop_wal" \
    catalog --config "$conf" at "$T_at" --source pg
fails "... restore --job refuses the whole" 1 "source pg: the WAL archive of source pg lacks segment $stop_wal" \
    restore --config "$conf" --job app --at "$T_at" --profile staging --map pg="$T/r4" --map media="$T/r4m"
check "... nothing written" bash -c "test ! -e '$T/r4' && test ! -e '$T/r4m'"
fails "... the drill fails naming the segment and the source" 1 "drill" \
    restore --config "$conf" drill --source pg --at "$T_at" --scratch-dir "$T"
check "... in its findings" grep -q "FAILED: source pg: restore failed: the WAL archive of source pg lacks segment $stop_wal" "$_out"
check "... nothing left running" bash -c "! pgrep -f '$T/[c]offer-drill-' >/dev/null"
check "... its scratch directory is removed" bash -c "! ls -d '$T'/coffer-drill-* 2>/dev/null"
mv "$T/aside" "$repo/logs/pg/00000001/$stop_wal"
# a gap after the base backup: the moments before it can still be reached
next_wal=$(printf '%s%08X' "${stop_wal:0:16}" $((16#${stop_wal:16:8} + 1)))
if [[ "$next_wal" < "$marks_wal" ]]; then
    mv "$repo/logs/pg/00000001/$next_wal" "$T/aside"
    fails "a gap after the base backup names the segment and the last moment reached" 1 \
        "lacks segment $next_wal (timeline 1): recovery from base backup $id can reach only about 20" \
        restore --config "$conf" --source pg --at "$T_at" --to-datadir "$T/r4"
    check "... nothing written" test ! -e "$T/r4"
    mv "$T/aside" "$repo/logs/pg/00000001/$next_wal"
else
    echo "ok - a gap after the base backup # SKIP no segment between the backup and the marks"
fi
fails "a moment after the end of the archive" 1 "the requested moment is later. HINT: --at latest" \
    restore --config "$conf" --source pg --at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --to-datadir "$T/r4"
ok "--pause" restore --config "$conf" --source pg --at "$T_at" --to-datadir "$T/r5" --pause
check "... recovery_target_action = pause" grep -qx "recovery_target_action = 'pause'" "$T/r5/postgresql.auto.conf"
rm -rf "$T/r5"
fails "a logical restore option with a physical backup is refused" 2 "restores with --to-datadir alone" \
    restore --config "$conf" --source pg --at "$T_at" --to-datadir "$T/r4" --into-db x

# --- a base backup killed mid-stream ---
pgbench -i -q -s 8 app >/dev/null 2>&1
n0=$(nbackups pg)
touch "$T/mark"
backupd --config "$conf" run pitr >/dev/null 2>&1 &
pid=$!
for ((n = 0; n < 3000; n++)); do
    [ -n "$(find "$repo/backups/pg" -newer "$T/mark" -path '*/data/*' 2>/dev/null | head -n 1)" ] && break
    [ -n "$(find "$repo/backups/pg" -name '*.tmp*' 2>/dev/null | head -n 1)" ] && break
    sleep 0.01
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "a base backup killed mid-stream leaves nothing listed" test "$(nbackups pg)" -eq "$n0"
ok "... and the next one succeeds" backupd --config "$conf" run pitr
check "pg_stat_archiver: no failure" test "$(pg_sql -tAc "SELECT failed_count FROM pg_stat_archiver")" -eq 0
