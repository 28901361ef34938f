#!/usr/bin/env bash
# pg_backup_stop.sh - a physical base backup whose WAL stops reaching the archive after the
# backup has started: the server's pg_backup_stop waits for the archive with no bound of its
# own, so coffer's watchdog ends the backup after `archive-wait`, names the archiver's last
# failure, lists nothing, and leaves no pg_basebackup or walsender behind (docs/PITR.md "When
# archiving fails"). The break is made exact: an archive_command that archives segments but
# refuses the backup history file (*.backup) that pg_backup_stop waits for with the last one.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"

c="$T/c"
conf="$c/coffer.conf"
repo="$c/repo"

mkdir -p "$T/vol" && echo data >"$T/vol/file"
make_local_conf "$c" "$T/vol"
ok "repository created" backupd --config "$conf" init
pg_archive_access "$c"
cat >"$T/archive.sh" <<SH
#!/bin/sh
# the test's archive_command: \$1 is %p, \$2 is %f
case "\$2" in *.backup) echo "test: refusing \$2" >&2; exit 1 ;; esac
exec "$COFFER_BIN/backupd" --config "$conf" wal-push pg "\$1"
SH
chmod 0755 "$T/archive.sh"

# archiving through the test's wrapper (above)
PG_CONF_EXTRA="archive_mode = on
archive_command = '$T/archive.sh %p %f'"
start_postgres || exit 1
chown postgres "$PG_PASSFILE" "$(dirname "$PG_PASSFILE")"
# pg_basebackup uses a replication connection, which 'all' in pg_hba.conf does not match
printf 'local replication all scram-sha-256\n' >>"$PG_DATA/pg_hba.conf"
pg_sql -c "SELECT pg_reload_conf()" >/dev/null
printf '\n[source pg]\ntype = postgres\nhost = %s\nport = %s\nuser = %s\npassword-file = %s\nmethod = physical\ncheckpoint = fast\narchive-wait = 3s\n[job pitr]\nsources = pg\n' \
    "$PG_HOST" "$PG_PORT" "$PG_USER" "$PG_PASSFILE" >>"$conf"
pg_sql -c "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g" >/dev/null
check "archiving works before the backup (the check at its start passes)" \
    test "$(pg_sql -tAc "SELECT pg_walfile_name(pg_switch_wal()) IS NOT NULL")" = t

started=$(date +%s)
fails "a backup whose pg_backup_stop waits for a failing archive is ended" 1 \
    "waited more than archive-wait (3s) in pg_backup_stop for the WAL archive" \
    timeout 60 backupd --config "$conf" run pitr
took=$(($(date +%s) - started))
check "... within the bound and a few seconds (took ${took}s)" test "$took" -lt 60
check "... naming the archiver's last failure" grep -qE "last failure: [0-9A-F]{24}\.[0-9A-F]{8}\.backup at" "$_err"
check "... nothing listed" test "$(repo_backups "$c" pg | wc -l)" -eq 0
no_basebackup() {  # no process of this test's server with the backup's application name
    local f
    for f in /proc/[0-9]*/environ; do
        grep -qsaF "PGAPPNAME=coffer base backup" "$f" && grep -qsaF "PGHOST=$PG_HOST" "$f" && return 1
    done
    return 0
}
check "... no pg_basebackup left running" no_basebackup
gone_walsender() {
    local i
    for ((i = 0; i < 50; i++)); do
        [ "$(pg_sql -tAc "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'coffer base backup%'")" = 0 ] && return 0
        sleep 0.2
    done
    return 1
}
check "... and no walsender of it on the server" gone_walsender
check "... and the server is out of backup mode (a new backup can start)" \
    pg_sql -c "SELECT pg_backup_start('probe', true)" -c "SELECT pg_backup_stop(false)"
