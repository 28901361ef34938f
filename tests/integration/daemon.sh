#!/usr/bin/env bash
# daemon.sh - `backupd daemon` (docs/RUNBOOK.md "Running the daemon"): jobs run at their
# schedule (`* * * * *`, within the test's minute), at most max-jobs at once, metrics over
# HTTP that promtool accepts (404 elsewhere, 405 for another method), verify = full and
# prune = yes after a run, a failing job notifies a local webhook, SIGHUP with a bad
# configuration keeps the old one and says why, SIGHUP with a good one takes it, status while
# running and after; a run missed while the daemon was down is caught up; kill -9 of the
# daemon mid-backup leaves nothing that blocks its restart (lock, lease); a one-shot run of a
# source the daemon is backing up is refused by the shared lock and recorded; SIGTERM
# mid-backup waits stop-grace, aborts the run, exits 0, and nothing partial is listed.
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/media" "$T/big" "$T/hook" "$T/run"
echo "payload $RANDOM" >"$T/media/f"
echo small >"$T/big/small"
python3 "$COFFER_TESTS/lib/notify_listener.py" "$T/hook" &
listener=$!
on_exit "kill $listener"
for _ in $(seq 100); do [ -f "$T/hook/port" ] && break; sleep 0.05; done
hport=$(cat "$T/hook/port")
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

make_local_conf "$T/d" "$T/media"
C="$T/d/coffer.conf"
base=$(cat "$C")
# conf SCHEDULE SLOW_SCHEDULE: the file the daemon reads; SCHEDULE for jobs nightly and bad
conf() {
    cat >"$C" <<CONF
${base/\[job nightly\]/[job nightly]
schedule = $1
verify = full
prune = yes
keep-last = 1}

[source gone]
type = volume
path = $T/gone

[source big]
type = volume
path = $T/big
compression-level = 19

[job bad]
sources = gone
schedule = $1
notify-url = http://127.0.0.1:$hport/hook

[job slow]
sources = big
schedule = $2
timezone = Europe/Berlin

[daemon]
runtime-dir = $T/run
max-jobs = 1
stop-grace = 3s

[metrics]
listen = 127.0.0.1:$mport
CONF
}
conf @yearly @yearly
B="backupd --config $C"
pyj() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }
jstat() { $B status --json >"$T/st.json" 2>/dev/null && pyj "$T/st.json" "$1"; }
job() { echo "[j for j in d['jobs'] if j['job']=='$1'][0]"; }
dpid=""
start_daemon() {  # start_daemon LOG: a daemon in the background, waits for its state file
    $B daemon >>"$T/out" 2>>"$1" &
    dpid=$!
    for _ in $(seq 150); do [ -f "$T/run/daemon.json" ] && $B status >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
on_exit '[ -n "$dpid" ] && kill -9 $dpid'
wait_for() {  # wait_for SECONDS 'SHELL CODE': until it succeeds (evaluated each time)
    local end=$(($(date +%s) + $1))
    while [ "$(date +%s)" -le "$end" ]; do eval "$2" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}

ok "init" $B init
ok "a one-shot run of the slow job, still small" $B run slow
ok "a one-shot run of job nightly" $B run nightly
first=$(catalog --config "$C" list --source media --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
fails "status without a daemon: exit 1" 1 "no daemon running" $B status
fails "daemon takes no argument" 2 "takes no argument" $B daemon x
fails "--json goes with status" 2 "goes with status" $B --json run nightly

# --- a daemon: status, metrics, reloads ---
check "the daemon starts" start_daemon "$T/log1"
ok "status while running" $B status
check "it lists the jobs with their next run" grep -q "^bad  *@yearly  *2027-01-01T00:00:00Z" "$_out"
check "a second daemon on the same runtime-dir is refused" bash -c "! $B daemon 2>$T/second.err && grep -q 'another backupd daemon runs' $T/second.err"
curl -s -o "$T/m.txt" -w '%{http_code} %{content_type}' "http://127.0.0.1:$mport/metrics" >"$T/m.code"
check "GET /metrics: 200, text format 0.0.4" grep -q "^200 text/plain; version=0.0.4" "$T/m.code"
check "promtool check metrics accepts it" promtool check metrics <"$T/m.txt"
check "coffer_daemon_up 1 and the jobs' next runs" bash -c "grep -q '^coffer_daemon_up 1$' $T/m.txt && grep -q '^coffer_daemon_job_next_run_timestamp_seconds{job=\"bad\"} ' $T/m.txt"
check "the textfile's metrics too" grep -q '^coffer_backup_attempts_total{job="slow",source="big"} 1$' "$T/m.txt"
check "GET /healthz: 200 ok" test "$(curl -s -w ' %{http_code}' "http://127.0.0.1:$mport/healthz")" = "ok
 200"
check "another path: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/")" = 404
check "another method: 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$mport/metrics")" = 405

cp "$C" "$T/good.conf"
sed -i 's/^schedule = @yearly$/schedule = 61 * * * */' "$C"
kill -HUP "$dpid"
check "SIGHUP with a bad file: refused, saying why" wait_for 10 "grep -q \"reload refused.*bad minute field '61'\" $T/log1"
check "the daemon lives on" kill -0 "$dpid"
ok "status says the reload was refused" $B status
check "last reload refused" grep -q "last reload refused" "$_out"
check "metric: last reload failed" bash -c "curl -s http://127.0.0.1:$mport/metrics | grep -q '^coffer_daemon_config_last_reload_success 0$'"
conf '* * * * *' @yearly
kill -HUP "$dpid"
check "SIGHUP with a good file: reloaded" wait_for 10 'grep -q "configuration reloaded" $T/log1'
check "status shows the new schedule of job nightly" wait_for 10 'test "$(jstat "$(job nightly)[\"schedule\"]")" = "* * * * *"'
check "status --json: its next run within the minute" test "$(jstat "0 <= __import__('datetime').datetime.fromisoformat($(job bad)['next_run'].replace('Z','+00:00')).timestamp() - __import__('time').time() <= 61")" = True

# --- the runs of the minute ---
check "within 75 s both jobs ran" wait_for 75 'test "$(jstat "($(job nightly)[\"last_result\"], $(job bad)[\"last_result\"])")" = "('"'ok', 'failed'"')"'
check "max-jobs = 1: job bad started only after job nightly finished" test "$(grep -n 'job nightly finished' "$T/log1" | head -1 | cut -d: -f1)" -lt "$(grep -n 'job bad started' "$T/log1" | head -1 | cut -d: -f1)"
ok "the backup of job nightly is listed" catalog --config "$C" list --source media --json
check "prune = yes, keep-last = 1: the daemon's backup only, the one-shot's pruned" test "$(pyj "$_out" "(len(d), d[0]['id'] != '$first')")" = "(1, True)"
check "the prune is logged" grep -q "prune after job nightly source=media exit=0" "$T/log1"
check "the failing job notified the webhook" wait_for 10 'test "$(pyj <(tail -n1 $T/hook/posts) "(d[\"event\"], d[\"job\"], d[\"source\"])")" = "('"'failure', 'bad', 'gone'"')"'
ok "status after the runs" $B status
check "results and durations in the table" bash -c "grep -q '^nightly .* ok  *[0-9]* s' $_out && grep -q '^bad .* failed ' $_out"
curl -s "http://127.0.0.1:$mport/metrics" >"$T/m.txt"
check "metrics after the runs: promtool accepts them" promtool check metrics <"$T/m.txt"
check "the failure counted" grep -q '^coffer_backup_failures_total{job="bad",source="gone"} 1$' "$T/m.txt"
check "verify = full: the new backup verified after the run" grep -q '^coffer_source_last_verify_success{source="media"} 1$' "$T/m.txt"
check "and logged" grep -q "verify done job=nightly source=media id=.* mode=full" "$T/log1"

# --- kill -9 mid-backup: no lock, no lease blocks the restart; the missed run is caught up ---
kill -9 "$dpid"
wait "$dpid" 2>/dev/null
fails "status after kill -9: no daemon" 1 "no daemon running" $B status
for i in 1 2; do head -c 25000000 /dev/urandom | base64 >"$T/big/r$i"; done
conf @yearly '* * * * *'
check "a restarted daemon catches up the slow job's missed run" start_daemon "$T/log2"
check "the catch-up is logged" wait_for 10 'grep -q "job slow missed its run at .* running it now" $T/log2'
check "the slow job runs" wait_for 20 'test "$(jstat "$(job slow)[\"running\"]")" = True'
sleep 2
kill -9 "$dpid"
wait "$dpid" 2>/dev/null
check "its run died with it" wait_for 10 "! pgrep -f '[b]ackupd --config $C'"
check "the run left its lease" bash -c "ls $T/d/repo/locks | grep -q source-big"
check "the daemon restarts" start_daemon "$T/log3"
check "the slow job runs again" wait_for 20 'test "$(jstat "$(job slow)[\"running\"]")" = True'
check "the stale lease was taken over (a dead pid)" wait_for 10 'grep -q "taking over stale lock locks/source-big" $T/log3'

# a one-shot run waits for the lock (up to a minute) while the daemon's run holds it: stopped
# after 5 s, it has done nothing (a slow run on a busy machine may end within the minute)
nb=$(ls "$T/d/repo/backups/big" | wc -l)
timeout 5 $B run slow >"$T/oneshot.out" 2>"$T/oneshot.err"
check "a one-shot run of the same source meanwhile waits for the shared lock" test $? -eq 124
check "...naming its holder" grep -q "waiting for lock source=big: .* held by backup on" "$T/oneshot.err"
check "...and starts no backup of its own" test "$(ls "$T/d/repo/backups/big" | wc -l)" -eq "$nb"
check "the daemon's run goes on" test "$(jstat "$(job slow)['running']")" = True

# --- SIGTERM mid-backup ---
sleep 1
kill -TERM "$dpid"
t0=$(date +%s)
wait "$dpid"
rc=$?
check "SIGTERM: exit 0" test "$rc" = 0
dpid=""
check "after the 3 s stop-grace, not much more" test $(($(date +%s) - t0)) -ge 3 -a $(($(date +%s) - t0)) -le 15
check "the run was aborted, logged" grep -q "job slow outlasted the stop-grace: aborting it" "$T/log3"
check "and recorded as a failed attempt" test "$(sqlite3 "$T/d/catalog.db" "select ok, error like 'aborted%' from attempts where job='slow' order by rowid desc limit 1")" = "0|1"
fails "status after SIGTERM: no daemon" 1 "no daemon running" $B status
check "the state file is gone" test ! -e "$T/run/daemon.json"
ok "catalog list" catalog --config "$C" list --json
check "nothing partial: the first slow backup and the one of media only" python3 -c "
import json; rows=json.load(open('$_out')); assert sorted(r['source'] for r in rows)==['big','media'], rows"
ok "catalog verify --all" catalog --config "$C" verify --all
check "nothing damaged" grep -q "2 backups verified, 0 damaged" "$_out"
