#!/usr/bin/env bash
# drill.sh - `restore drill` end to end from a wiped host state: a job of a volume, a
# PostgreSQL database, a MariaDB database and a Redis instance is backed up, then the catalog
# index is deleted and every server stopped; the drill starts scratch servers of its own,
# restores the four into them, checks each (pg_amcheck and the row counts recorded at backup
# time, CHECK TABLE and the row counts of the MariaDB dump, counted while it loads (tables
# whose rows hold ");", quotes, backslashes and NULs, an empty table, a MERGE table whose
# rows the dump does not hold), the key count and the RDB's checksum, file count and bytes,
# a check-sql), rebuilds the deleted catalog index from the repository, and gives the same
# result again with the index present,
# writes the report as JSON and Markdown, keeps it in the repository (catalog drills lists it,
# catalog status flags a failed or overdue drill, the catalog index records it and the metrics
# textfile tells it, also after the index is rebuilt from drills/) and leaves nothing running. A damaged
# object of the PostgreSQL backup, a check-sql that does not match, an RTO objective of 1 s
# and a scratch server that cannot start each fail the drill, naming what failed.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

start_redis || exit 1
start_postgres || exit 1
start_mariadb || exit 1
app_four "$T/c" || exit 1
my_sql shop <<'SQL' || exit 1
CREATE TABLE `odd``name` (id int PRIMARY KEY, s text, b blob) ENGINE=InnoDB;
INSERT INTO `odd``name` VALUES (1, 'it''s (a) test);', 0x00), (2, 'back\\slash \' q', NULL),
  (3, CONCAT('nul', CHAR(0), '),('), 0x28293B27);
CREATE TABLE empty_t (x int);
CREATE TABLE m1 (a int) ENGINE=MyISAM;
CREATE TABLE m2 (a int) ENGINE=MyISAM;
INSERT INTO m1 VALUES (1), (2);
INSERT INTO m2 VALUES (3);
CREATE TABLE mall (a int) ENGINE=MRG_MyISAM UNION=(m1, m2);
SQL
conf="$T/c/coffer.conf"
echo "drill-every = 90d" >>"$conf"
# a scratch server of this test's drills (all under $T), not one of another test's drill that
# runs at the same time; the bracket keeps pgrep from matching the command line of the check
drill_running="pgrep -f '$T/.*[c]offer-drill-' >/dev/null"
# a job of the volume alone runs without the servers, and writes the metrics textfile
mkdir -p "$T/prom"
printf '\n[job vol]\nsources = media\n\n[metrics]\ntextfile-dir = %s\n' "$T/prom" >>"$conf"
prom="$T/prom/coffer.prom"
# the check-sql of each database source
sed -i "/^\[source pg\]/a check-sql = SELECT count(*) FROM orders WHERE id <= 100\ncheck-expect = 100" "$conf"
sed -i "/^\[source my\]/a check-sql = SELECT max(id) FROM items\ncheck-expect = 300" "$conf"
C="--config $conf"
ok "backups of the four" bash -c "backupd $C run app"
check "the postgres backup recorded exact row counts" \
    test "$(latest_info "$conf" pg 'i["databases"][0]["row_counts"]["public.orders"]')" = 700
check "the volume backup recorded its file bytes" test "$(latest_info "$conf" media 'i["file_bytes"]')" = 70004
fails "catalog status: a job with drill-every and no drill is flagged" 1 "" catalog $C status
check "status names the missing drill" grep -q "app.*drill.*NEVER" "$_out"

# --- the wiped host: no index, no servers ---
rm -f "$T/c/catalog.db" "$T/c/catalog.db-wal" "$T/c/catalog.db-shm"
stop_postgres; stop_mariadb; stop_redis
ok "restore drill --job from a wiped host passes" \
    restore $C drill --job app --report "$T/r.json" --report "$T/r.md" --scratch-dir "$T"
cp "$_out" "$T/drill1.out"
check "the summary says passed" grep -q "^drill .* of job.app at latest.*\|: passed$" "$T/drill1.out"
check "the JSON report: passed, four sources, every check passed or named not checked" python3 - "$T/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["result"] == "passed", r
assert [s["name"] for s in r["sources"]] == ["media", "pg", "my", "cache"]
checks = {(s["name"], c["name"]): c["result"] for s in r["sources"] for c in s["checks"]}
want = {("media", "file count"): "passed", ("media", "bytes"): "passed",
        ("media", "file hashes"): "passed", ("pg", "pg_amcheck"): "passed",
        ("pg", "row counts"): "passed", ("pg", "check-sql"): "passed",
        ("my", "CHECK TABLE"): "passed", ("my", "row counts"): "passed",
        ("my", "check-sql"): "passed", ("cache", "key count"): "passed",
        ("cache", "RDB checksum"): "passed"}
assert checks == want, checks
for s in r["sources"]:
    assert s["backup"] and s["restore_ms"] >= 0 and s["result"] == "passed", s
assert r["host"] and r["coffer_version"] and r["rto"]["measured_ms"] > 0
# every regular file of the volume was hashed, not none
media = [s for s in r["sources"] if s["name"] == "media"][0]
fc = [c for c in media["checks"] if c["name"] == "file count"][0]["detail"]
fh = [c for c in media["checks"] if c["name"] == "file hashes"][0]["detail"]
assert fh.startswith(fc.split()[0] + " files, each as the backup's index"), (fc, fh)
# the MariaDB rows as counted in the dump: items 300, odd`name 3, empty_t 0, m1 2, m2 1 (mall
# holds m1's and m2's rows, which the dump writes once, under them)
my = [s for s in r["sources"] if s["name"] == "my"][0]
rc = [c for c in my["checks"] if c["name"] == "row counts"][0]["detail"]
assert rc == "database shop: 5 tables, 306 rows, as counted in the backup", rc
PY
check "the deleted catalog index was rebuilt from the repository" \
    grep -q "^catalog index .* was missing: rebuilt from the repository ([1-9][0-9]* backups" "$T/drill1.out"
check "the rebuilt index holds every backup and the drill" test "$(sqlite3 "$T/c/catalog.db" \
    'select count(*) from backups')" = 4 -a "$(sqlite3 "$T/c/catalog.db" 'select count(*) from drills')" = 1
# the same drill with the index present: the same result, check by check
ok "restore drill --job with the index present passes" \
    restore $C drill --job app --report "$T/r2.json" --scratch-dir "$T"
check "no rebuild when the index is there" bash -c "! grep -q 'was missing' '$_out'"
check "the same result as from the wiped host, check by check" python3 - "$T/r.json" "$T/r2.json" <<'PY'
import json, sys
def checks(p):
    r = json.load(open(p))
    return r["result"], [(s["name"], s["backup"], c["name"], c["result"], c["detail"])
                         for s in r["sources"] for c in s["checks"]]
a, b = checks(sys.argv[1]), checks(sys.argv[2])
assert a == b, (a, b)
PY
cat >"$T/prom.py" <<'PY'
# prom.py FILE: the samples of a textfile as {'name{labels}': value}
import sys, calendar, time, json
def samples(path):
    v = {}
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            k, x = line.rsplit(" ", 1)
            v[k] = float(x)
    return v
def unix(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
PY
check "the Markdown report holds every check" bash -c "grep -c '^| \(media\|pg\|my\|cache\) | ' '$T/r.md' | grep -qx 15"
check "the Markdown report's title says passed" grep -q "^# coffer drill .*: passed$" "$T/r.md"
check "nothing left running in the scratch directory" bash -c "! $drill_running"
check "the scratch directory is removed" bash -c "! ls -d '$T'/coffer-drill-* 2>/dev/null"
check "the report is stored in the repository under drills/" test -n "$(repo_keys "$T/c" drills/job.app/)"
ok "catalog drills lists it" catalog $C drills
check "catalog drills: the drill, passed" grep -q "job.app .* passed" "$_out"
ok "catalog status: the drill is recent and passed" catalog $C status
check "status shows the last drill" grep -q "app .*drill.*passed" "$_out"

# --- the drill in the metrics: `restore drill` recorded it in the index it created ---
ok "backupd run vol writes the metrics textfile" backupd $C run vol
check "promtool check metrics accepts the drill metrics" promtool check metrics <"$prom"
check "the textfile: the passed drill of job app, its time and RTO, not overdue" \
    python3 - "$T/prom.py" "$prom" "$T/r2.json" <<'PY'
import sys, json; exec(open(sys.argv[1]).read())
v = samples(sys.argv[2]); r = json.load(open(sys.argv[3]))
assert v['coffer_drill_last_success{job="app"}'] == 1, v
assert v['coffer_drill_last_timestamp_seconds{job="app"}'] == unix(r["finished"]), (v, r["finished"])
assert abs(v['coffer_drill_rto_seconds{job="app"}'] - r["rto"]["measured_ms"] / 1000) < 0.001, v
assert v['coffer_drill_overdue{job="app"}'] == 0, v
# job vol: no drill and no drill-every, so nothing; no drill id anywhere
assert not [k for k in v if k.startswith("coffer_drill_") and ('"vol"' in k or "id=" in k)], v
PY

# --- failures ---
cp "$conf" "$T/c/bad-sql.conf"
sed -i "s/^check-expect = 100$/check-expect = 101/" "$T/c/bad-sql.conf"
fails "a check-sql that does not match fails the drill" 1 "drill" \
    restore --config "$T/c/bad-sql.conf" drill --source pg --scratch-dir "$T"
check "the failure names the source and the check" grep -q "FAILED: source pg: check-sql: database app: SELECT count(\*) FROM orders WHERE id <= 100 returned '100', check-expect is '101'" "$_out"

# rto = 1s of a PostgreSQL source: its scratch server alone (initdb, start) takes longer
cp "$conf" "$T/c/rto.conf"
sed -i "/^\[source pg\]/a rto = 1s" "$T/c/rto.conf"
fails "rto = 1s: the violation fails the drill" 1 "drill" \
    restore --config "$T/c/rto.conf" drill --source pg --report "$T/rto.md" --scratch-dir "$T"
check "the violation is named" grep -q "FAILED: source pg: RTO .* s is over its objective rto = 1 s" "$_out"
check "the report says it" grep -q "objective 1 s: FAILED" "$T/rto.md"

# a scratch server that cannot start: a socket path longer than unix sockets allow
long="$T/$(printf 'x%.0s' {1..90})"
mkdir -p "$long"
fails "a scratch server that cannot start fails the drill" 1 "drill" \
    restore $C drill --source cache --scratch-dir "$long"
check "the failure names the source and the server" grep -q "FAILED: source cache: scratch redis server did not start: its socket path" "$_out"
check "nothing left running after the failed start" bash -c "! $drill_running"
check "its scratch directory is removed" bash -c "! ls -d '$long'/coffer-drill-* 2>/dev/null"

# interrupted (SIGINT, as Ctrl-C) while its scratch PostgreSQL runs
mkdir -p "$T/int"
restore $C drill --source pg --scratch-dir "$T/int" >"$T/int.out" 2>&1 &
rpid=$!
on_exit "kill $rpid"
for ((i = 0; i < 1200; i++)); do
    ls "$T"/int/coffer-drill-*/postgres-pg/.s.PGSQL.5432 >/dev/null 2>&1 && break
    sleep 0.05
done
# (what the checks of nothing left running look for is there while a drill runs)
check "the running scratch PostgreSQL is seen" bash -c "$drill_running"
kill -INT "$rpid"
wait "$rpid"
check "SIGINT ends the drill with exit 130" test $? = 130
check "the scratch PostgreSQL was stopped" bash -c "! $drill_running"
check "its scratch directory is removed" bash -c "! ls -d '$T'/int/coffer-drill-* 2>/dev/null"

# a damaged object of the PostgreSQL backup
id=$(repo_backups "$T/c" pg | tail -n 1)
obj="backups/pg/$id/data/00000000"
size=$(stat -c %s "$T/c/repo/$obj")
printf '\x00\x01' | dd of="$T/c/repo/$obj" bs=1 seek=$((size - 40)) conv=notrunc status=none
fails "a damaged object fails the drill" 1 "drill" restore $C drill --job app --report "$T/bad.json" --scratch-dir "$T"
check "the failure names the source and the object" grep -Eq "FAILED: source pg: restore failed: .*(pg/$id|data/0|object 0)" "$_out"
check "the other sources still passed" python3 -c "
import json; r = json.load(open('$T/bad.json'))
assert [s['result'] for s in r['sources']] == ['passed', 'FAILED', 'passed', 'passed'], r"
ok "catalog drills lists all of them" catalog $C drills
check "catalog drills: the failed drills too" test "$(grep -c FAILED "$_out")" -ge 2
fails "catalog status flags the failed last drill" 1 "" catalog $C status
check "status names the failed drill" grep -q "app .*drill.*FAILED" "$_out"

# --- the failed drills in the metrics, then again from an index rebuilt from drills/ ---
ok "backupd run vol after the failed drills" backupd $C run vol
check "promtool accepts the textfile after failed drills" promtool check metrics <"$prom"
check "the textfile: job app's last drill failed, so did source pg's and cache's" \
    python3 - "$T/prom.py" "$prom" "$T/bad.json" <<'PY'
import sys, json; exec(open(sys.argv[1]).read())
v = samples(sys.argv[2]); r = json.load(open(sys.argv[3]))
assert v['coffer_drill_last_success{job="app"}'] == 0, v
assert v['coffer_drill_last_timestamp_seconds{job="app"}'] == unix(r["finished"]), v
assert abs(v['coffer_drill_rto_seconds{job="app"}'] - r["rto"]["measured_ms"] / 1000) < 0.001, v
assert v['coffer_drill_overdue{job="app"}'] == 0, v
assert v['coffer_drill_last_success{source="pg"}'] == 0, v
assert v['coffer_drill_last_success{source="cache"}'] == 0, v
assert v['coffer_drill_rto_seconds{source="pg"}'] > 1, v    # the rto = 1s drill was the last
assert 'coffer_drill_last_success{source="media"}' not in v, v
PY
grep '^coffer_drill_' "$prom" >"$T/drills.before"
rm -f "$T/c/catalog.db" "$T/c/catalog.db-wal" "$T/c/catalog.db-shm"
ok "catalog list builds a new index" catalog $C list
check "the index learnt every drill report under drills/" \
    test "$(sqlite3 "$T/c/catalog.db" 'select count(*) from drills')" = "$(repo_keys "$T/c" drills/ | wc -l)"
check "with their results" \
    test "$(sqlite3 "$T/c/catalog.db" "select count(*) from drills where subject = 'job.app' and ok = 1")" = 2
ok "backupd run vol on the rebuilt index" backupd $C run vol
check "the same drill metrics from the rebuilt index" diff "$T/drills.before" <(grep '^coffer_drill_' "$prom")
check "nothing left running at the end" bash -c "! $drill_running"
# the Markdown report of the four-source drill, for whoever asked for it (docs, notes)
[ -z "${DRILL_REPORT_OUT:-}" ] || cp "$T/r.md" "$DRILL_REPORT_OUT"
