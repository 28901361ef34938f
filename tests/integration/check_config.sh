#!/usr/bin/env bash
# check_config.sh - `backupd check-config` checks what the nightly run will need and reports
# every finding with its section: key and secret files, the repository, each server and its
# dump tool; exit 2 for configuration/key findings, 1 when only servers are unreachable.
source "$COFFER_TESTS/lib/testlib.sh"
source "$COFFER_TESTS/lib/servers.sh"

start_mariadb || exit 1
start_postgres || exit 1
mkdir -p "$T/src" "$T/c"
(umask 077; echo id >"$T/c/s3.id"; echo secret >"$T/c/s3.secret"; echo wrong-password >"$T/c/my.wrong")
head -c 32 /dev/urandom >"$T/c/repo.key"; chmod 644 "$T/c/repo.key"
# port 9 (discard) on loopback: nothing listens, the connection is refused at once
cat >"$T/c/all.conf" <<CONF
[repository]
target = s3
endpoint = http://127.0.0.1:9
bucket = nightly
region = us-east-1
uri-style = path
retries = 0
access-key-id-file = $T/c/s3.id
secret-access-key-file = $T/c/s3.secret
key-file = $T/c/repo.key

[source app-db]
type = postgres
host = $PG_HOST
port = $PG_PORT
user = $PG_USER
password-file = $T/c/missing.pass

[source shop]
type = mariadb
socket = $MY_SOCK
user = $MY_USER
password-file = $T/c/my.wrong

[job nightly]
sources = app-db, shop
CONF
line() { grep -n "^$1" "$T/c/all.conf" | head -1 | cut -d: -f1; }
A="--config $T/c/all.conf"
fails "four problems: exit 2" 2 "4 problems (2 configuration or key, 2 unreachable or failed)" backupd $A check-config
check "the 0644 key file, with its section and line" grep -qF "all.conf:$(line key-file): [repository] key file '$T/c/repo.key' is readable by group or others (mode 0644); HINT: run chmod 600" "$_err"
check "the missing password file, with its section" grep -qF "[source app-db]: unable to read password-file" "$_err"
check "  ... saying which file" grep -qF "$T/c/missing.pass" "$_err"
check "  ... and what to do" grep -qF "missing.pass': no such file; HINT: create it (mode 0600)" "$_err"
check "the wrong database password, with its section" grep -qF "[source shop] mariadb at socket $MY_SOCK refused user 'coffer'" "$_err"
check "the unreachable S3 endpoint, with its section" grep -qE "^[^ ]*all.conf:1: \[repository\] repository: .*127\.0\.0\.1 port 9.*HINT: check endpoint" "$_err"
check "no password in the output" bash -c "! grep -q wrong-password '$_err'"

fails "--offline: no network, the files still" 2 "2 problems (2 configuration or key, 0 unreachable" backupd $A check-config --offline
check "  the key file" grep -qF "[repository] key file" "$_err"
check "  the password file" grep -qF "[source app-db]" "$_err"

chmod 600 "$T/c/repo.key"; cp "$PG_PASSFILE" "$T/c/missing.pass"
fails "only unreachable servers: exit 1" 1 "2 problems (0 configuration or key, 2 unreachable" backupd $A check-config
cp "$MY_PASSFILE" "$T/c/my.wrong"
fails "only the S3 endpoint: exit 1" 1 "1 problem (0 configuration or key, 1 unreachable" backupd $A check-config
ok "offline, nothing to find: exit 0" backupd $A check-config --offline
check "  and it says the network was not checked" grep -q "offline" "$_out"

# --- a local repository: initialised, and opened by the key ---
make_local_conf "$T/l" "$T/src"
L="--config $T/l/coffer.conf"
fails "a repository not initialised: exit 1, with the hint" 1 "HINT: create it with 'backupd --config FILE init'" backupd $L check-config
ok "init" backupd $L init
ok "a good configuration: exit 0" backupd $L check-config
check "  says ok" grep -q "ok (1 sources, 1 jobs)" "$_out"
cp "$T/l/repo.key" "$T/l/good.key"; head -c 32 /dev/urandom >"$T/l/repo.key"
fails "a key that does not open the repository" 2 "[repository] repository: wrong key: this key file does not unlock" backupd $L check-config
rm "$T/l/repo.key"
fails "a missing key file, named once" 2 "1 problem (1 configuration" backupd $L check-config
cp "$T/l/good.key" "$T/l/repo.key"
rmdir "$T/src"
fails "a volume whose path is gone" 2 "[source media] path '$T/src': No such file or directory" backupd $L check-config
mkdir "$T/src"

# --- dump tools ---
mkdir -p "$T/oldbin" "$T/nobin"
printf '#!/bin/sh\necho "pg_dump (PostgreSQL) 11.22"\n' >"$T/oldbin/pg_dump"; chmod 755 "$T/oldbin/pg_dump"
cat "$T/l/coffer.conf" - >"$T/l/tools.conf" <<CONF

[source old-pg]
type = postgres
host = $PG_HOST
port = $PG_PORT
user = $PG_USER
password-file = $PG_PASSFILE
bin-dir = $T/oldbin

[source no-tool]
type = mariadb
socket = $MY_SOCK
user = $MY_USER
password-file = $MY_PASSFILE
bin-dir = $T/nobin

[source bad-section]
type = redis
colour = blue
CONF
fails "tools: every problem, exit 2" 2 "3 problems" backupd --config "$T/l/tools.conf" check-config
check "a pg_dump older than the server" grep -qF "[source old-pg] $T/oldbin/pg_dump is major version 11, older than the server's 15" "$_err"
check "a missing mariadb-dump" grep -qF "[source no-tool] dump tool '$T/nobin/mariadb-dump' is not installed" "$_err"
check "and a bad key in another section, with its line" grep -qF "[source bad-section] unknown key 'colour'" "$_err"
fails "usage: --offline goes with check-config only" 2 "--offline goes with check-config" backupd $L --offline run nightly

# --- redis: the server answers PING with the configured user, or the finding names it ---
start_redis || exit 1
(umask 077; echo not-the-password >"$T/c/redis.wrong")
cat "$T/l/coffer.conf" - >"$T/l/redis.conf" <<CONF

[source cache]
type = redis
socket = $REDIS_SOCK
user = $REDIS_USER
password-file = $T/c/redis.wrong
CONF
fails "redis: a wrong password is an unreachable/failed finding, exit 1" 1 "1 problem (0 configuration or key, 1 unreachable" backupd --config "$T/l/redis.conf" check-config
check "  naming the section" grep -qF "[source cache]" "$_err"
check "  and no password in the output" bash -c "! grep -q not-the-password '$_err'"
cp "$REDIS_PASSFILE" "$T/c/redis.wrong"
ok "redis: the right password, exit 0" backupd --config "$T/l/redis.conf" check-config
stop_redis
fails "redis: a server that is down, exit 1" 1 "[source cache]" backupd --config "$T/l/redis.conf" check-config
