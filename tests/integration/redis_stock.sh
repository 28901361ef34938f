#!/usr/bin/env bash
# redis_stock.sh - the redis source against Redis 7 as Debian ships it: the stock redis.conf
# (repl-diskless-sync yes, repl-diskless-sync-delay 5: the master sends keep-alive newlines
# before +FULLRESYNC for 5 s) backed up and restored with DEBUG DIGEST equal and the wait
# recorded; a disk-based sync (repl-diskless-sync no: keep-alives after +FULLRESYNC while the
# master writes the RDB); a master that never starts within the bound; and a master with
# requirepass whose ACL user may not run REPLCONF or PSYNC.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

# DEBUG DIGEST compares the source with the restored data; the stock file refuses DEBUG
REDIS_CONF_EXTRA='enable-debug-command local' start_redis scratch || exit 1
SCRATCH=$REDIS_SOCK
REDIS_CONF_EXTRA='enable-debug-command local' start_redis || exit 1
redis_load
db_conf "$T/c"
conf="$T/c/coffer.conf"

# --- (a) the stock settings: diskless, delay 5 ---
check "the server runs the stock diskless settings (delay 5)" \
    test "$(rcli CONFIG GET repl-diskless-sync | tail -n 1) $(rcli CONFIG GET repl-diskless-sync-delay | tail -n 1)" = "yes 5"
redis_fingerprint >"$T/src.fp"
ok "backup of a stock server (the master waits 5 s, sending keep-alives)" backupd --config "$conf" run cache
# the master counts the delay in whole seconds on a once-a-second timer: 4 to 6 s
wait_ms=$(latest_info "$conf" cache 'i["transfer_wait_ms"]')
check "manifest: transfer_wait_ms records the master's 5 s wait ($wait_ms)" \
    test "$wait_ms" -ge 3500 -a "$wait_ms" -lt 60000
check "manifest: every key" test "$(latest_info "$conf" cache 'i["keys"]')" -eq "$(( $(rcli -n 0 DBSIZE) + $(rcli -n 3 DBSIZE) ))"
ok "restore into the scratch server" restore --config "$conf" --source cache --at now --into-redis "$SCRATCH"
REDIS_SOCK=$SCRATCH redis_fingerprint >"$T/scratch.fp"
check "DEBUG DIGEST and key counts equal" cmp "$T/src.fp" "$T/scratch.fp"

# --- (b) disk-based: the master writes the RDB to its disk first and sends keep-alives after
# +FULLRESYNC meanwhile. rdb-key-save-delay (µs per key, a Redis test setting) makes that
# BGSAVE last about 2 s, so that at least one keep-alive comes ---
rcli CONFIG SET repl-diskless-sync no >/dev/null
rcli CONFIG SET rdb-key-save-delay 500 >/dev/null
ok "backup with repl-diskless-sync no" backupd --config "$conf" run cache
check "the master wrote the RDB to its disk" test -s "$REDIS_DIR/dump.rdb"
wait_ms=$(latest_info "$conf" cache 'i["transfer_wait_ms"]')
check "manifest: transfer_wait_ms covers the BGSAVE ($wait_ms)" test "$wait_ms" -ge 1000
rcli CONFIG SET rdb-key-save-delay 0 >/dev/null
redis-cli -s "$SCRATCH" FLUSHALL >/dev/null
ok "restore the disk-based backup" restore --config "$conf" --source cache --at now --into-redis "$SCRATCH"
REDIS_SOCK=$SCRATCH redis_fingerprint >"$T/scratch.fp"
check "DEBUG DIGEST and key counts equal after a disk-based sync" cmp "$T/src.fp" "$T/scratch.fp"

# --- a master that keeps preparing past the bound (shortened to 2 s for the test) ---
rcli CONFIG SET repl-diskless-sync yes >/dev/null
rcli CONFIG SET repl-diskless-sync-delay 30 >/dev/null
n=$(backups cache "$conf")
COFFER_TEST_REDIS_WAIT_S=2 fails "a master still preparing after the bound: the error says what was awaited" \
    1 "for the reply to PSYNC (+FULLRESYNC), and the master sent only keep-alives" \
    backupd --config "$conf" run cache
# (the time it says is measured: the 2 s bound, or a little more on a busy machine)
check "... naming how long it waited, at least the bound" grep -qE "waited ([2-9]|[1-9][0-9]) s for the reply" "$_err"
check "nothing committed" test "$(backups cache "$conf")" -eq "$n"
rcli CONFIG SET repl-diskless-sync-delay 5 >/dev/null

# --- (c) requirepass, and an ACL user without +replconf, then without +psync ---
REDIS_CONF_EXTRA='requirepass secretpw-for-default' start_redis locked || exit 1
export REDISCLI_AUTH=secretpw-for-default
check "the default user needs the password" sh -c "env -u REDISCLI_AUTH redis-cli -s '$REDIS_SOCK' PING | grep -q NOAUTH"
rcli SET k v >/dev/null
rcli ACL SETUSER coffer resetkeys '~*' -replconf >/dev/null
db_conf "$T/l"   # its own repository, [source cache] on this server
conf="$T/l/coffer.conf"
fails "an ACL user without +replconf: the error names the permission" 1 \
    "the user 'coffer' lacks the +replconf permission" backupd --config "$conf" run cache
check "... with the server's NOPERM and the command to grant it" \
    grep -q "NOPERM.*HINT: ACL SETUSER coffer +replconf" "$_err"
rcli ACL SETUSER coffer +replconf -psync >/dev/null
fails "an ACL user without +psync: the error names the permission" 1 \
    "the user 'coffer' lacks the +psync permission" backupd --config "$conf" run cache
check "not a protocol error" sh -c "! grep -qi 'empty reply\|unexpected reply\|not +FULLRESYNC' '$_err'"
check "nothing committed for the refused user" test "$(backups cache "$conf")" -eq 0
rcli ACL SETUSER coffer +psync >/dev/null
ok "with +psync granted the backup works" backupd --config "$conf" run cache
check "the backup holds the key" test "$(latest_info "$conf" cache 'i["keys"]')" -eq 1
