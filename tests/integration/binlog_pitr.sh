#!/usr/bin/env bash
# binlog_pitr.sh - MariaDB point-in-time recovery against a real MariaDB 10.11: binlog-sync
# archives closed binlog files (twice is harmless); a dump taken while a writer runs is
# restored to a second between two commits one second apart, across at least three binlog
# files, in ROW and then MIXED format, into another database name (the original untouched)
# on a server with gtid_strict_mode on, and to a file; the dump's recorded file is not the
# first archived one (replay must start there); a binlog purged before it was archived is a
# gap (binlog-sync exits 1, a restore across it is refused before anything is loaded, naming
# the last reachable moment); a drill to a moment replays into its scratch server (not the
# original) and does not check the dump's row counts there; check-config names missing privileges; binlog-follow keeps the
# archive within binlog-seal-interval plus a few seconds of a steady writer (measured),
# survives a server restart without a gap, and seals on SIGTERM.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

# binary logging is off in Debian's stock files: PITR needs it, with a server id; ROW first
# (binlog_format is switched to MIXED below); gtid_strict_mode so that a replay that logged
# the original server's GTIDs again would be refused (WAL-G issue 2556)
MY_CONF_EXTRA='log-bin = binlog
server-id = 1
binlog_format = ROW
gtid_strict_mode = ON' start_mariadb || exit 1
db_conf "$T/c"
conf="$T/c/coffer.conf"
sed -i '/^type = mariadb$/a binlog-archive = yes\nbinlog-seal-interval = 3s' "$conf"
export TMPDIR="$T/tmp"   # option files and fetched binlogs: checked empty at the end
mkdir -p "$TMPDIR"
repo="$T/c/repo"
rfc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# purge every binlog file but the current one; the server keeps a file until its binlog
# checkpoint has passed (just after a FLUSH it may not have), so try again for a while
purge_closed() {
    local cur
    cur=$(my_sql -N -e "SHOW MASTER STATUS" | cut -f1)
    for _ in $(seq 100); do
        my_sql -e "PURGE BINARY LOGS TO '$cur'"
        [ "$(my_sql -N -e "SHOW BINARY LOGS" | head -n 1 | cut -f1)" = "$cur" ] && return 0
        sleep 0.1
    done
    return 1
}

# --- configuration ---
sed 's/^binlog-seal-interval = 3s$/binlog-mode = sometimes/' "$conf" >"$T/bad.conf"
fails "binlog-mode must be sync or follow" 2 "binlog-mode: 'sometimes' is neither sync nor follow" backupd --config "$T/bad.conf" binlog-sync my
my_sql -e "CREATE USER 'weak'@'localhost' IDENTIFIED BY 'weakpass'; GRANT SELECT, RELOAD ON *.* TO 'weak'@'localhost'"
(umask 077; echo weakpass >"$T/weak.pass")
sed -e "s|^user = $MY_USER\$|user = weak|" -e "s|^password-file = $MY_PASSFILE\$|password-file = $T/weak.pass|" "$conf" >"$T/weak.conf"
fails "check-config names the missing privileges" 1 "the user lacks REPLICATION SLAVE; the user lacks BINLOG MONITOR" backupd --config "$T/weak.conf" check-config
ok "check-config passes for a user with them" backupd --config "$conf" check-config
fails "binlog-sync refuses a source without binlog-archive" 2 "does not archive binlogs" backupd --config "$(sed '/^binlog-archive/d' "$conf" >"$T/noarch.conf"; echo "$T/noarch.conf")" binlog-sync my

# --- before the dump: files the replay must not start from (WAL-G issues 1445, 2555) ---
my_sql -e "CREATE DATABASE shop; CREATE TABLE shop.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40)) ENGINE=InnoDB"
my_sql -e "INSERT INTO shop.t (v, note) VALUES (0, 'before'), (0, 'before'); FLUSH BINARY LOGS; INSERT INTO shop.t (v, note) VALUES (0, 'before'); FLUSH BINARY LOGS"
ok "binlog-sync archives the closed files" backupd --config "$conf" binlog-sync my
check "each closed file is one object under logs/my/binlog/" test -f "$repo/logs/my/binlog/binlog.000002"
ok "binlog-sync a second time is harmless" backupd --config "$conf" binlog-sync my
ok "the reader written from FORMAT.md reads an archived binlog file" python3 "$here/lib/coffer_reader.py" --log "$repo" "$T/c/repo.key" my binlog.000002 "$T/binlog.000002"
check "...byte for byte the server's" cmp "$T/binlog.000002" "$MY_DATA/binlog.000002"

# --- a dump while a writer inserts ---
writer() {
    local i=0
    while :; do
        printf "INSERT INTO shop.t (v, note) VALUES (0, 'writer %d');\n" "$i" || return
        i=$((i + 1))
    done
}
writer | mariadb --no-defaults -S "$MY_SOCK" -uroot shop 2>/dev/null &
wpid=$!
on_exit "kill $wpid"
sleep 0.5
ok "backup while a writer inserts" backupd --config "$conf" run my
kill "$wpid"; wait "$wpid" 2>/dev/null
dumpfile=$(latest_info "$conf" my '[d for d in i["databases"] if d["name"]=="shop"][0]["binlog_file"]')
check "the dump recorded a file after the first archived ones ($dumpfile)" test "$dumpfile" != binlog.000001

# marker K committed alone in its second S_K: a moment S_K + 1 lies between K and K+1
declare -A at
my_marker 1; my_marker 2
my_sql -e "FLUSH BINARY LOGS"
my_marker 3; my_marker 4
my_sql -e "FLUSH BINARY LOGS"
my_marker 5
ok "binlog-sync after the markers" backupd --config "$conf" binlog-sync my
my_sql -N -e "CHECKSUM TABLE shop.t" >"$T/orig.sum"

# marker 5 is in the third file from the dump's: the replay spans three files
T3=$(rfc $((at[4] + 1)))
ok "catalog at answers without restoring" catalog --config "$conf" at "$T3" --source my
check "...that the archive reaches the moment from the dump's file" grep -q "binlog   shop: reachable, $dumpfile \.\. binlog\.[0-9]* (3 files)" "$_out"
ok "plan of a restore to $T3 (dry run)" restore --config "$conf" --source my --at "$T3" --database shop --into-db shop_pitr --dry-run
check "the plan starts the replay at the dump's recorded file" grep -q "binlog   shop: $dumpfile:[0-9]* \.\. binlog\.[0-9]* ([3-9] files)" "$_out"
check "the plan names the last event it will apply" grep -q "last     event applied to shop: GTID 0-1-[0-9]* at $(rfc "${at[4]}")" "$_out"
ok "restore to a second between markers 4 and 5, into another name" restore --config "$conf" --source my --at "$T3" --database shop --into-db shop_pitr
check "the result reports the time of the last event applied" grep -q "last event applied at $(rfc "${at[4]}")" "$_out"
check "exactly the rows committed before that second" test "$(my_sql -N -e 'SELECT COUNT(*), COALESCE(SUM(v),0) FROM shop_pitr.t')" = "$(my_rows_before 5)"
check "the writer's rows and markers 1-4 are there, 5 is not" test "$(my_sql -N -e 'SELECT GROUP_CONCAT(v ORDER BY v) FROM shop_pitr.t WHERE v > 0')" = "1,2,3,4"
check "the original is untouched" test "$(my_sql -N -e 'CHECKSUM TABLE shop.t')" = "$(cat "$T/orig.sum")"
check "the replay logged no GTID again (gtid_strict_mode did not refuse it)" test "$(my_sql -N -e 'SELECT COUNT(*) FROM shop_pitr.t')" -gt 0
# a drill to that moment: the rows counted in the dump are not what the replay leaves
ok "a drill of the source to $T3 passes" restore --config "$conf" drill --source my --at "$T3" --report "$T/pitr-drill.json" --scratch-dir "$T"
check "...its row counts not checked: the replay changed them" python3 - "$T/pitr-drill.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rc = [c for s in r["sources"] for c in s["checks"] if c["name"] == "row counts"]
assert rc and all(c["result"] == "not checked" and "replayed events change the counts" in c["detail"]
                  for c in rc if c["detail"].startswith("database shop:")), rc
assert any(c["detail"].startswith("database shop:") for c in rc), rc
PY
check "...and the drill's replay went to its scratch server, not the original" test "$(my_sql -N -e 'CHECKSUM TABLE shop.t')" = "$(cat "$T/orig.sum")"

# a replay that fails: the database this restore created is dropped again
mkdir -p "$T/fakebin"
ln -s "$(command -v mariadb)" "$T/fakebin/mariadb"
ln -s "$(command -v mariadb-dump)" "$T/fakebin/mariadb-dump"
printf '#!/bin/sh\necho "mariadb-binlog: simulated failure" >&2\nexit 1\n' >"$T/fakebin/mariadb-binlog"
chmod +x "$T/fakebin/mariadb-binlog"
sed "/^type = mariadb\$/a bin-dir = $T/fakebin" "$conf" >"$T/fake.conf"
fails "a replay that fails is an error naming the cause" 1 "simulated failure" restore --config "$T/fake.conf" --source my --at "$T3" --database shop --into-db shop_fail
check "...and the database it created is dropped again" test -z "$(my_sql -N -e "SHOW DATABASES LIKE 'shop_fail'")"

T1=$(rfc $((at[1] + 1)))
ok "restore to between markers 1 and 2 as a file" restore --config "$conf" --source my --at "$T1" --database shop --to-file "$T/shop.sql"
check "the file holds the dump, then the replay" grep -q "coffer: binlog events replayed" "$T/shop.sql"
check "...without the original server's GTIDs" test -z "$(grep 'SET @@session.gtid_seq_no' "$T/shop.sql")"
check "the plan says which database the replay part names" grep -q "the replay after the dump names database shop itself" "$_out"

# --- a dump whose snapshot is later than its id's second (docs/PITR.md, step 1) ---
# the first dump (above) started before its own id second ended and finished at or after it:
# nothing is certainly before that second, so a replay to it has no dump to start from
id0=$(catalog --config "$conf" list --source my --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
fin0=$(catalog --config "$conf" list --source my --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["finished"])')
idsec() { python3 -c 'import calendar,time,sys; print(calendar.timegm(time.strptime(sys.argv[1][:16], "%Y%m%dT%H%M%SZ")))' "$1"; }
t0=$(rfc "$(idsec "$id0")")
fails "restore --at the first dump's own second is refused: its snapshot may be later" 1 "finished only at $fin0" restore --config "$conf" --source my --at "$t0" --database shop --into-db shop_early
check "...naming the dump" grep -q "no dump certainly taken before $t0 to replay its binlog from: dump $id0 started before it" "$_err"
check "...before anything is loaded" test -z "$(my_sql -N -e "SHOW DATABASES LIKE 'shop_early'")"
fails "catalog at that second: none, the same reason, exit 1" 1 "dump $id0 started before it but finished only at $fin0" catalog --config "$conf" at "$t0" --source my
# a dump slowed between its id and its snapshot (as behind a lock wait): marker 11 commits
# in between, so the dump holds it although its id is before it
mkdir -p "$T/slowbin"
ln -s "$(command -v mariadb)" "$T/slowbin/mariadb"
ln -s "$(command -v mariadb-binlog)" "$T/slowbin/mariadb-binlog"
printf '#!/bin/sh\ntouch "%s"\nsleep 4\nexec "%s" "$@"\n' "$T/slow.started" "$(command -v mariadb-dump)" >"$T/slowbin/mariadb-dump"
chmod +x "$T/slowbin/mariadb-dump"
sed "/^type = mariadb\$/a bin-dir = $T/slowbin" "$conf" >"$T/slow.conf"
backupd --config "$T/slow.conf" run my >"$T/slow.log" 2>&1 &
slowpid=$!
on_exit "kill $slowpid"
for _ in $(seq 300); do [ -e "$T/slow.started" ] && break; sleep 0.1; done
my_marker 11
wait "$slowpid"
check "the slowed dump succeeds" test $? -eq 0
ok "binlog-sync after marker 11" backupd --config "$conf" binlog-sync my
ids=$(catalog --config "$conf" list --source my --json | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v[-1]["id"], v[-1]["finished"])')
slow=${ids% *} slowfin=${ids#* }
check "the slowed dump's id ($slow) is at or before marker 11's second" test "$(idsec "$slow")" -le "${at[11]}"
ok "restore --at latest: the slowed dump alone" restore --config "$conf" --source my --at latest --database shop --into-db shop_snap
check "...holds marker 11: its snapshot is after marker 11's second (the case this tests)" test "$(my_sql -N -e 'SELECT COUNT(*) FROM shop_snap.t WHERE v = 11')" = 1
T11=$(rfc "${at[11]}")   # marker 11 commits 0.2 s into this second: after the moment
ok "restore --at a moment between the slowed dump's id and its snapshot" restore --config "$conf" --source my --at "$T11" --database shop --into-db shop_slow
check "...passes over the slowed dump in the plan, naming its finish" grep -q "skipped  $slow: finished $slowfin, not before the requested time" "$_out"
check "...and replays from the dump before it" grep -q "backup   $id0, " "$_out"
check "...so marker 11, committed after the moment, is not there" test "$(my_sql -N -e 'SELECT COUNT(*) FROM shop_slow.t WHERE v = 11')" = 0
check "...exactly the rows committed before it" test "$(my_sql -N -e 'SELECT COUNT(*), COALESCE(SUM(v),0) FROM shop_slow.t')" = "$(my_rows_before 11)"
ok "catalog at the same moment" catalog --config "$conf" at "$T11" --source my
check "...names the same dump" grep -Eq "^my +$id0 " "$_out"

# --- MIXED: statements logged as statements, replayed into another name ---
my_sql -e "SET GLOBAL binlog_format = 'MIXED'"
my_marker 6; my_marker 7
my_sql -e "FLUSH BINARY LOGS"
my_marker 8
ok "binlog-sync after the MIXED markers" backupd --config "$conf" binlog-sync my
T7=$(rfc $((at[7] + 1)))
my_sql -N -e "CHECKSUM TABLE shop.t" >"$T/orig2.sum"
fails "MIXED: a restore into another name is refused (statements could change the original)" 2 "logged as SQL" restore --config "$conf" --source my --at "$T7" --database shop --into-db shop_mixed
check "...naming a statement" grep -q "such as 'INSERT INTO t" "$_err"
check "...before anything is loaded" test -z "$(my_sql -N -e "SHOW DATABASES LIKE 'shop_mixed'")"
check "MIXED: the original is untouched" test "$(my_sql -N -e 'CHECKSUM TABLE shop.t')" = "$(cat "$T/orig2.sum")"
want7=$(my_rows_before 8)
# into the same name on a scratch server, as the refusal's HINT says
my1=("$MY_SOCK" "$MY_DATA" "$MY_PID" "$MY_PASSFILE")
start_mariadb scratch || exit 1
sed -e "s|^socket = ${my1[0]}\$|socket = $MY_SOCK|" -e "s|^password-file = ${my1[3]}\$|password-file = $MY_PASSFILE|" "$conf" >"$T/scratch.conf"
fails "check-config says log_bin is off on a server without it" 1 "log_bin is off on the server" backupd --config "$T/scratch.conf" check-config
ok "MIXED: restore to between markers 7 and 8 into the same name on a scratch server" restore --config "$T/scratch.conf" --source my --at "$T7" --database shop --into-db SAME
check "MIXED: exactly the rows committed before that second" test "$(my_sql -N -e 'SELECT COUNT(*), COALESCE(SUM(v),0) FROM shop.t')" = "$want7"
stop_mariadb
MY_SOCK=${my1[0]} MY_DATA=${my1[1]} MY_PID=${my1[2]} MY_PASSFILE=${my1[3]}
my_sql -e "SET GLOBAL binlog_format = 'ROW'"   # new sessions: the rest is ROW again

# --- a binlog purged before it was archived ---
my_sql -e "FLUSH BINARY LOGS"
my_marker 9
my_sql -e "FLUSH BINARY LOGS"
purge_to=$(my_sql -N -e "SHOW MASTER STATUS" | cut -f1)
purge_closed
my_marker 10
fails "binlog-sync reports the purged files as a gap and exits 1" 1 "binlog gap source=my" backupd --config "$conf" binlog-sync my
T10=$(rfc $((at[10] + 1)))
fails "a restore across the gap is refused, naming the last reachable moment" 1 "has a gap" restore --config "$conf" --source my --at "$T10" --database shop --into-db shop_gap
check "the refusal names the last moment reachable" grep -q "the last moment reachable is 20" "$_err"
check "nothing was loaded" test -z "$(my_sql -N -e "SHOW DATABASES LIKE 'shop_gap'")"
fails "catalog at across the gap exits 1" 1 "" catalog --config "$conf" at "$T10" --source my
check "...naming the missing file and the last reachable moment" grep -q "NOT reachable: 'binlog.0000[0-9]*' was never archived (a gap); the last moment reachable is 20" "$_out"
ok "a moment before the gap is still reachable" restore --config "$conf" --source my --at "$T3" --database shop --into-db shop_again
check "...with the same rows" test "$(my_sql -N -e 'SELECT COUNT(*), COALESCE(SUM(v),0) FROM shop_again.t')" = "$(my_rows_before 5)"

# --- binlog-follow: lag under a steady writer, a server restart, SIGTERM ---
ok "a dump after the gap" backupd --config "$conf" run my
fails "a moment after the last archived event is refused" 1 "ends before" restore --config "$conf" --source my --at "$(rfc $(($(date +%s) + 30)))" --database shop --into-db shop_late
# the newest event time among the archived objects (their ids are in clear in the headers)
newest_event() {
    python3 - "$repo/logs/my/binlog" <<'PY'
import os, re, sys
best = 0
for f in os.listdir(sys.argv[1]):
    try:   # an object being written is a temporary file, renamed or removed at any moment
        with open(os.path.join(sys.argv[1], f), 'rb') as h:
            hdr = h.read(300)
    except FileNotFoundError:
        continue
    ident = hdr[17:17 + hdr[16]].decode()
    m = re.search(r';events=\d+\.\.(\d+)', ident)
    if m:
        best = max(best, int(m.group(1)))
print(best)
PY
}
backupd --config "$conf" binlog-follow my 2>"$T/follow.log" &
fpid=$!
on_exit "kill $fpid"
steady() { while :; do printf "INSERT INTO shop.t (v, note) VALUES (0, 'steady');\nDO SLEEP(0.2);\n" || return; done; }
steady | mariadb --no-defaults -S "$MY_SOCK" -uroot shop 2>/dev/null &
spid=$!
on_exit "kill $spid"
sleep 6
maxlag=0
for _ in $(seq 12); do
    lag=$(($(date +%s) - $(newest_event)))
    [ "$lag" -gt "$maxlag" ] && maxlag=$lag
    sleep 1
done
echo "# binlog-follow: the archive was at most ${maxlag}s behind a steady writer (seal interval 3s)"
check "binlog-follow keeps the archive within the seal interval plus 3 s (${maxlag}s)" test "$maxlag" -le 6
# a network cut: the connection of mariadb-binlog ends (here, the process itself)
cut_at=$(date +%s)
kill -9 "$(wait_child "$fpid" mariadb-binlog)"
for _ in $(seq 60); do [ "$(newest_event)" -ge $((cut_at + 2)) ] && break; sleep 0.5; done
check "binlog-follow reads on after its mariadb-binlog was cut off" test "$(newest_event)" -ge $((cut_at + 2))
check "...and says so" grep -q "mariadb-binlog ended" "$T/follow.log"
kill "$spid"; wait "$spid" 2>/dev/null
restart_mariadb || exit 1
my_marker 11
for _ in $(seq 60); do [ "$(newest_event)" -ge "${at[11]}" ] && break; sleep 0.5; done
check "binlog-follow went on after a server restart" test "$(newest_event)" -ge "${at[11]}"
my_marker 12
# the follower seals on SIGTERM what mariadb-binlog has received: marker 12 first (a restore
# to between 11 and 12 needs an event after the moment)
for _ in $(seq 60); do [ "$(newest_event)" -ge $((at[11] + 1)) ] && break; sleep 0.5; done
kill -TERM "$fpid"
wait "$fpid"
check "binlog-follow exits 0 on SIGTERM" test $? -eq 0
check "the log says it sealed" grep -q "binlog-follow stop source=my: sealed" "$T/follow.log"
check "no gap across the restart: the whole files archived since the purge are consecutive" python3 - "$repo/logs/my/binlog" "$purge_to" <<'PY'
import os, sys
first = int(sys.argv[2].rsplit('.', 1)[1])
seqs = sorted(int(f.rsplit('.', 1)[1]) for f in os.listdir(sys.argv[1]) if '.partial-' not in f)
seqs = [s for s in seqs if s >= first]
sys.exit(0 if seqs and seqs == list(range(first, seqs[-1] + 1)) else 1)
PY
# the partial object of the file being written serves a restore (T11: an event after it exists)
T11=$(rfc $((at[11] + 1)))
ok "restore to between markers 11 and 12 from the followed archive" restore --config "$conf" --source my --at "$T11" --database shop --into-db shop_follow
check "follow: exactly the rows committed before that second" test "$(my_sql -N -e 'SELECT COUNT(*), COALESCE(SUM(v),0) FROM shop_follow.t')" = "$(my_rows_before 12)"
# files purged while no follower ran: the next one reports the gap
my_sql -e "FLUSH BINARY LOGS; INSERT INTO shop.t (v, note) VALUES (0, 'lost'); FLUSH BINARY LOGS"
purge_closed
backupd --config "$conf" binlog-follow my 2>"$T/follow2.log" &
fpid=$!
for _ in $(seq 100); do grep -q "binlog-follow reading" "$T/follow2.log" && break; sleep 0.1; done
kill -TERM "$fpid"; wait "$fpid"
check "binlog-follow reports files purged before they were archived as a gap" grep -q "binlog gap source=my" "$T/follow2.log"
# a source whose first binlog-sync comes after the server purged the file its dump recorded
cat >>"$conf" <<CONF

[source late]
type = mariadb
binlog-archive = yes
socket = $MY_SOCK
user = $MY_USER
password-file = $MY_PASSFILE
databases = shop

[job late]
sources = late
CONF
# the server purges no file a replica connection still reads, and the connection of a stopped
# follower ends only when the server next sends it an event
for _ in $(seq 100); do
    [ "$(my_sql -N -e "SELECT COUNT(*) FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'")" = 0 ] && break
    my_sql -e "INSERT INTO shop.t (v, note) VALUES (0, 'wake')"
    sleep 0.2
done
ok "a dump of another source" backupd --config "$conf" run late
my_sql -e "FLUSH BINARY LOGS"
check "the server purged the file the dump recorded" purge_closed
fails "binlog-sync reports the dump's purged file as a gap" 1 "the newest dump (" backupd --config "$conf" binlog-sync late

# --- binlog-follow under backupd daemon: started, restarted after it dies, stopped ---
dconf="$T/daemon.conf"
# source my follows; the source late (sync) is no archiver; no job has a schedule
sed '0,/^binlog-seal-interval = 3s$/s//binlog-seal-interval = 3s\nbinlog-mode = follow/' "$conf" >"$dconf"
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '\n[daemon]\nruntime-dir = %s\n\n[metrics]\nlisten = 127.0.0.1:%s\n' "$T/drun" "$mport" >>"$dconf"
arch() {  # arch EXPR: EXPR of the archiver "binlog-follow my" in status --json
    backupd --config "$dconf" status --json >"$T/dst.json" 2>/dev/null &&
        python3 -c "import json,sys; a=[x for x in json.load(open(sys.argv[1]))['archivers'] if x['archiver']=='binlog-follow my']; print(($1) if a else 'none')" "$T/dst.json" "$1" 2>/dev/null
}
backupd --config "$dconf" daemon 2>"$T/daemon.log" &
dpid=$!
on_exit "kill $dpid"
for _ in $(seq 100); do [ "$(arch "a[0]['pid'] > 0")" = True ] && break; sleep 0.2; done
check "the daemon runs binlog-follow for the follow source only" test "$(arch "len(a), a[0]['pid'] > 0")" = "(1, True)"
check "...and status shows its lag from its start on" test "$(arch "isinstance(a[0]['lag_seconds'], int) and a[0]['lag_seconds'] >= 0")" = True
my_marker 21
for _ in $(seq 60); do [ "$(newest_event)" -ge "${at[21]}" ] && break; sleep 0.5; done
check "...which archives what the server writes" test "$(newest_event)" -ge "${at[21]}"
old=$(arch "a[0]['pid']")
kill -9 "$old"
for _ in $(seq 100); do [ "$(arch "a[0]['restarts'] >= 1 and a[0]['pid'] not in (0, $old)")" = True ] && break; sleep 0.2; done
check "a follower that dies is restarted, and status counts it" test "$(arch "a[0]['restarts'] >= 1 and a[0]['pid'] not in (0, $old)")" = True
my_marker 22
for _ in $(seq 60); do [ "$(newest_event)" -ge "${at[22]}" ] && break; sleep 0.5; done
check "...and the restarted one archives on" test "$(newest_event)" -ge "${at[22]}"
# a steady writer for 10 s: the archiver's lag (status, metrics) stays within the seal interval
# (3 s) plus the daemon's refresh of its state (2 s) and a few seconds
for i in $(seq 20); do my_sql shop -e "INSERT INTO t (v, note) VALUES ($((1000 + i)), 'lag')"; sleep 0.5; done
lag=$(arch "a[0]['lag_seconds']")
check "status --json: the archiver's lag under writes is small ($lag s)" test "$(arch "a[0]['lag_seconds'] is not None and 0 <= a[0]['lag_seconds'] <= 8 and a[0]['newest_event'] is not None and a[0]['sealed'] is not None")" = True
ok "status shows the archiver's lag" backupd --config "$dconf" status
check "...in its LAG column" grep -Eq "^binlog-follow my +running +[0-9]+ s " "$_out"
curl -s "http://127.0.0.1:$mport/metrics" >"$T/dm.txt"
check "metrics: coffer_daemon_archiver_lag_seconds of the follower, small" \
    python3 -c "import re,sys; m=re.search(r'^coffer_daemon_archiver_lag_seconds\{archiver=\"binlog-follow my\"\} (\d+)$', open(sys.argv[1]).read(), re.M); sys.exit(not (m and int(m.group(1)) <= 8))" "$T/dm.txt"
check "...and promtool check metrics accepts them" promtool check metrics <"$T/dm.txt"
kill -TERM "$dpid"
wait "$dpid"
check "the daemon exits 0 on SIGTERM" test $? -eq 0
# (the bracket keeps pgrep from matching this check's own command line)
check "...and its follower is gone with it" bash -c "! pgrep -f -- '[-]-config $dconf binlog-follow' >/dev/null"
check "...and the followers' temporary files (the killed one's too)" test -z "$(ls -A "$T/drun/archivers" 2>/dev/null)"
check "no binlog, option file or replay directory left in TMPDIR" test -z "$(ls -A "$TMPDIR")"
