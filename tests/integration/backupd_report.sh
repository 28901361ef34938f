#!/usr/bin/env bash
# backupd_report.sh - what `backupd run` tells besides its exit code (docs/METRICS.md,
# docs/CONFIG.md [metrics] and [notify]): every attempt in the catalog index, committed or
# not, so that `catalog status` says FAILED after a failed run even inside the RPO; the
# metrics textfile, which promtool accepts; notifications by command and by webhook (a local
# listener) on failure, recovery and RPO violation; and a notification that cannot be
# delivered, which is logged and neither fails nor holds up the backup.
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/src" "$T/prom" "$T/hook"
echo "payload $RANDOM" >"$T/src/f"
python3 "$COFFER_TESTS/lib/notify_listener.py" "$T/hook" &
listener=$!
on_exit "kill $listener"
for _ in $(seq 100); do [ -f "$T/hook/port" ] && break; sleep 0.05; done
port=$(cat "$T/hook/port")

make_local_conf "$T/d" "$T/src"
C="$T/d/coffer.conf"
sed -i 's/^\[job nightly\]$/[job nightly]\nnotify-command = env > "$COFFER_OUT.$COFFER_EVENT"/' "$C"
sed -i 's/^\[source media\]$/[source media]\nrpo = 1h/' "$C"
cat >>"$C" <<CONF

[metrics]
textfile-dir = $T/prom

[notify]
notify-url = http://127.0.0.1:$port/flaky-hook
notify-timeout = 5s
CONF
# the command sees only the event: COFFER_OUT is ours, passed through its own command line
sed -i "s|\$COFFER_OUT|$T/cmd|" "$C"
# a secret in backupd's environment never reaches the command
export COFFER_TEST_SECRET=hunter2
prom="$T/prom/coffer.prom"
st() { catalog --config "$C" status "$@"; }
pyj() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }
metric() { awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m {print $2}' "$prom"; }

ok "init" backupd --config "$C" init
ok "a good run" backupd --config "$C" run nightly
check "the textfile is written" test -f "$prom"
check "promtool check metrics accepts it" promtool check metrics <"$prom"
check "mode 0644, no temporary file left" test "$(stat -c %a "$prom") $(ls "$T/prom" | wc -l)" = "644 1"
check "one attempt, succeeded" test "$(metric coffer_backup_attempts_total) $(metric coffer_backup_last_attempt_success) $(metric coffer_backup_failures_total)" = "1 1 0"
check "rpo and no violation" test "$(metric coffer_source_rpo_seconds) $(metric coffer_source_rpo_violation)" = "3600 0"
check "bytes in and stored" test "$(metric coffer_backup_last_input_bytes)" -gt 0 -a "$(metric coffer_backup_last_stored_bytes)" -gt 0
check "never verified: 0" test "$(metric coffer_source_verified)" = 0
check "no backup id among the labels" bash -c "! grep -q 2026 <(grep -o '{[^}]*}' '$prom')"
check "no notification for a plain success" test ! -e "$T/hook/posts" -a ! -e "$T/cmd.failure"
ok "status: OK" st
check "status says never verified" grep -q "OK .*never verified" "$_out"
st --json >"$T/s.json"
check "status json: verified false, last attempt ok" test "$(pyj "$T/s.json" "(d['sources'][0]['verified'], d['sources'][0]['last_attempt']['result'], d['sources'][0]['state'])")" = "(False, 'ok', 'OK')"
check "attempt row in the index" test "$(sqlite3 "$T/d/catalog.db" "select count(*), sum(ok) from attempts where source='media' and job='nightly'")" = "1|1"

# --- a failed run: nothing committed, the newest backup still inside the RPO ---
mv "$T/src" "$T/src.away"
fails "a failed run exits 1" 1 "No such file or directory" backupd --config "$C" run nightly
check "attempt recorded with its error" test "$(sqlite3 "$T/d/catalog.db" "select ok, error like '%No such file%' from attempts order by rowid desc limit 1")" = "0|1"
fails "status: FAILED, exit 1, though inside the RPO" 1 "last backup attempt FAILED" st
check "the table says FAILED" grep -q "^media .* FAILED " "$_out"
catalog --config "$C" status --json >"$T/s.json" 2>/dev/null
check "status json: state FAILED, rpo OK, error kept" test "$(pyj "$T/s.json" "(d['ok'], d['sources'][0]['state'], d['sources'][0]['rpo_state'], 'No such file' in d['sources'][0]['last_attempt']['error'])")" = "(False, 'FAILED', 'OK', True)"
check "metrics: failed, one failure" test "$(metric coffer_backup_last_attempt_success) $(metric coffer_backup_failures_total) $(metric coffer_backup_attempts_total)" = "0 1 2"
check "promtool still accepts it" promtool check metrics <"$prom"
check "command notified: failure" grep -q "^COFFER_EVENT=failure$" "$T/cmd.failure"
check "with job, source and error" bash -c "grep -q '^COFFER_JOB=nightly$' '$T/cmd.failure' && grep -q '^COFFER_SOURCE=media$' '$T/cmd.failure' && grep -q '^COFFER_ERROR=.*No such file' '$T/cmd.failure'"
check "no secret of backupd's environment" bash -c "! grep -q hunter2 '$T/cmd.failure'"
check "webhook got it after a 503 (retried)" test "$(grep -c flaky-hook "$T/hook/paths") $(pyj <(tail -n1 "$T/hook/posts") "(d['event'], d['source'], d['job'])")" = "2 ('failure', 'media', 'nightly')"
check "as JSON" grep -q "application/json" "$T/hook/paths"

# --- recovery ---
mv "$T/src.away" "$T/src"
ok "the next run succeeds" backupd --config "$C" run nightly
check "command notified: recovery" grep -q "^COFFER_BACKUP_ID=2" "$T/cmd.recovery"
check "webhook notified: recovery" test "$(pyj <(tail -n1 "$T/hook/posts") "d['event']")" = recovery
ok "status: OK again" st

# --- RPO violated after a run (two hours later, the source gone again) ---
mv "$T/src" "$T/src.away"
fails "a failed run two hours later" 1 "violates its RPO" fake_clock "+2h" backupd --config "$C" run nightly
check "command notified: rpo-violation with rpo and age" bash -c "grep -q '^COFFER_RPO_SECONDS=3600$' '$T/cmd.rpo-violation' && grep -q '^COFFER_AGE_SECONDS=7[0-9][0-9][0-9]$' '$T/cmd.rpo-violation'"
check "webhook notified: rpo-violation" test "$(pyj <(tail -n1 "$T/hook/posts") "(d['event'], d['rpo_seconds'])")" = "('rpo-violation', 3600)"
check "metrics: violation" test "$(metric coffer_source_rpo_violation)" = 1
mv "$T/src.away" "$T/src"

# --- verify shows in status and metrics ---
ok "verify the latest" catalog --config "$C" verify --latest
ok "a run after the verify" backupd --config "$C" run nightly
check "metrics: verified, good" test "$(metric coffer_source_verified) $(metric coffer_source_last_verify_success)" = "1 1"
check "promtool accepts the full set" promtool check metrics <"$prom"

# --- undeliverable notifications: logged, bounded, the exit code unchanged ---
sed -e "s|^notify-url = .*|notify-url = http://alice:s3cr3t@127.0.0.1:1/hook-SECRETTOKEN|" \
    -e "s|^notify-command = .*|notify-command = sleep 30|" \
    -e "s|^notify-timeout = .*|notify-timeout = 1s\nnotify-retries = 1|" "$C" >"$T/d/bad.conf"
mv "$T/src" "$T/src.away"
t0=$SECONDS
fails "failure with nowhere to notify: still exit 1" 1 "not delivered to http://127.0.0.1:1" backupd --config "$T/d/bad.conf" run nightly
check "within bounded time" test $((SECONDS - t0)) -lt 15
check "the command was killed at its timeout" grep -q "notify-command killed after 1 s" "$_err"
check "neither the webhook's path nor its password is logged" bash -c "! grep -q -e SECRETTOKEN -e s3cr3t '$_err'"
mv "$T/src.away" "$T/src"
ok "a recovery with nowhere to notify: exit 0" backupd --config "$T/d/bad.conf" run nightly
check "logged as a warning" grep -q "warn notification recovery of source media not delivered" "$_err"
sed -e "s|^notify-url = .*|notify-url = http://127.0.0.1:$port/refuse|" -e "/^notify-command/d" "$C" >"$T/d/refuse.conf"
mv "$T/src" "$T/src.away"
fails "a 403 is not retried" 1 "HTTP status 403" backupd --config "$T/d/refuse.conf" run nightly
check "one request only" test "$(grep -c refuse "$T/hook/paths")" = 1
mv "$T/src.away" "$T/src"

# --- the metrics directory missing: a warning, the backup done ---
sed "s|^textfile-dir = .*|textfile-dir = $T/nowhere|" "$C" >"$T/d/nodir.conf"
runs() { backupd --config "$T/d/nodir.conf" run nightly; }
ok "metrics cannot be written: the run still succeeds" runs
check "and says why" grep -q "metrics not written: unable to write metrics to '$T/nowhere/coffer.prom'" "$_err"

# --- bad values are configuration errors naming the line ---
bad() {  # bad WHAT SED-EXPR NEEDLE
    sed "$2" "$C" >"$T/d/b.conf"
    fails "$1" 2 "$3" backupd --config "$T/d/b.conf" run nightly
}
bad "notify-url not http" "s|^notify-url = .*|notify-url = ftp://x/y|" "notify-url: not an http:// or https:// URL"
bad "notify-timeout out of range" "s|^notify-timeout = .*|notify-timeout = 1h|" "notify-timeout: between 1s and 5min"
bad "textfile-dir relative" "s|^textfile-dir = .*|textfile-dir = prom|" "is not an absolute path"
bad "unknown key in [metrics]" "s|^textfile-dir = .*|&\nlisten-port = 1|" "listen-port"
bad "notify-retries too many" "s|^notify-timeout = .*|&\nnotify-retries = 50|" "notify-retries"

# --- an index of schema 1 or 2 is upgraded in place (to 4), its rows kept ---
db="$T/d/catalog.db"
n=$(sqlite3 "$db" "select count(*) from backups")
sqlite3 "$db" "drop table attempts; drop table logs; drop table drills; update meta set value = '2' where key = 'schema'"
ok "schema 2 upgraded" catalog --config "$C" list
check "said so" grep -q "catalog index upgraded .* schema=2->6" "$_err"
check "rows kept, attempts table there" test "$(sqlite3 "$db" "select count(*) from backups; select count(*) from attempts; select count(*) from drills; select value from meta where key='schema'" | tr '\n' ' ')" = "$n 0 0 6 "
sqlite3 "$db" "drop table attempts; drop table logs; drop table drills; alter table backups drop column gone_at; update meta set value = '1' where key = 'schema'"
ok "a run on a schema 1 index" backupd --config "$C" run nightly
check "upgraded to 6 and the attempt recorded" test "$(sqlite3 "$db" "select count(*) from attempts; select count(*) from logs; select count(*) from drills; select value from meta where key='schema'" | tr '\n' ' ')" = "1 0 0 6 "
