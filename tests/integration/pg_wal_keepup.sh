#!/usr/bin/env bash
# pg_wal_keepup.sh - archiving through `backupd wal-push` keeps pace with a busy PostgreSQL 15:
# a stock server (plus archiving, as docs/PITR.md tells operators) under `pgbench -c 4 -T 20`
# (KEEPUP_SECONDS; docs/PITR.md gives the figure of a 60 s run) ends with no failed push and
# at most two finished segments not yet archived (pg_current_wal_lsn against
# pg_stat_archiver.last_archived_wal).
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"

c="$T/c"
conf="$c/coffer.conf"
secs=${KEEPUP_SECONDS:-20}
as_pg() { runuser -u postgres -- "$@"; }

PG_CONF_EXTRA="archive_mode = on
archive_command = '$COFFER_BIN/backupd --config $conf wal-push pg %p'"
start_postgres || exit 1
mkdir -p "$T/vol"
make_local_conf "$c" "$T/vol"
printf '\n[source pg]\ntype = postgres\nhost = %s\nport = %s\nuser = postgres\nmethod = physical\n' \
    "$PG_HOST" "$PG_PORT" >>"$conf"
ok "repository created" backupd --config "$conf" init
pg_archive_access "$c"

ok "pgbench tables (scale 10)" pgbench -i -q -s 10 postgres
pg_sql -c "CHECKPOINT" >/dev/null
st0=$(pg_sql -tAc "SELECT archived_count FROM pg_stat_archiver")
lsn0=$(pg_sql -tAc "SELECT pg_current_wal_lsn()")
ok "pgbench -c 4 -T $secs" pgbench -c 4 -j 2 -T "$secs" postgres

# segment number of a WAL file name (16 MiB segments: 256 per log id)
segno() { echo $((16#${1:8:8} * 256 + 16#${1:16:8})); }
read -r cur last failed mb < <(pg_sql -tAF ' ' -c "SELECT pg_walfile_name(pg_current_wal_lsn()),
    coalesce(last_archived_wal, '000000010000000000000000'), failed_count,
    round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / 1048576)
    FROM pg_stat_archiver")
behind=$(($(segno "$cur") - $(segno "$last") - 1))
archived=$(($(pg_sql -tAc "SELECT archived_count FROM pg_stat_archiver") - st0))
echo "# pgbench -c 4 -T $secs: $mb MiB of WAL, $archived files archived, current $cur, last archived $last"
check "pg_stat_archiver.failed_count is 0" test "$failed" -eq 0
check "at most two finished segments not yet archived at the end ($behind)" test "$behind" -le 2
check "the run wrote more than two segments (the check means something: $mb MiB)" test "$mb" -gt 48
