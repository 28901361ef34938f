#!/usr/bin/env bash
# db_failures.sh - what goes wrong with database sources, against real servers: wrong password,
# server down, database missing, the dump tool killed mid-stream, the server restarting during
# the dump. Each must fail with a message naming the source and the cause, exit non-zero,
# commit nothing, and leave the earlier backup intact. Also: no password in any process's
# command line during backups (a scan of /proc/*/cmdline).
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

start_postgres || exit 1
pg_load app 5 || exit 1
start_mariadb || exit 1
my_load shop || exit 1
my_sql shop -e "CREATE TABLE bulk (id INT PRIMARY KEY, v MEDIUMTEXT) ENGINE=InnoDB; INSERT INTO bulk SELECT seq, REPEAT(MD5(seq), 40) FROM seq_1_to_60000"
start_redis || exit 1
redis_load
db_conf "$T/c"
conf="$T/c/coffer.conf"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"

for s in pg my cache; do
    ok "first $s backup" backupd --config "$conf" run "$s"
done
first_id() { catalog --config "$conf" list --source "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }
# intact SOURCE: still exactly one backup of SOURCE, it verifies, and no debris in the repository
intact() {
    [ "$(backups "$1" "$conf")" -eq 1 ] &&
        catalog --config "$conf" verify "$(first_id "$1")" >/dev/null 2>&1 &&
        [ "$(ls "$T/c/repo/backups/$1" | wc -l)" -eq 1 ]
}

# --- wrong password ---
cp "$PG_PASSFILE" "$T/pg.good"
(umask 077; echo wrong >"$PG_PASSFILE"; echo wrong >"$MY_PASSFILE"; echo wrong >"$REDIS_PASSFILE")
fails "postgres: wrong password" 1 "source 'pg': postgres at socket $PG_HOST port $PG_PORT refused user 'coffer'" backupd --config "$conf" run pg
fails "mariadb: wrong password" 1 "source 'my': mariadb at socket $MY_SOCK refused user 'coffer'" backupd --config "$conf" run my
fails "redis: wrong password" 1 "source 'cache': redis at $REDIS_SOCK refused AUTH: WRONGPASS" backupd --config "$conf" run cache
for s in pg my cache; do check "$s: nothing committed after a wrong password" intact "$s"; done
(umask 077; printf '%s\n' "$PG_PASSWORD" >"$PG_PASSFILE"; printf '%s\n' "$MY_PASSWORD" >"$MY_PASSFILE"; printf '%s\n' "$REDIS_PASSWORD" >"$REDIS_PASSFILE")

# --- database missing ---
sed -i 's/^databases = all$/databases = app, nope/' "$conf"
fails "postgres: a missing database is named" 1 "source 'pg': database 'nope' does not exist" backupd --config "$conf" run pg
sed -i 's/^databases = app, nope$/databases = shop, gone/' "$conf"
fails "mariadb: a missing database is named" 1 "source 'my': database 'gone' does not exist" backupd --config "$conf" run my
sed -i 's/^databases = shop, gone$/databases = all/' "$conf"
check "postgres: nothing committed for a missing database" intact pg
check "mariadb: nothing committed for a missing database" intact my

# --- the dump tool killed mid-stream ---
# kill_child SOURCE TOOL SIGNAL: run a backup, kill TOOL once it has written 1 MB
kill_child() {
    backupd --config "$conf" run "$1" >"$T/kill.out" 2>"$T/kill.err" &
    local b=$! c
    c=$(wait_child "$b" "$2") && wait_io "$c" 1048576 && kill -"$3" "$c"
    wait "$b"
    local rc=$?
    cat "$T/kill.err" >&2
    return $rc
}
fails "postgres: pg_dump killed mid-stream" 1 "source 'pg': pg_dump of database 'app' was killed by signal 9" kill_child pg pg_dump KILL
check "postgres: nothing committed after the kill" intact pg
# mariadb: the rows stream through backupd's own connection (mariadb-dump writes the schema):
# my_during FN stops backupd while it reads table bulk (77 MB), runs FN, and lets it go on
my_during() {
    backupd --config "$conf" run my >"$T/md.out" 2>"$T/md.err" &
    local b=$! i q
    for ((i = 0; i < 1500; i++)); do
        q=$(my_sql -N -e "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT /*!40001 SQL_NO_CACHE */%FROM \`bulk\`'")
        [ "$q" = 1 ] && { kill -STOP "$b"; "$1" >/dev/null 2>&1; kill -CONT "$b"; break; }
        kill -0 "$b" 2>/dev/null || break
        sleep 0.02
    done
    wait "$b"
    local rc=$?
    cat "$T/md.err" >&2
    return $rc
}
kill_reader() {
    my_sql -e "KILL CONNECTION $(my_sql -N -e "SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT /*!40001 SQL_NO_CACHE */%' LIMIT 1")"
}
fails "mariadb: the connection reading the rows killed mid-stream" 1 "source 'my': database 'shop': reading table \`bulk\` after" my_during kill_reader
check "mariadb: nothing committed after the kill" intact my
# mariadb-dump's schema cut short (a wrapper keeps its first 2000 bytes and exits 0): proved
# incomplete by its missing last line
mkdir -p "$T/cutbin"
printf '#!/bin/sh\n"%s" "$@" | head -c 2000\n' "$(command -v mariadb-dump)" >"$T/cutbin/mariadb-dump"
chmod +x "$T/cutbin/mariadb-dump"
sed "/^type = mariadb\$/a bin-dir = $T/cutbin" "$conf" >"$T/cut.conf"
fails "mariadb: the schema's dump cut short" 1 "source 'my': mariadb-dump of database 'shop': incomplete: it does not end with" backupd --config "$T/cut.conf" run my
check "mariadb: nothing committed after the schema was cut short" intact my

# --- the server restarting during the dump ---
restart_during() {  # restart_during SOURCE TOOL RESTART_FN
    backupd --config "$conf" run "$1" >"$T/rs.out" 2>"$T/rs.err" &
    local b=$! c
    c=$(wait_child "$b" "$2") && wait_io "$c" 1048576 && "$3" >/dev/null 2>&1
    wait "$b"
    local rc=$?
    cat "$T/rs.err" >&2
    return $rc
}
fails "postgres: server restart during pg_dump" 1 "source 'pg': pg_dump of database 'app' failed" restart_during pg pg_dump restart_postgres
fails "mariadb: server restart while the rows stream" 1 "source 'my': database 'shop': reading table \`bulk\` after" my_during restart_mariadb
check "postgres: nothing committed after the restart" intact pg
check "mariadb: nothing committed after the restart" intact my
# redis: make the server's snapshot slow, then restart it while the RDB streams
redis_restart_during() {
    rcli CONFIG SET rdb-key-save-delay 200 >/dev/null
    # on SIGTERM a stock Redis 7 waits up to shutdown-timeout (10 s) for its replicas to
    # acknowledge its offset, and once its offset has moved (its first PING to replicas) it
    # finishes our transfer meanwhile: this test is about a transfer cut short
    rcli CONFIG SET shutdown-timeout 0 >/dev/null
    backupd --config "$conf" run cache >"$T/rr.out" 2>"$T/rr.err" &
    local b=$! i
    # the transfer itself (the master's child writing the RDB to us), not the stock 5 s wait
    # before it
    local info
    for ((i = 0; i < 500; i++)); do
        info=$(rcli INFO)
        grep -q '^slave0:' <<<"$info" && grep -q '^rdb_bgsave_in_progress:1' <<<"$info" && break
        sleep 0.02
    done
    sleep 0.3
    restart_redis
    wait "$b"
    local rc=$?
    cat "$T/rr.err" >&2
    return $rc
}
fails "redis: server restart during the RDB transfer" 1 "source 'cache': redis at $REDIS_SOCK closed the connection" redis_restart_during
check "redis: nothing committed after the restart" intact cache

# --- a restore that fails half-way leaves nothing that looks complete ---
# kill_loader SOURCE TOOL ARGS...: run a restore, kill its loader TOOL once it has read 1 MB
kill_loader() {
    local src=$1 tool=$2; shift 2
    restore --config "$conf" --source "$src" --at now "$@" >"$T/kl.out" 2>"$T/kl.err" &
    local r=$! c i
    c=$(wait_child "$r" "$tool") || { wait "$r"; return 99; }
    for ((i = 0; i < 500; i++)); do
        [ "$(awk '/^rchar/ {print $2}' "/proc/$c/io" 2>/dev/null || echo 0)" -ge 1048576 ] && break
        sleep 0.01
    done
    kill -KILL "$c"
    wait "$r"
    local rc=$?
    cat "$T/kl.err" >&2
    return $rc
}
fails "postgres: pg_restore killed during a restore" 1 "pg_restore into database 'half' was killed by signal 9" kill_loader pg pg_restore --database app --into-db half
check "postgres: the half-restored database was dropped" test -z "$(pg_sql -tAc "SELECT 1 FROM pg_database WHERE datname = 'half'")"
fails "postgres: pg_restore killed during a --jobs 2 restore" 1 "pg_restore into database 'halfj' was killed by signal 9" kill_loader pg pg_restore --database app --into-db halfj --jobs 2
check "postgres: that half-restored database was dropped too" test -z "$(pg_sql -tAc "SELECT 1 FROM pg_database WHERE datname = 'halfj'")"
fails "mariadb: the client killed during a restore" 1 "mariadb client loading database 'half' was killed by signal 9" kill_loader my mariadb --database shop --into-db half
check "mariadb: the half-loaded database was dropped" test -z "$(my_sql -N -e "SHOW DATABASES LIKE 'half'")"
# --- server down ---
stop_postgres; stop_mariadb; stop_redis
fails "postgres: server down" 1 "source 'pg': unable to connect to postgres at socket $PG_HOST port $PG_PORT" backupd --config "$conf" run pg
fails "mariadb: server down" 1 "source 'my': unable to connect to mariadb at socket $MY_SOCK" backupd --config "$conf" run my
fails "redis: server down" 1 "source 'cache': unable to connect to redis at $REDIS_SOCK" backupd --config "$conf" run cache
for s in pg my cache; do check "$s: earlier backup intact after all failures" intact "$s"; done
check "no option or temp file left behind" test -z "$(ls -A "$TMPDIR")"

# --- no password on any command line while backups run ---
restart_postgres; _my_launch; _redis_launch
# mariadb: a table already read is not locked for the rest of the backup (a savepoint releases
# it, as mariadb-dump does): an ALTER of it goes through while backupd reads the next table
alter_read() { my_sql shop -e "SET SESSION lock_wait_timeout = 5; ALTER TABLE audit ADD COLUMN z INT"; }
ok "mariadb: a backup during which a table already read is altered" my_during alter_read
check "...the ALTER did not wait for the backup" test "$(my_sql -N -e "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = 'audit' AND column_name = 'z'")" -eq 1
my_sql shop -e "ALTER TABLE audit DROP COLUMN z"
# scan_cmdlines PID SECRET TOOL: until PID exits, read every /proc/*/cmdline; exit 1 if SECRET
# appears anywhere, 2 if TOOL was never seen running (the scan proved nothing)
scan_cmdlines() {
    SCAN_SECRET=$2 python3 - "$1" "$3" <<'PY'
import os, sys, time
pid, tool = int(sys.argv[1]), sys.argv[2].encode()
secret = os.environ["SCAN_SECRET"].encode()   # the scanner's own argv stays clean
seen = leak = False
while os.path.exists(f"/proc/{pid}"):
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                c = f.read()
        except OSError:
            continue
        if secret in c:
            leak = True
            print("leak in", p, c.replace(b"\0", b" ")[:200], file=sys.stderr)
        if tool and os.path.basename(c.split(b"\0")[0]) == tool:
            seen = True
    time.sleep(0.002)
sys.exit(1 if leak else (0 if seen or not tool else 2))
PY
}
scan_backup() {  # scan_backup SOURCE SECRET TOOL
    backupd --config "$conf" run "$1" >/dev/null 2>&1 &
    local b=$!
    scan_cmdlines "$b" "$2" "$3"
    local rc=$?
    wait "$b" || return 3
    return $rc
}
ok "postgres: no password in any command line while pg_dump runs" scan_backup pg "$PG_PASSWORD" pg_dump
ok "mariadb: no password in any command line while mariadb-dump runs" scan_backup my "$MY_PASSWORD" mariadb-dump
ok "redis: no password in any command line during the backup" scan_backup cache "$REDIS_PASSWORD" ""
scan_restore() {  # scan_restore SOURCE SECRET TOOL RESTORE-ARGS...
    local src=$1 secret=$2 tool=$3; shift 3
    restore --config "$conf" --source "$src" --at now "$@" >/dev/null 2>&1 &
    local r=$!
    scan_cmdlines "$r" "$secret" "$tool"
    local rc=$?
    wait "$r" || return 3
    return $rc
}
ok "postgres: no password in any command line while pg_restore runs" scan_restore pg "$PG_PASSWORD" pg_restore --database app --into-db scanned
ok "mariadb: no password in any command line while the mariadb client loads" scan_restore my "$MY_PASSWORD" mariadb --database shop --into-db scanned

# --- the password from the environment when there is no password-file ---
grep -v '^password-file' "$conf" >"$T/env.conf"
fails "redis: an ACL user without any password is a configuration error" 2 "an ACL user needs a password" backupd --config "$T/env.conf" check-config
export REDISCLI_AUTH=$REDIS_PASSWORD   # the whole file is checked on every run
fails "postgres: no password at all is refused" 1 "source 'pg': postgres at" backupd --config "$T/env.conf" run pg
ok "postgres: PGPASSWORD from the environment" env PGPASSWORD="$PG_PASSWORD" backupd --config "$T/env.conf" run pg
ok "mariadb: MYSQL_PWD from the environment" env MYSQL_PWD="$MY_PASSWORD" backupd --config "$T/env.conf" run my
ok "redis: REDISCLI_AUTH from the environment" backupd --config "$T/env.conf" run cache
unset REDISCLI_AUTH

# --- last, as it damages the redis backups: with a damaged object, the restore stops before
# the destination is touched
for obj in $(find "$T/c/repo/backups/cache" -path '*/data/*' -type f); do
    printf 'X' | dd of="$obj" bs=1 seek=$(( $(stat -c %s "$obj") / 2 )) conv=notrunc 2>/dev/null
done
fails "redis: a damaged backup is refused" 1 "" restore --config "$conf" --source cache --at now --to-file "$T/damaged.rdb"
check "redis: no file was written from it" test ! -e "$T/damaged.rdb"
check "redis: no partial file is left" test -z "$(ls "$T" | grep coffer-partial)"

