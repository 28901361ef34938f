#!/usr/bin/env bash
# binlog_retention.sh - retention and status of the MariaDB binlog archive against a real
# MariaDB 10.11 (docs/PITR.md "Retention of binlogs"): three dumps D1, D2, D3 with binlog files
# archived between them, D1 pinned (kept by the backup rules, outside the window), keep-last 1.
# Without a window, prune keeps the binlogs from D3's recorded file on; with keep-pitr opening
# between D2 and D3 it keeps them from D2's file on (the window replays from D2) and deletes
# the older ones, D1's included (a dump restores as of its own time alone), saying which range
# it keeps for which reason. A restore --at inside the window works; one before it is refused
# naming why, before anything is loaded. catalog status shows the last archived event and its
# age against rpo (OK, then VIOLATED), and a binlog purged before it was archived as a gap.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

# binary logging is off in Debian's stock files: the binlog archive needs it, with a server id
# and row events (this test's replays compare rows)
MY_CONF_EXTRA='log-bin = binlog
server-id = 1
binlog_format = ROW' start_mariadb || exit 1
MY_DATABASES=shop db_conf "$T/c"
conf="$T/c/coffer.conf"
sed -i '/^type = mariadb$/a binlog-archive = yes' "$conf"
printf 'keep-last = 1\nrpo = 1h\n' >>"$conf"   # into [job my], the file's last section
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
repo="$T/c/repo"
rfc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
seq_of() { echo $((10#${1##*.})); }
# the binlog files archived, as sequence numbers
archived() { ls "$repo/logs/my/binlog" | sed 's/.*\.0*//' | sort -n | tr '\n' ' '; }
declare -A at   # my_marker's seconds
dump() {  # dump NAME: a backup; its id in ID[NAME], its recorded binlog file in FILE[NAME]
    ok "dump $1" backupd --config "$conf" run my
    ID[$1]=$(catalog --config "$conf" list --source my --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
    FILE[$1]=$(latest_info "$conf" my '[d for d in i["databases"] if d["name"]=="shop"][0]["binlog_file"]')
}
declare -A ID FILE

my_sql -e "CREATE DATABASE shop; CREATE TABLE shop.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40)) ENGINE=InnoDB; INSERT INTO shop.t (v, note) VALUES (0, 'first')"
my_sql -e "FLUSH BINARY LOGS"
dump D1
my_marker 1
my_sql -e "FLUSH BINARY LOGS"
ok "binlog-sync after D1" backupd --config "$conf" binlog-sync my
# D2 starts after the moment T1 below (marker 1's second + 1): a restore to T1 is D1's
while [ "$(date +%s)" -le $((at[1] + 1)) ]; do sleep 0.1; done
dump D2
d2_end=$(date +%s)
sleep 4
my_marker 2
my_sql -e "FLUSH BINARY LOGS"
my_marker 3
ok "binlog-sync after D2" backupd --config "$conf" binlog-sync my
d3_start=$(date +%s)
dump D3
my_marker 4
ok "binlog-sync after D3" backupd --config "$conf" binlog-sync my
ok "pin D1" catalog --config "$conf" pin "${ID[D1]}"
f1=$(seq_of "${FILE[D1]}") f2=$(seq_of "${FILE[D2]}") f3=$(seq_of "${FILE[D3]}")
check "the dumps recorded three files in order (${FILE[D1]}, ${FILE[D2]}, ${FILE[D3]})" test "$f1" -lt "$f2" -a "$f2" -lt "$f3"
before=$(archived)
check "binlogs before D1's file and between the dumps are archived ($before)" test "$(seq_of "$(ls "$repo/logs/my/binlog" | head -n 1)")" -lt "$f1"

# --- without a window: from the newest dump on ---
ok "prune --dry-run without keep-pitr" catalog --config "$conf" prune --dry-run
check "...keeps the binlogs from D3's file on, for a restore to the end of the archive" grep -q "^# my: logs keep ${FILE[D3]}\.\.binlog\.[0-9]* ([0-9]* files, .*): from the newest dump ${ID[D3]} on (restore to the end of the archive)" "$_out"
check "...deletes those before it, D1's too: a kept dump restores as of its own time alone" grep -q "^# my: logs DELETE binlog\.[0-9]*\.\.binlog\.0*$((f3 - 1)) (.*): no window needs them (a kept dump restores as of its own time without binlogs)" "$_out"
check "...and changes nothing" test "$(archived)" = "$before"

# --- keep-pitr opening between D2 and D3 (at least 4 s each way, for a slow prune) ---
pitr=$(($(date +%s) - d2_end - 1))
printf 'keep-pitr = %ss\n' "$pitr" >>"$conf"
ok "prune with keep-pitr ${pitr}s" catalog --config "$conf" prune
check "...keeps D1 (pinned), D2 (the window's dump) and D3 (keep-last)" test "$(backups my "$conf")" = 3
check "...D2 for the window" grep -Eq "^my +${ID[D2]} +keep +.*pitr" "$_out"
check "...keeps the binlogs from D2's file on, saying why" grep -q "^# my: logs keep ${FILE[D2]}\.\..*: keep-pitr ${pitr}s \[job my\]: the window from 20.*, replayed from dump ${ID[D2]}" "$_out"
check "...deletes every one before D2's file" grep -q "^# my: logs DELETE binlog\.[0-9]*\.\.binlog\.0*$((f2 - 1)) " "$_out"
left=$(archived)
check "exactly the files from D2's on are left ($left)" test "$left" = "$(for s in $before; do [ "$s" -ge "$f2" ] && printf '%s ' "$s"; done)"
ok "a second prune deletes nothing more" catalog --config "$conf" prune
check "...the same files" test "$(archived)" = "$left"
# a partial object binlog-follow left behind (killed between sealing the whole file and
# removing its partial): superseded, so deleted whatever the window says
cp "$repo/logs/my/binlog/${FILE[D3]}" "$repo/logs/my/binlog/${FILE[D3]}.partial-100"
ok "prune with a superseded partial object" catalog --config "$conf" prune
check "...deletes it, saying why" grep -q "^# my: logs DELETE ${FILE[D3]}\.partial-100\.\.${FILE[D3]}\.partial-100 (1 files, .*): superseded: a longer part or the whole of the binlog file is archived" "$_out"
check "...and only it" test ! -e "$repo/logs/my/binlog/${FILE[D3]}.partial-100" -a "$(archived)" = "$left"
ok "catalog logs: one range, no gap" catalog --config "$conf" logs my
check "...from D2's file" grep -Eq "^binlog +${FILE[D2]} +binlog\.[0-9]+ +[0-9]+$" "$_out"

# --- restores: inside the window, and before it ---
T3=$(rfc $((at[3])))
ok "restore --at a second inside the window (between markers 2 and 3)" restore --config "$conf" --source my --at "$T3" --database shop --into-db shop_w
check "...exactly the rows committed before it" test "$(my_sql -N -e 'SELECT COUNT(*), COALESCE(SUM(v),0) FROM shop_w.t')" = "$(my_rows_before 3)"
T1=$(rfc $((at[1] + 1)))
fails "restore --at a moment before the window is refused" 1 "no longer holds '${FILE[D1]}'" restore --config "$conf" --source my --at "$T1" --database shop --into-db shop_old
check "...saying retention keeps binlogs for the keep-pitr window" grep -q "catalog prune keeps binlogs only for the keep-pitr window" "$_err"
check "...before anything is loaded" test -z "$(my_sql -N -e "SHOW DATABASES LIKE 'shop_old'")"
fails "catalog at the same moment: NOT reachable, exit 1" 1 "" catalog --config "$conf" at "$T1" --source my
check "...the archive no longer holds D1's file" grep -q "binlog   shop: NOT reachable: the archive no longer holds '${FILE[D1]}'" "$_out"

# --- status: the last archived event, its age against rpo, gaps ---
ok "catalog status" catalog --config "$conf" status
check "...the last archived event and its age" grep -Eq "^  my archive: last binlog\.[0-9]+, last event 20[-0-9T:]+Z \([0-9]+s ago\), [0-9]+ files" "$_out"
check "...OK against rpo 1h" grep -Eq "^my +${ID[D3]} +[0-9]+s +1h 00m +OK " "$_out"
ok "catalog status --json" catalog --config "$conf" status --json
check "...last_event, and the age measured from it" python3 - "$_out" <<'PY'
import json, sys, calendar, time
s = [x for x in json.load(open(sys.argv[1]))["sources"] if x["source"] == "my"][0]
a = s["archive"]
ev = calendar.timegm(time.strptime(a["last_event"], "%Y-%m-%dT%H:%M:%SZ"))
sys.exit(0 if abs(time.time() - ev - a["age_seconds"]) <= 5 and s["rpo_state"] == "OK" else 1)
PY
sed 's/^rpo = 1h$/rpo = 2s/' "$conf" >"$T/rpo.conf"
sleep 3
fails "the last event older than rpo: VIOLATED, exit 1" 1 "" catalog --config "$T/rpo.conf" status
check "...in the source's row" grep -Eq "^my +${ID[D3]} +[0-9]+s +2s +VIOLATED " "$_out"
# a binlog purged before it was archived
my_sql -e "FLUSH BINARY LOGS; INSERT INTO shop.t (v, note) VALUES (0, 'lost'); FLUSH BINARY LOGS"
cur=$(my_sql -N -e "SHOW MASTER STATUS" | cut -f1)
for _ in $(seq 100); do
    my_sql -e "PURGE BINARY LOGS TO '$cur'"
    [ "$(my_sql -N -e "SHOW BINARY LOGS" | head -n 1 | cut -f1)" = "$cur" ] && break
    sleep 0.1
done
my_marker 5
fails "binlog-sync reports the purged files as a gap" 1 "binlog gap source=my" backupd --config "$conf" binlog-sync my
fails "catalog status: a gap after the newest dump, exit 1" 1 "" catalog --config "$conf" status
check "...named" grep -q "^  my archive: GAP on binlog: binlog\.[0-9]* missing" "$_out"
while [ "$(date +%s)" -le $((d3_start + pitr + 2)) ]; do sleep 0.5; done
ok "prune once the window has moved past D3" catalog --config "$conf" prune
check "...so it keeps the files from D3's on, the gap after it left as it is" test "$(archived | cut -d' ' -f1)" = "$f3"
fails "...and status still reports the gap" 1 "" catalog --config "$conf" status
check "...named" grep -q "^  my archive: GAP on binlog: binlog\.[0-9]* missing" "$_out"
check "no binlog or option file left in TMPDIR" test -z "$(ls -A "$TMPDIR")"
