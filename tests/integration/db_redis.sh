#!/usr/bin/env bash
# db_redis.sh - the redis source against a real Redis 7: every value type, TTLs and two
# databases, the RDB taken over PSYNC while a writer runs, restored key by key into a
# scratch server (DEBUG DIGEST compared) and as an RDB file that a stopped server loads.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

# DEBUG DIGEST compares the source with what was restored; the stock file refuses DEBUG
REDIS_CONF_EXTRA='enable-debug-command local' start_redis scratch || exit 1
SCRATCH=$REDIS_SOCK SCRATCH_PID=$REDIS_PID
REDIS_CONF_EXTRA='enable-debug-command local' start_redis || exit 1
redis_load
db_conf "$T/c"
conf="$T/c/coffer.conf"

# a writer: SET w:N and INCR counter in one transaction, in a tight loop during the backup
writes() {
    local i=0
    while :; do
        printf 'MULTI\r\nSET w:%d %d\r\nINCR counter\r\nEXEC\r\n' "$i" "$i" || return
        i=$((i + 1))
    done
}
writes | redis-cli -s "$REDIS_SOCK" >/dev/null 2>&1 &
wpid=$!
on_exit "kill $wpid"
sleep 0.5
ok "backup while a writer runs" backupd --config "$conf" run cache
kill "$wpid"; wait "$wpid" 2>/dev/null
keys=$(latest_info "$conf" cache 'i["keys"]')
check "manifest: key count" test "$keys" -gt 3214
check "manifest: RDB version" test "$(latest_info "$conf" cache 'i["rdb_version"]')" -ge 9
check "manifest: replication offset" test "$(latest_info "$conf" cache 'i["repl_offset"]')" -ge 0
ok "restore the backup taken under load into the scratch server" \
    restore --config "$conf" --source cache --at now --into-redis "$SCRATCH"
check "the scratch server holds the snapshot's key count" test "$(redis-cli -s "$SCRATCH" DBSIZE)" -eq $((keys - 3))
check "the counter is consistent with the w: keys of the snapshot" \
    test "$(redis-cli -s "$SCRATCH" GET counter)" -eq "$(redis-cli -s "$SCRATCH" --scan --pattern 'w:*' | wc -l)"
fails "a scratch server holding keys is refused" 1 "holds" restore --config "$conf" --source cache --at now --into-redis "$SCRATCH"

# --- quiesced: the same digest ---
ok "second backup, no writer" backupd --config "$conf" run cache
redis_fingerprint >"$T/src.fp"
redis-cli -s "$SCRATCH" FLUSHALL >/dev/null
ok "restore into the emptied scratch server" restore --config "$conf" --source cache --at now --into-redis "$SCRATCH"
REDIS_SOCK=$SCRATCH redis_fingerprint >"$T/scratch.fp"
check "DEBUG DIGEST and key counts equal (strings, hashes, lists, sets, zsets, streams, TTLs)" cmp "$T/src.fp" "$T/scratch.fp"
check "TTLs kept" test "$(redis-cli -s "$SCRATCH" PTTL ttl:1)" -gt 3000000
ok "--force loads over a server that holds keys" restore --config "$conf" --source cache --at now --into-redis "$SCRATCH" --force

ok "--to-file writes the RDB" restore --config "$conf" --source cache --at now --to-file "$T/dump.rdb"
fails "--to-file refuses to overwrite" 1 "exists" restore --config "$conf" --source cache --at now --to-file "$T/dump.rdb"
# a stopped server started on that file (its dir's dump.rdb, as stock) holds the same data
mkdir -p "$T/fromfile" && cp "$T/dump.rdb" "$T/fromfile/dump.rdb"
saved=$(declare -p REDIS_SOCK REDIS_DIR REDIS_PID REDIS_PASSWORD REDIS_PASSFILE)
REDIS_CONF_EXTRA='enable-debug-command local' start_redis fromfile || exit 1
redis_fingerprint >"$T/file.fp"
eval "$saved"   # the source server again
check "a server started on the written RDB has the same digest" cmp "$T/src.fp" "$T/file.fp"
fails "--to-file and --into-redis together are refused" 2 "one of" restore --config "$conf" --source cache --at now --to-file "$T/x.rdb" --into-redis "$SCRATCH"

# --- TLS. Debian's redis-server is built without TLS, so a real TLS endpoint (socat, as a
# TLS-terminating proxy would be) forwards to the Redis socket; the certificate comes from a
# test CA ---
mkdir -p "$T/tls" && cd "$T/tls" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=coffer test CA" -keyout ca.key -out ca.crt >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout srv.key -out srv.csr >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext.cnf
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out srv.crt >/dev/null 2>&1
cat srv.crt srv.key >srv.pem
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" -keyout other.key -out other.crt >/dev/null 2>&1
cd - >/dev/null || exit 1
tport=$(_srv_port)
socat "OPENSSL-LISTEN:$tport,bind=127.0.0.1,reuseaddr,fork,cert=$T/tls/srv.pem,verify=0" \
    "UNIX-CONNECT:$REDIS_SOCK" >/dev/null 2>&1 &
tpid=$!
on_exit "_srv_stop_pid $tpid"
for _ in $(seq 100); do
    redis-cli --tls --cacert "$T/tls/ca.crt" -h 127.0.0.1 -p "$tport" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
done
cat >>"$conf" <<CONF

[source tlscache]
type = redis
host = 127.0.0.1
port = $tport
user = $REDIS_USER
password-file = $REDIS_PASSFILE
tls = yes
tls-ca-file = $T/tls/ca.crt

[job tls]
sources = tlscache

[source tlsbad]
type = redis
host = 127.0.0.1
port = $tport
tls = yes
tls-ca-file = $T/tls/other.crt

[job tlsbad]
sources = tlsbad

[source tlsname]
type = redis
host = 127.0.0.1
port = $tport
tls = yes
tls-ca-file = $T/tls/ca.crt
tls-server-name = db.example.com

[job tlsname]
sources = tlsname

[source plainontls]
type = redis
host = 127.0.0.1
port = $tport

[job plainontls]
sources = plainontls
CONF
ok "backup over TLS, the server's certificate verified" backupd --config "$conf" run tls
check "the TLS backup holds every key" test "$(latest_info "$conf" tlscache 'i["keys"]')" -eq "$(( $(rcli -n 0 DBSIZE) + $(rcli -n 3 DBSIZE) ))"
fails "a certificate from another CA is refused" 1 "certificate verify failed" backupd --config "$conf" run tlsbad
fails "a certificate for another name is refused" 1 "certificate verify failed" backupd --config "$conf" run tlsname
fails "plain text to a TLS port fails clearly" 1 "source 'plainontls': redis at 127.0.0.1:$tport" backupd --config "$conf" run plainontls
check "nothing committed for the refused ones" test "$(backups tlsbad "$conf")$(backups tlsname "$conf")$(backups plainontls "$conf")" = 000
