#!/usr/bin/env bash
# db_redis.sh - the redis source against a real Redis 7: every value type, TTLs and two
# databases, the RDB taken over PSYNC while a writer runs, restored key by key into a
# scratch server (DEBUG DIGEST compared) and as an RDB file that a stopped server loads.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

start_redis scratch || exit 1
SCRATCH=$REDIS_SOCK SCRATCH_PID=$REDIS_PID
start_redis || exit 1
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
# a stopped server started on that file holds the same data
mkdir -p "$T/fromfile" && cp "$T/dump.rdb" "$T/fromfile/dump.rdb"
redis-server --port 0 --unixsocket "$T/fromfile/s.sock" --dir "$T/fromfile" --save '' \
    --appendonly no --enable-debug-command local --daemonize no >/dev/null 2>&1 &
ffpid=$!
on_exit "_srv_stop_pid $ffpid"
for _ in $(seq 100); do [ "$(redis-cli -s "$T/fromfile/s.sock" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
REDIS_SOCK=$T/fromfile/s.sock redis_fingerprint >"$T/file.fp"
check "a server started on the written RDB has the same digest" cmp "$T/src.fp" "$T/file.fp"
fails "--to-file and --into-redis together are refused" 2 "one of" restore --config "$conf" --source cache --at now --to-file "$T/x.rdb" --into-redis "$SCRATCH"
